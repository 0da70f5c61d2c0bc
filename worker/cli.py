"""The ``outreach`` command line: parse, call a service, print (tables or --json)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from redis.exceptions import RedisError
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from . import __version__
from .errors import OutreachError
from .settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
out = Console()
err = Console(stderr=True)


def _settings(ctx: click.Context) -> Settings:
    return ctx.ensure_object(dict)["settings"]  # type: ignore[no-any-return]


def _runtime(ctx: click.Context) -> Any:
    from .runtime import Runtime, set_runtime

    obj = ctx.ensure_object(dict)
    if "runtime" not in obj:
        obj["runtime"] = Runtime.from_settings(_settings(ctx))
        set_runtime(obj["runtime"])
        ctx.call_on_close(obj["runtime"].close)
    return obj["runtime"]


def user_errors(func: F) -> F:
    """Turn OutreachError into one clear line and exit status 1 (no traceback)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OutreachError as exc:
            raise click.ClickException(str(exc)) from None
        except SQLAlchemyError as exc:
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise click.ClickException(
                f"database error: {detail} — check DATABASE_URL and that the database is running."
            ) from None
        except RedisError as exc:
            raise click.ClickException(
                f"Redis error: {exc} — check REDIS_URL and that Redis is running."
            ) from None

    return wrapper  # type: ignore[return-value]


def _json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="outreach")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="OUTREACH_HOME",
    help="Project folder with sequences/, templates/ and mailboxes.yaml (default: current).",
)
@click.pass_context
def main(ctx: click.Context, verbose: int, home: Path | None) -> None:
    """Outreach automation worker: multi-touch email sequences, sent exactly once.

    \b
    Examples:
      outreach validate
      outreach leads import examples/leads.csv
      outreach run
      outreach demo
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        ctx.ensure_object(dict)["settings"] = Settings.from_env(home=home)
    except OutreachError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.pass_context
@user_errors
def validate(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Check sequences and templates; print every problem as path:line: message.

    \b
    Examples:
      outreach validate
      outreach validate sequences/prospecting.yaml
    """
    from .validation import validate as run_validation

    problems = run_validation(_settings(ctx), list(paths) or None)
    errors = [p for p in problems if p.severity == "error"]
    for problem in problems:
        click.echo(str(problem), err=problem.severity == "error")
    if errors:
        click.echo(f"{len(errors)} error(s) — nothing is sent from an invalid sequence.", err=True)
        ctx.exit(1)
    warnings = len(problems) - len(errors)
    click.echo(f"ok: sequences and templates are valid ({warnings} warning(s))")


@main.group()
def sequences() -> None:
    """Inspect sequences."""


@sequences.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def sequences_list(ctx: click.Context, as_json: bool) -> None:
    """List valid sequences with their stage and number of steps.

    \b
    Example:
      outreach sequences list --json
    """
    from .authoring.sequences import load_catalog

    settings = _settings(ctx)
    catalog, problems = load_catalog(settings.sequences_dir, settings.home)
    rows = [
        {
            "name": name,
            "stage": catalog.get(name).stage,
            "steps": len(catalog.get(name).steps),
            "mailbox": catalog.get(name).mailbox,
        }
        for name in catalog.names()
    ]
    if as_json:
        _json(rows)
        return
    table = Table("name", "stage", "steps", "mailbox")
    for row in rows:
        table.add_row(str(row["name"]), str(row["stage"]), str(row["steps"]), str(row["mailbox"]))
    out.print(table)
    if any(p.severity == "error" for p in problems):
        err.print("[yellow]some sequence files are invalid — run 'outreach validate'[/]")


@main.command()
@click.argument("sequence")
@click.option("--lead", "email", required=True, help="The lead's email (database or sample file).")
@click.option(
    "--step", default=1, show_default=True, type=click.IntRange(min=1), help="Step number."
)
@click.option("--html", is_flag=True, help="Print the whole MIME message including the HTML part.")
@click.pass_context
@user_errors
def preview(ctx: click.Context, sequence: str, email: str, step: int, html: bool) -> None:
    """Print a touch exactly as it would be sent: headers and text.

    \b
    Examples:
      outreach preview prospecting --lead ada@northwind.test
      outreach preview prospecting --lead ada@northwind.test --step 2
    """
    from .preview import preview_touch

    built = preview_touch(_runtime(ctx), sequence, email, step)
    message = built.message
    if html:
        click.echo(message.as_string())
        return
    for header in (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "In-Reply-To",
        "References",
        "List-Unsubscribe",
    ):
        if message[header]:
            click.echo(f"{header}: {message[header]}")
    body = message.get_body(preferencelist=("plain",))
    click.echo("")
    click.echo(body.get_content() if body is not None else "")
    if message.get_body(preferencelist=("html",)) is not None:
        click.echo("[+ HTML part: use --html to see the full MIME message]")


