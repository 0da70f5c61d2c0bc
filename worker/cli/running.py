"""Running commands: run, scheduler, worker, check, db, demo."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import click
from rich.table import Table

from worker.cli.common import err, out, print_json, runtime_of, settings_of, user_errors
from worker.cli.root import main


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
    """Run one batch (for cron): read the inboxes, schedule what is due, send it, summarise.

    The configured inboxes ($OUTREACH_INBOX_URL, and each mailbox's 'inbox_env') are read
    first, so a reply stops touches that would go out in this batch; an inbox that cannot be
    read is a warning and does not stop sending.

    Exits 0 when the batch ran, even if some touches failed; 1 only when it could not run.

    \b
    Examples:
      outreach run
      REDIS_URL=redis://127.0.0.1:6379/0 outreach run --wait --json
    """
    from worker.processes.batch import run_batch

    runtime = runtime_of(ctx)
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
    from worker.processes.integrations import drain_embedded

    ctx.call_on_close(lambda: drain_embedded(runtime))  # webhooks, after the summary is out
    if as_json:
        print_json(summary.as_dict())
        return
    for problem in summary.problems:
        click.echo(f"problem: {problem}", err=True)
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)
    if summary.inbox:
        inbox = summary.inbox
        click.echo(
            f"inbox: {inbox['read']} read, {inbox['stored']} stored, "
            f"{inbox['duplicates']} already stored"
        )
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
    if summary.tick.tasks_opened or summary.tick.tasks_closed:
        click.echo(
            f"tasks for reps: {len(summary.tick.tasks_opened)} opened, "
            f"{len(summary.tick.tasks_closed)} closed (timed out or no longer due) — "
            "'outreach review list --tasks'"
        )
    if not summary.waited:
        click.echo(f"{summary.enqueued} touch(es) enqueued for the workers")
    if summary.raw_mail_cleared:
        click.echo(
            f"raw mail of {summary.raw_mail_cleared} message(s) processed more than "
            f"{runtime.settings.raw_mail_retention_days} days ago cleared "
            "(OUTREACH_RAW_MAIL_RETENTION_DAYS)"
        )
    if summary.unknown_open:
        click.echo(
            f"{summary.unknown_open} touch(es) in 'delivery unknown' — see them with "
            "'outreach review list --reason delivery_unknown'; settle them with 'outreach "
            "review resolve --all --reason delivery_unknown --action sent|not-sent|suggested'",
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
    from worker.processes.scheduler import run_scheduler

    runtime = runtime_of(ctx)
    runtime.engine  # migrate before the loop starts  # noqa: B018
    with contextlib.suppress(KeyboardInterrupt):
        run_scheduler(runtime, every)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--processes", default=2, show_default=True)
@click.option("--threads", default=4, show_default=True)
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def worker(ctx: click.Context, processes: int, threads: int, extra: tuple[str, ...]) -> None:
    """Run dramatiq workers for the send actors (needs REDIS_URL).

    \b
    Example:
      REDIS_URL=redis://127.0.0.1:6379/0 outreach worker --processes 2
    """
    if not settings_of(ctx).redis_url:
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
    from worker.operations.process_metrics import worker_env

    os.environ.update(worker_env(dict(os.environ)))  # the metrics exporter, when asked for
    os.execv(sys.executable, args)  # noqa: S606 (replace this process with dramatiq)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def check(ctx: click.Context, as_json: bool) -> None:
    """Check that the database, broker, sequences, mailboxes and SMTP servers are reachable.

    Exits 1 when any part fails (for deploy scripts and health checks). Warnings ("warn")
    name what works today and will hurt: a sending mailbox without an inbox or a daily limit,
    the default or a plain-http OUTREACH_PUBLIC_URL, no OUTREACH_SECRET_KEY.

    \b
    Example:
      OUTREACH_TRANSPORT_URL=smtp+starttls://ada:secret@mail.example.com:587 outreach check
    """
    from worker.processes.health import run_checks

    results = run_checks(settings_of(ctx))
    if as_json:
        print_json(
            [
                {"part": r.part, "ok": r.ok, "warning": r.warning, "detail": r.detail}
                for r in results
            ]
        )
    else:
        for result in results:
            label = "FAIL" if not result.ok else "warn" if result.warning else "ok  "
            click.echo(f"{label}  {result.part:<20} {result.detail}")
    if not all(result.ok for result in results):
        ctx.exit(1)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("current")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def db_current(ctx: click.Context, as_json: bool) -> None:
    """Print the database's schema revision and whether migrations are pending (exit 1 when
    they are). Changes nothing.

    \b
    Example:
      outreach db current
    """
    from worker.store.db import make_engine, revisions

    engine = make_engine(settings_of(ctx).database_url)
    try:
        current, every = revisions(engine)
    finally:
        engine.dispose()
    pending = [r.revision for r in every if not r.applied]
    if as_json:
        print_json({"current": current, "head": every[-1].revision, "pending": pending})
    elif pending:
        click.echo(
            f"{current or 'empty database'}: {len(pending)} migration(s) pending "
            f"({', '.join(pending)}) — run 'outreach db upgrade'"
        )
    else:
        click.echo(f"{current} (the newest)")
    if pending:
        ctx.exit(1)


@db.command("history")
@click.pass_context
@user_errors
def db_history(ctx: click.Context) -> None:
    """List every schema migration, oldest first, and which this database has."""
    from worker.store.db import make_engine, revisions

    engine = make_engine(settings_of(ctx).database_url)
    try:
        _, every = revisions(engine)
    finally:
        engine.dispose()
    for revision in every:
        mark = "applied" if revision.applied else "pending"
        click.echo(f"{revision.revision}  {mark:8} {revision.description}")


@db.command("upgrade")
@click.pass_context
@user_errors
def db_upgrade(ctx: click.Context) -> None:
    """Apply pending schema migrations, once, under a lock (PostgreSQL advisory lock; a lock
    file beside a SQLite database): processes that start meanwhile wait, then find the schema
    current. Every command also does this on start."""
    from worker.store.db import make_engine, migrate

    engine = make_engine(settings_of(ctx).database_url)
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
    day; every email lands as an .eml file in the demo outbox. Simulated prospects answer
    (yes, no, unsubscribe, out-of-office, questions, referrals, bounces) into the demo's
    maildir, which each batch reads through the real ingestion path.

    \b
    Example:
      outreach demo --weeks 4
    """
    from worker.rehearsal.demo import DemoDay, run_demo

    settings = settings_of(ctx)
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
        out.print(
            f"{day.when:%a %Y-%m-%d %H:%M}  {'; '.join(parts)}" + (f"  ({per})" if per else "")
        )

    out.print(
        f"[bold]Demo:[/] sample leads from {settings.sample_leads_file.name}, "
        f"{weeks} simulated weeks, a batch every 3 hours\n"
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
    if result.replies:
        replies = ", ".join(f"{n} {intent}" for intent, n in sorted(result.replies.items()))
        out.print(
            f"Replies read from {result.inbox}/: {replies}; {result.resumed} sequence(s) resumed "
            f"after out-of-office, {result.suppressed} address(es) suppressed, "
            f"{result.review_open} item(s) waiting in the review queue"
        )
    if result.colleagues_paused:
        out.print(
            f"Company-wide: {result.colleagues_paused} colleague sequence(s) paused when a "
            "contact at the same company answered (on_company_reply)"
        )
    if result.tasks:
        tasks = ", ".join(f"{n} {status}" for status, n in sorted(result.tasks.items()))
        out.print(f"Call and LinkedIn tasks for reps: {tasks}")
    if result.acceptance is not None:
        for line in result.acceptance.lines():
            out.print(line)
    out.print(f"Emails: {result.outbox}/ ({len(list(result.outbox.glob('*.eml')))} .eml files)")
    command = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "outreach"
    command = ".venv/bin/outreach" if (settings.home / ".venv/bin/outreach").exists() else command
    out.print(
        f"Inspect: DATABASE_URL={result.database_url} {command} leads show ada@northwind.test",
        soft_wrap=True,
    )
    out.print(f"         DATABASE_URL={result.database_url} {command} review list", soft_wrap=True)
    out.print(
        f"Web app: DATABASE_URL={result.database_url} {command} reps add NAME, then "
        f"DATABASE_URL={result.database_url} {command} web",
        soft_wrap=True,
    )
