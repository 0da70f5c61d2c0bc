"""Mailbox commands: today's usage, limits, pools and pauses; pause and resume a mailbox."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from worker.cli.common import acting_user, out, print_json, runtime_of, user_errors
from worker.cli.root import main


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def mailboxes(ctx: click.Context, as_json: bool) -> None:
    """Sending mailboxes: sent today / daily limit, last send, spacing, pools, owner rule,
    pauses.

    Days are UTC days. A paused mailbox sends nothing until it is resumed; its touches wait
    in the queue. A mailbox is paused automatically when its sends fail or bounce too often
    (see the README), with an item in the review queue.

    \b
    Examples:
      outreach mailboxes
      outreach mailboxes --json
      outreach mailboxes pause sales --reason "provider warning"
      outreach mailboxes resume sales
    """
    if ctx.invoked_subcommand is None:
        _show(ctx, as_json)


@mailboxes.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def mailboxes_list(ctx: click.Context, as_json: bool) -> None:
    """The same as 'outreach mailboxes'.

    \b
    Examples:
      outreach mailboxes list --json
    """
    _show(ctx, as_json)


def _show(ctx: click.Context, as_json: bool) -> None:
    from worker.queries.mailboxes import mailbox_rows, owner_rule

    rows = mailbox_rows(runtime_of(ctx))
    if as_json:
        print_json(rows)
    else:
        table = Table(
            "mailbox",
            "address",
            "sent today",
            "last send (UTC)",
            "spacing",
            "pools",
            "owner rule",
            "state",
        )
        for row in rows:
            table.add_row(
                row["name"],
                row["address"],
                f"{row['sent_today']} / {row['daily_limit'] or 'no limit'}",
                row["last_sent_at"] or "",
                f"{row['min_spacing_s']} s" if row["min_spacing_s"] else "",
                ", ".join(row["pools"]),
                escape(owner_rule(row)),
                escape(_state(row)),
            )
        out.print(table)
    for row in rows:
        if row["transport_error"]:
            click.echo(f"error: {row['transport_error']}", err=True)


def _state(row: dict[str, Any]) -> str:
    if row["paused"]:
        return f"paused since {row['paused_at']}: {row['pause_reason']}"
    if row["transport_error"]:
        return "no transport (see below)"
    return "active"


@mailboxes.command("pause")
@click.argument("name")
@click.option("--reason", default="paused by hand", show_default=True, help="Why (shown).")
@click.option("--as", "by", metavar="REP", help="Who paused it (default: your system user name).")
@click.pass_context
@user_errors
def mailboxes_pause(ctx: click.Context, name: str, reason: str, by: str | None) -> None:
    """Stop sending from mailbox NAME until it is resumed; its touches wait in the queue.

    \b
    Examples:
      outreach mailboxes pause sales --reason "provider warning"
    """
    from worker.mailboxes.pauses import pause_mailbox, pause_states

    runtime = runtime_of(ctx)
    runtime.mailboxes.get(name)  # NotFoundError with a suggestion
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        if not pause_mailbox(session, name, reason, at=now, by=acting_user(by)):
            state = pause_states(session)[name]
            click.echo(f"mailbox {name!r} was already paused: {state.reason}")
            return
    click.echo(f"mailbox {name!r} paused: {reason} — 'outreach mailboxes resume {name}' ends it")


@mailboxes.command("resume")
@click.argument("name")
@click.option("--note", help="A note kept with the resume event.")
@click.option("--as", "by", metavar="REP", help="Who resumed it (default: your system user name).")
@click.pass_context
@user_errors
def mailboxes_resume(ctx: click.Context, name: str, note: str | None, by: str | None) -> None:
    """Send from mailbox NAME again; the touches its pause held back go out with the next run.

    Also closes the mailbox's 'mailbox_paused' item in the review queue.

    \b
    Examples:
      outreach mailboxes resume sales
    """
    from worker.mailboxes.pauses import resume_mailbox

    runtime = runtime_of(ctx)
    runtime.mailboxes.get(name)
    with runtime.sessions.begin() as session:
        freed = resume_mailbox(session, name, at=runtime.clock.now(), note=note, by=acting_user(by))
    if freed < 0:
        click.echo(f"mailbox {name!r} is not paused")
        return
    click.echo(f"mailbox {name!r} resumed; {freed} postponed touch(es) go out with the next run")
