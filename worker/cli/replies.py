"""Inbound mail and the review queue: inbox, review."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from worker.cli.common import out, print_json, print_timeline, runtime_of, user_errors
from worker.cli.root import main


@main.group()
def inbox() -> None:
    """Bring replies, bounces and auto-replies in."""


@inbox.command("ingest")
@click.argument("path", default="-")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def inbox_ingest(ctx: click.Context, path: str, as_json: bool) -> None:
    """Store and match inbound messages from an .eml file, a folder, a maildir, an mbox, stdin
    or an IMAP folder.

    Every message is stored raw before anything else; the same Message-ID twice is stored
    once; a message that matches no lead or cannot be parsed goes to the review queue. An IMAP
    folder is read from where the last run stopped, read-only (flags stay as they are).

    \b
    Examples:
      outreach inbox ingest replies/            # a folder of .eml files, or a maildir
      outreach inbox ingest archive.mbox
      outreach inbox ingest - < message.eml     # one message from an MTA pipe
      outreach inbox ingest "imaps://ada%40example.com:$PASS@imap.example.com/INBOX"
    """
    from worker.inbound.ingest import ingest as ingest_messages

    stdin = sys.stdin.buffer if path == "-" else None
    report = ingest_messages(runtime_of(ctx), path, stdin)
    if as_json:
        print_json(report.as_dict())
        return
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(report.statuses.items()))
    click.echo(
        f"{report.read} read: {report.stored} stored, {report.duplicates} already stored"
        + (f"; {statuses}" if statuses else "")
    )


@inbox.command("fetch")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def inbox_fetch(ctx: click.Context, as_json: bool) -> None:
    """Read every configured inbox, store what is new, then match it.

    The inboxes are $OUTREACH_INBOX_URL and, per mailbox in mailboxes.yaml, the variable its
    'inbox_env' names (an IMAP URL or a maildir/folder/mbox path). An inbox that fails is
    reported and the others are still read; exits 1 when any inbox failed.

    \b
    Examples:
      OUTREACH_INBOX_URL="imaps://ada%40example.com:$PASS@imap.example.com/INBOX" \\
        outreach inbox fetch
      outreach inbox fetch --json
    """

    from worker.errors import ConfigError
    from worker.inbound.ingest import fetch_inboxes

    report = fetch_inboxes(runtime_of(ctx))
    if not report.inboxes:
        raise ConfigError(
            "no inbox configured — set OUTREACH_INBOX_URL=imaps://user:password@host/INBOX, or "
            "'inbox_env: VARIABLE' on a mailbox in mailboxes.yaml."
        )
    if as_json:
        print_json(report.as_dict())
    else:
        table = Table("inbox", "url", "read", "stored", "duplicates", "error")
        for result in report.inboxes:
            table.add_row(
                escape(result.source.name),
                escape(result.source.shown),
                str(result.read),
                str(result.stored),
                str(result.duplicates),
                escape(result.error or ""),
            )
        out.print(table, soft_wrap=True)
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(report.statuses.items()))
        click.echo(f"processed: {statuses or 'nothing new'}")
    if report.errors:
        ctx.exit(1)


@main.group()
def review() -> None:
    """The flagged-lead queue: what the machine could not decide, for a rep."""


def _queue_filters(command: Callable[..., None]) -> Callable[..., None]:
    """The filters ``review list`` and ``review resolve --all`` share."""
    for option in reversed(
        (
            click.option("--reason", help="Only items with this reason (e.g. delivery_unknown)."),
            click.option("--stage", help="Only items of leads in this stage."),
            click.option("--mailbox", help="Only items of this sending mailbox."),
            click.option("--rep", help="Only items assigned to this rep ('unassigned': nobody)."),
        )
    ):
        command = option(command)
    return command


def _asked_filter(
    reason: str | None, stage: str | None, mailbox: str | None, rep: str | None
) -> Any:  # a QueueFilter (imported when a command runs, for start-up time)
    from worker.queries.review_queue import QueueFilter

    return QueueFilter.asked(reason, stage, mailbox, rep.strip().lower() if rep else None)


@review.command("list")
@click.option("--tasks", "tasks_only", is_flag=True, help="Only call and LinkedIn tasks.")
@_queue_filters
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def review_list(
    ctx: click.Context,
    tasks_only: bool,
    reason: str | None,
    stage: str | None,
    mailbox: str | None,
    rep: str | None,
    as_json: bool,
) -> None:
    """List open items, hot leads first, then the oldest.

    Call and LinkedIn tasks of manual steps are listed with their due time; --tasks lists
    only those, the earliest due first, with the task to do. The filters combine; an item's
    mailbox is its email's, else that of the lead's current enrollment.

    \b
    Examples:
      outreach review list --json
      outreach review list --tasks
      outreach review list --reason hot_lead --rep unassigned
      outreach review list --stage qualification --mailbox sales --rep rita
    """
    from worker.queries.labels import action_label, reason_label, stage_label
    from worker.queries.review_queue import list_open

    filters = _asked_filter(reason, stage, mailbox, rep)
    with runtime_of(ctx).sessions() as session:
        rows = list_open(session, tasks_only=tasks_only, filters=filters)
    if as_json:
        print_json(rows)
        return
    if tasks_only:
        tasks = Table("id", "lead", "task", "due (UTC)", "times out (UTC)", "to do")
        for row in rows:
            tasks.add_row(
                str(row["id"]),
                row["lead"] or "-",
                row["task"],
                _minutes(row["due_at"]),
                _minutes(row["expires_at"]) or "-",
                escape(row["detail"] or ""),
            )
        out.print(tasks)
        return
    table = Table(
        "id", "", "lead", "stage", "reason", "since (UTC)", "due (UTC)", "suggested", "rep"
    )
    for row in rows:
        table.add_row(
            str(row["id"]),
            "HOT" if row["hot"] else "",
            row["lead"] or "-",
            stage_label(row["stage"]) or "-",
            reason_label(row["reason"]),
            _minutes(row["created_at"]),
            _minutes(row["due_at"]),
            escape(action_label(row["suggested_action"])),
            escape(row["assignee"] or ""),
        )
    out.print(table)


def _minutes(value: str | None) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM`` (empty for None)."""
    return (value or "")[:16].replace("T", " ")


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
    from worker.queries.labels import action_label, intent_label, reason_label, stage_label
    from worker.queries.review_queue import show_item

    with runtime_of(ctx).sessions() as session:
        data = show_item(session, item_id)
    if as_json:
        print_json(data)
        return
    out.print(
        f"[bold]#{data['id']}[/] {escape(reason_label(data['reason']))}  "
        f"lead={escape(data['lead'] or '-')}  "
        f"stage={escape(stage_label(data['stage']) or '-')}  since={data['created_at']}"
    )
    if data["detail"]:
        out.print(f"  {data['detail']}", markup=False)
    if data["due_at"]:
        out.print(
            f"  due: {data['due_at']}"
            + (f"  times out: {data['expires_at']}" if data["expires_at"] else ""),
            markup=False,
        )
    if data["suggested_action"]:
        out.print(
            f"  suggested: {action_label(data['suggested_action'])} "
            f"(--action {data['suggested_action']})",
            markup=False,
        )
    message = data.get("message")
    if message:
        out.print(f"\nFrom: {message['from']}\nSubject: {message['subject']}", markup=False)
        if message["intent"]:
            extras = [
                f"{key}={message[key]}" for key in ("return_date", "referral_email") if message[key]
            ]
            out.print(
                f"Classified: {intent_label(message['intent'])} "
                f"({(message['confidence'] or 0):.0%}) " + " ".join(extras),
                markup=False,
            )
        out.print("")
        out.print(message["text"] or message["error"] or "(no text)", markup=False)
    record = data.get("lead_record")
    if record:
        if record["stage_history"]:
            out.print("\nStage history:", markup=False)
            for change in record["stage_history"]:
                out.print(
                    f"  {change['at']}  {change['from']} → {change['to']}  ({change['cause']})",
                    markup=False,
                )
        print_timeline(record["timeline"])