@main.group()
def leads() -> None:
    """Import and inspect leads."""


@leads.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sequence", help="Enroll into this sequence (default: the sequence of each lead's stage)."
)
@click.option("--no-enroll", is_flag=True, help="Only create or update the leads.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def leads_import(
    ctx: click.Context, file: Path, sequence: str | None, no_enroll: bool, as_json: bool
) -> None:
    """Upsert leads from CSV by normalised email and enroll them; bad rows are reported and skipped.

    \b
    Examples:
      outreach leads import examples/leads.csv
      outreach leads import new.csv --sequence prospecting
    """
    from .leads import import_leads

    runtime = _runtime(ctx)
    report = import_leads(
        runtime.sessions,
        file,
        runtime.clock,
        runtime.catalog,
        sequence=sequence,
        enroll=not no_enroll,
    )
    for error in report.errors:
        click.echo(str(error), err=True)
    if as_json:
        _json(report.as_dict())
        return
    skipped = ", ".join(f"{n} {why}" for why, n in report.enrollment.skipped.items()) or "none"
    click.echo(
        f"{report.rows} rows: {report.created} created, {report.updated} updated, "
        f"{len(report.errors)} skipped as invalid; {report.enrollment.enrolled} enrolled "
        f"(not enrolled: {skipped})"
    )


@leads.command("list")
@click.option("--stage", help="Only this stage.")
@click.option("--status", help="Only this status.")
@click.option("--limit", type=int, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def leads_list(
    ctx: click.Context, stage: str | None, status: str | None, limit: int | None, as_json: bool
) -> None:
    """List leads with stage, status, sequence, step and next due time (UTC).

    \b
    Examples:
      outreach leads list
      outreach leads list --stage prospecting --json
    """
    from .lead_views import list_leads

    with _runtime(ctx).sessions() as session:
        rows = list_leads(session, stage=stage, status=status, limit=limit)
    if as_json:
        _json(rows)
        return
    table = Table("email", "stage", "status", "sequence", "step", "next due (UTC)")
    for row in rows:
        table.add_row(
            row["email"],
            row["stage"],
            row["status"],
            row["sequence"] or "-",
            str(row["step"] or "-"),
            row["next_due_at"] or "-",
        )
    out.print(table)


@leads.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def leads_show(ctx: click.Context, email: str, as_json: bool) -> None:
    """Show one lead: fields, touches and the timeline of events.

    \b
    Example:
      outreach leads show ada@northwind.test
    """
    from .lead_views import show_lead

    with _runtime(ctx).sessions() as session:
        data = show_lead(session, email)
    if as_json:
        _json(data)
        return
    out.print(
        f"[bold]{data['email']}[/]  stage={data['stage']}  status={data['status']}  "
        f"sequence={data['sequence'] or '-'} step={data['step'] or '-'}  "
        f"next due={data['next_due_at'] or '-'}"
    )
    for key, value in sorted(data["fields"].items()):
        out.print(f"  {key}: {value}")
    unknown = [t for t in data["touches"] if t["delivery_unknown"]]
    for touch in unknown:
        out.print(
            f"[red]touch {touch['id']} (step {touch['step']}): delivery unknown — "
            f"{touch['error']}[/]"
        )
    table = Table("at (UTC)", "event", "sequence", "step", "cause")
    for event in data["timeline"]:
        table.add_row(
            event["at"],
            event["kind"],
            event["sequence"] or "",
            str(event["step"] or ""),
            event["cause"] or "",
        )
    out.print(table)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--wait/--no-wait",
    default=False,
    help="With Redis: wait until the workers sent everything (embedded always waits).",
)
@click.option("--timeout", default=3600, show_default=True, help="Seconds to wait with --wait.")
@click.pass_context
@user_errors
def run(ctx: click.Context, as_json: bool, wait: bool, timeout: int) -> None:
    """Run one batch (for cron): schedule what is due, send it, print a summary.

    Exits 0 when the batch ran, even if some touches failed; 1 only when it could not run.

    \b
    Examples:
      outreach run
      REDIS_URL=redis://127.0.0.1:6379/0 outreach run --wait --json
    """
    from .runner import run_batch

    runtime = _runtime(ctx)
    show_bar = not as_json and sys.stderr.isatty()
    progress_cb = None
    bar = None
    if show_bar:
        from rich.progress import Progress

        bar = Progress(console=err, transient=True)
        task = bar.add_task("sending", total=None)
        bar.start()

        def progress_cb(done: int, total: int) -> None:
            if total >= 50:
                bar.update(task, completed=done, total=total)

    try:
        summary = run_batch(runtime, wait=wait, wait_timeout_s=timeout, progress=progress_cb)
    finally:
        if bar is not None:
            bar.stop()
    if as_json:
        _json(summary.as_dict())
        return
    for problem in summary.problems:
        click.echo(f"problem: {problem}", err=True)
    if not summary.per_sequence:
        click.echo(f"nothing due ({summary.tick.completed} sequence(s) completed)")
    else:
        table = Table("sequence", "sent", "skipped", "failed", "deferred", "unknown", "pending")
        for name, counts in sorted(summary.per_sequence.items()):
            table.add_row(
                name,
                *(
                    str(counts.get(k, 0))
                    for k in ("sent", "skipped", "failed", "deferred", "unknown", "pending")
                ),
            )
        out.print(table)
    if not summary.waited:
        click.echo(f"{summary.enqueued} touch(es) enqueued for the workers")
    if summary.unknown_open:
        click.echo(
            f"{summary.unknown_open} touch(es) in 'delivery unknown' — check them with "
            "'outreach leads list --status needs_review'",
            err=True,
        )