@review.command("resolve")
@click.argument("item_id", type=int, required=False)
@click.option(
    "--action",
    required=True,
    help=(
        "resume | stop | lost | won | unsubscribe | advance | enroll:SEQUENCE | "
        "reclassify:INTENT | sent | not-sent | done | skip (tasks) | "
        "add-referral (the referred address becomes a lead) | attach (with --lead) | "
        "create-lead | suppress-sender | dismiss (a message from an unknown sender) | "
        "suggested (with --all: each item's own suggestion)"
    ),
)
@click.option("--note", help="Why; kept with the resolution.")
@click.option(
    "--lead",
    "lead_email",
    metavar="EMAIL",
    help="With --action attach: the lead a message from an unknown sender belongs to.",
)
@click.option(
    "--all", "every", is_flag=True, help="Every open item matching the filters (--reason needed)."
)
@_queue_filters
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with --all).")
@click.pass_context
@user_errors
def review_resolve(
    ctx: click.Context,
    item_id: int | None,
    action: str,
    note: str | None,
    lead_email: str | None,
    every: bool,
    reason: str | None,
    stage: str | None,
    mailbox: str | None,
    rep: str | None,
    as_json: bool,
) -> None:
    """Resolve an item (or, with --all, every open item of a reason); the decision is
    recorded with time and note.

    \b
    Examples:
      outreach review resolve 3 --action advance --note "call booked for Tuesday"
      outreach review resolve 4 --action sent --note "found it in the sent folder"
      outreach review resolve 5 --action reclassify:ooo --note "auto-reply in Dutch"
      outreach review resolve 6 --action done --note "called, demo on Friday"
      outreach review resolve 7 --action add-referral
      outreach review resolve 8 --action attach --lead ada@example.com
      outreach review resolve 9 --action create-lead
      outreach review resolve --all --reason delivery_unknown --action suggested
      outreach review resolve --all --reason delivery_unknown --mailbox sales --action not-sent
    """
    if every == (item_id is not None):
        raise click.UsageError("Give one ITEM_ID, or --all with --reason (not both).")
    if every:
        _resolve_all(ctx, action, note, reason, stage, mailbox, rep, as_json)
        return
    from worker.review.resolutions import resolve_now

    assert item_id is not None
    if lead_email and action != "attach":
        raise click.UsageError("--lead goes with --action attach.")
    runtime = runtime_of(ctx)
    result = resolve_now(runtime, item_id, action, note=note, lead_email=lead_email)
    window = runtime.settings.undo_window_s
    click.echo(
        f"resolved #{result.item_id} ({result.action})"
        + (f" for {result.lead_email}" if result.lead_email else "")
        + (f" (undo within {window} s: outreach review undo {result.item_id})" if window else "")
    )