@main.command()
@click.option("--every", default=60, show_default=True, help="Seconds between ticks.")
@click.pass_context
@user_errors
def scheduler(ctx: click.Context, every: int) -> None:
    """Run the scheduler: every minute, enqueue what is due (workers send it).

    \b
    Example:
      REDIS_URL=redis://127.0.0.1:6379/0 outreach scheduler
    """
    from .scheduler import run_scheduler

    runtime = _runtime(ctx)
    runtime.engine  # migrate before the loop starts  # noqa: B018
    with contextlib.suppress(KeyboardInterrupt):
        run_scheduler(runtime, every)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--processes", default=2, show_default=True)
@click.option("--threads", default=4, show_default=True)
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
def worker(processes: int, threads: int, extra: tuple[str, ...]) -> None:
    """Run dramatiq workers for the send actors (needs REDIS_URL).

    \b
    Example:
      REDIS_URL=redis://127.0.0.1:6379/0 outreach worker --processes 2
    """
    if not os.environ.get("REDIS_URL"):
        raise click.ClickException(
            "REDIS_URL is not set — workers need Redis; without it use 'outreach run' (embedded)."
        )
    args = [
        sys.executable,
        "-m",
        "dramatiq",
        "worker.actors",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        *extra,
    ]
    os.execv(sys.executable, args)  # noqa: S606 (replace this process with dramatiq)


@main.group()
def inbox() -> None:
    """Bring replies, bounces and auto-replies in."""


@inbox.command("ingest")
@click.argument("path", default="-")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def inbox_ingest(ctx: click.Context, path: str, as_json: bool) -> None:
    """Store and match inbound messages from an .eml file, a folder, a maildir, an mbox or stdin.

    Every message is stored raw before anything else; the same Message-ID twice is stored
    once; a message that matches no lead or cannot be parsed goes to the review queue.

    \b
    Examples:
      outreach inbox ingest replies/            # a folder of .eml files, or a maildir
      outreach inbox ingest archive.mbox
      outreach inbox ingest - < message.eml     # one message from an MTA pipe
    """
    from .ingest import ingest as ingest_messages

    stdin = sys.stdin.buffer if path == "-" else None
    report = ingest_messages(_runtime(ctx), path, stdin)
    if as_json:
        _json(report.as_dict())
        return
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(report.statuses.items()))
    click.echo(
        f"{report.read} read: {report.stored} stored, {report.duplicates} already stored"
        + (f"; {statuses}" if statuses else "")
    )


@main.group()
def review() -> None:
    """The flagged-lead queue: what the machine could not decide, for a rep."""


@review.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def review_list(ctx: click.Context, as_json: bool) -> None:
    """List open items, hot leads first, then the oldest.

    \b
    Example:
      outreach review list --json
    """
    from .review_views import list_open

    with _runtime(ctx).sessions() as session:
        rows = list_open(session)
    if as_json:
        _json(rows)
        return
    table = Table("id", "lead", "stage", "reason", "since (UTC)", "detail")
    for row in rows:
        detail = (row["detail"] or "")[:60]
        table.add_row(
            str(row["id"]),
            row["lead"] or "-",
            row["stage"] or "-",
            row["reason"],
            row["created_at"],
            detail,
        )
    out.print(table)