@review.command("undo")
@click.argument("item_id", type=int)
@click.pass_context
@user_errors
def review_undo(ctx: click.Context, item_id: int) -> None:
    """Undo a resolution made in the last few minutes (OUTREACH_UNDO_WINDOW_S, 120 s by
    default): the item is open again and the lead as it was before — status, stage,
    qualification, enrollments, suppressions the resolution added.

    Refused once the window has passed, when an email went out to the lead since (mail cannot
    be unsent) or when the lead changed since.

    \b
    Example:
      outreach review undo 3
    """
    from worker.queries.labels import action_label
    from worker.review.undo import undo_now

    undone = undo_now(runtime_of(ctx), item_id)
    click.echo(
        f"undone #{undone.item_id} ({action_label(undone.action)})"
        + (f" for {undone.lead_email}" if undone.lead_email else "")
        + ": the item is open again"
    )


def _resolve_all(
    ctx: click.Context,
    action: str,
    note: str | None,
    reason: str | None,
    stage: str | None,
    mailbox: str | None,
    rep: str | None,
    as_json: bool,
) -> None:
    from worker.queries.review_queue import list_open
    from worker.review.bulk import resolve_many

    if not reason:
        raise click.UsageError(
            "--all needs --reason (e.g. --reason delivery_unknown), so one command never "
            "closes items of different kinds."
        )
    filters = _asked_filter(reason, stage, mailbox, rep)
    runtime = runtime_of(ctx)
    with runtime.sessions() as session:
        rows = list_open(session, filters=filters)
    done = resolve_many(runtime, rows, action, note=note)
    if as_json:
        print_json(done.as_dict())
        return
    for item_id, chosen in done.resolved.items():
        click.echo(f"resolved #{item_id} ({chosen})")
    for item_id, why in done.left.items():
        click.echo(f"left #{item_id} open: {why}")
    click.echo(f"{len(done.resolved)} resolved, {len(done.left)} left open")


@review.command("check-sent")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def review_check_sent(ctx: click.Context, as_json: bool) -> None:
    """Look up every "delivery unknown" touch in its mailbox's IMAP Sent folder.

    Found: resolved as sent, with the evidence in the note. Not found: the item suggests
    not-sent (confirm with 'review resolve --all --reason delivery_unknown --action
    suggested'). 'outreach run' and the scheduler do this after each inbox read.
    """
    from worker.review.evidence import check_sent_folders

    result = check_sent_folders(runtime_of(ctx))
    if as_json:
        print_json(result.as_dict())
        return
    click.echo(
        f"{result.searched} searched: {len(result.settled_sent)} found in a Sent folder "
        f"(resolved as sent), {len(result.suggested_not_sent)} not found (suggest not-sent)"
    )
    for mailbox, why in result.not_searched.items():
        click.echo(f"not searched: {mailbox}: {why}")


@review.command("assign")
@click.argument("item_id", type=int)
@click.argument("rep", required=False)
@click.option("--unassign", is_flag=True, help="Give the item back to nobody.")
@click.pass_context
@user_errors
def review_assign(ctx: click.Context, item_id: int, rep: str | None, unassign: bool) -> None:
    """Assign an open item to a rep (an account of 'outreach reps list'), or --unassign it.

    \b
    Examples:
      outreach review assign 3 rita
      outreach review assign 3 --unassign
    """
    from worker.errors import OutreachError
    from worker.review.assignment import assign

    if (rep is None) == (not unassign):
        raise OutreachError("Name a rep (outreach review assign ID REP) or use --unassign.")
    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        done = assign(session, item_id, None if unassign else rep, at=runtime.clock.now())
    if done.assignee is None:
        click.echo(
            f"#{done.item_id} unassigned" + (f" (was {done.previous})" if done.previous else "")
        )
    else:
        click.echo(f"#{done.item_id} assigned to {done.assignee}")