@review.command("show")
@click.argument("item_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def review_show(ctx: click.Context, item_id: int, as_json: bool) -> None:
    """Show one item: the lead, its timeline, and the message it is about.

    \b
    Example:
      outreach review show 3
    """
    from .review_views import show_item

    with _runtime(ctx).sessions() as session:
        data = show_item(session, item_id)
    if as_json:
        _json(data)
        return
    out.print(
        f"[bold]#{data['id']}[/] {data['reason']}  lead={data['lead'] or '-'}  "
        f"stage={data['stage'] or '-'}  since={data['created_at']}"
    )
    if data["detail"]:
        out.print(f"  {data['detail']}")
    message = data.get("message")
    if message:
        out.print(f"\nFrom: {message['from']}\nSubject: {message['subject']}\n")
        out.print(message["text"] or "(no text)", markup=False)
    record = data.get("lead_record")
    if record:
        table = Table("at (UTC)", "event", "sequence", "step", "cause")
        for event in record["timeline"]:
            table.add_row(
                event["at"],
                event["kind"],
                event["sequence"] or "",
                str(event["step"] or ""),
                event["cause"] or "",
            )
        out.print(table)


@review.command("resolve")
@click.argument("item_id", type=int)
@click.option(
    "--action",
    required=True,
    help="resume | stop | lost | won | unsubscribe | advance | enroll:SEQUENCE | sent | not-sent",
)
@click.option("--note", help="Why; kept with the resolution.")
@click.pass_context
@user_errors
def review_resolve(ctx: click.Context, item_id: int, action: str, note: str | None) -> None:
    """Resolve an item; the decision is recorded with time and note.

    \b
    Examples:
      outreach review resolve 3 --action advance --note "call booked for Tuesday"
      outreach review resolve 4 --action sent --note "found it in the sent folder"
    """
    from .resolutions import resolve

    runtime = _runtime(ctx)
    with runtime.sessions.begin() as session:
        result = resolve(
            session, runtime.catalog, item_id, action, at=runtime.clock.now(), note=note
        )
    click.echo(
        f"resolved #{result.item_id} ({result.action})"
        + (f" for {result.lead_email}" if result.lead_email else "")
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def check(ctx: click.Context, as_json: bool) -> None:
    """Check that the database, broker, sequences, mailboxes and SMTP servers are reachable.

    Exits 1 when any part fails (for deploy scripts and health checks).

    \b
    Example:
      OUTREACH_TRANSPORT_URL=smtp+starttls://ada:secret@mail.example.com:587 outreach check
    """
    from .health import run_checks

    results = run_checks(_settings(ctx))
    if as_json:
        _json([{"part": r.part, "ok": r.ok, "detail": r.detail} for r in results])
    else:
        for result in results:
            click.echo(f"{'ok  ' if result.ok else 'FAIL'}  {result.part:<20} {result.detail}")
    if not all(result.ok for result in results):
        ctx.exit(1)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_context
@user_errors
def db_upgrade(ctx: click.Context) -> None:
    """Apply schema migrations (commands also do this automatically)."""
    from .db import make_engine, migrate

    engine = make_engine(_settings(ctx).database_url)
    migrate(engine)
    engine.dispose()
    click.echo("database schema is up to date")


@main.command()
@click.option("--weeks", default=8, show_default=True, help="Simulated weeks.")
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the demo database and outbox go (default: ./demo).",
)
@click.pass_context
@user_errors
def demo(ctx: click.Context, weeks: int, folder: Path | None) -> None:
    """Run the whole flow on the embedded default with simulated time.

    Imports examples/leads.csv into a fresh demo database, then runs one batch per simulated
    day; every email lands as an .eml file in the demo outbox.

    \b
    Example:
      outreach demo --weeks 4
    """
    from .demo import DemoDay, run_demo

    settings = _settings(ctx)
    target = folder or settings.home / "demo"

    def on_day(day: DemoDay) -> None:
        totals = day.summary.totals()
        if not totals and not day.summary.tick.completed:
            return
        parts = [f"{n} {k}" for k, n in sorted(totals.items())]
        if day.summary.tick.completed:
            parts.append(f"{day.summary.tick.completed} sequence(s) completed")
        per = ", ".join(
            f"{name} {c.get('sent', 0)}" for name, c in sorted(day.summary.per_sequence.items())
        )
        out.print(f"{day.when:%a %Y-%m-%d}  {'; '.join(parts)}" + (f"  ({per})" if per else ""))

    out.print(
        f"[bold]Demo:[/] sample leads from {settings.sample_leads_file.name}, "
        f"{weeks} simulated weeks, one batch a day at 09:00 UTC\n"
    )
    result = run_demo(settings, folder=target, weeks=weeks, on_day=on_day)
    out.print(
        f"\nimported {result.imported.created} leads, "
        f"enrolled {result.imported.enrollment.enrolled}; "
        f"[bold]{result.sent}[/] emails sent"
    )
    table = Table("stage", "leads")
    for stage, count in sorted(result.stages.items()):
        table.add_row(stage, str(count))
    out.print(table)
    out.print(f"Emails: {result.outbox}/ ({len(list(result.outbox.glob('*.eml')))} .eml files)")
    command = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "outreach"
    command = ".venv/bin/outreach" if (settings.home / ".venv/bin/outreach").exists() else command
    out.print(
        f"Inspect: DATABASE_URL={result.database_url} {command} leads show ada@northwind.test",
        soft_wrap=True,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
