"""Working a lead from the command line: ``outreach leads pause|resume|stop|enroll|set|note|
call|stage|assign`` and ``leads export-csv`` — the same service as the web app's lead page
(``worker.working``). Each records who did it (``--as``, default the system user)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import click
from sqlalchemy.orm import Session

from worker.cli.common import acting_user, print_json, runtime_of, user_errors
from worker.errors import FieldError
from worker.store.models import Lead
from worker.tracking.activities import CALL_OUTCOMES
from worker.working import lead_actions as work
from worker.working.outcomes import Outcome
from worker.working.pause_ends import pause_end, rep_zone

Action = Callable[[Session, Lead, datetime, "str | None"], Outcome]


def _as_option(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)
    return click.option(
        "--as",
        "by",
        metavar="REP",
        help="Who did it, kept on the lead's timeline (default: your system user name).",
    )(func)


def _act(ctx: click.Context, email: str, by: str | None, as_json: bool, action: Action) -> None:
    """Run one action on the lead in one transaction and print its outcome."""
    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        lead = work.find_lead(session, email)
        result = action(session, lead, runtime.clock.now(), acting_user(by))
    if as_json:
        print_json(
            {
                "lead_id": result.lead_id,
                "email": result.email,
                "changed": result.changed,
                "message": result.message,
            }
        )
    else:
        click.echo(result.message)


@click.command("pause")
@click.argument("email")
@click.option(
    "--until",
    "until_text",
    metavar="DATE",
    help="Resume by itself then: a day (09:00 in the rep's time zone) or an ISO time.",
)
@_as_option
@click.pass_context
@user_errors
def leads_pause(
    ctx: click.Context, email: str, until_text: str | None, by: str | None, as_json: bool
) -> None:
    """Pause a lead's sequence (until a date, or until someone resumes it).

    \b
    Examples:
      outreach leads pause ada@northwind.test
      outreach leads pause ada@northwind.test --until 2027-02-01 --as rita
    """
    _act(
        ctx,
        email,
        by,
        as_json,
        lambda s, lead, at, who: work.pause(
            s, lead, at=at, by=who, until=pause_end(until_text or "", rep_zone(s, who))
        ),
    )


@click.command("resume")
@click.argument("email")
@_as_option
@click.pass_context
@user_errors
def leads_resume(ctx: click.Context, email: str, by: str | None, as_json: bool) -> None:
    """Resume a paused lead at the step it was at.

    \b
    Example:
      outreach leads resume ada@northwind.test
    """
    _act(ctx, email, by, as_json, lambda s, lead, at, who: work.resume(s, lead, at=at, by=who))


@click.command("stop")
@click.argument("email")
@click.option("--reason", help="Why (kept on the lead's timeline).")
@_as_option
@click.pass_context
@user_errors
def leads_stop(
    ctx: click.Context, email: str, reason: str | None, by: str | None, as_json: bool
) -> None:
    """Stop a lead's sequence for good (enroll it again to go on).

    \b
    Examples:
      outreach leads stop ada@northwind.test
      outreach leads stop ada@northwind.test --reason "asked us to wait until spring"
    """
    _act(
        ctx,
        email,
        by,
        as_json,
        lambda s, lead, at, who: work.stop(s, lead, at=at, by=who, reason=reason),
    )


@click.command("enroll")
@click.argument("email")
@click.argument("sequence")
@_as_option
@click.pass_context
@user_errors
def leads_enroll(
    ctx: click.Context, email: str, sequence: str, by: str | None, as_json: bool
) -> None:
    """Enroll a lead in a sequence, stopping the one it is in (never an unsubscribed,
    bounced or suppressed address).

    \b
    Examples:
      outreach leads enroll ada@northwind.test qualification
      outreach leads enroll ada@northwind.test decision --as rita --json
    """
    catalog = runtime_of(ctx).catalog
    _act(
        ctx,
        email,
        by,
        as_json,
        lambda s, lead, at, who: work.enroll(s, catalog, lead, sequence, at=at, by=who),
    )


@click.command("set")
@click.argument("email")
@click.argument("changes", nargs=-1, required=True, metavar="FIELD=VALUE...")
@_as_option
@click.pass_context
@user_errors
def leads_set(
    ctx: click.Context, email: str, changes: tuple[str, ...], by: str | None, as_json: bool
) -> None:
    """Edit a lead's fields: first_name, last_name, company, timezone, country, deal_value
    or any custom field (checked as the import checks them; FIELD= clears one).

    \b
    Examples:
      outreach leads set ada@northwind.test company="Northwind Ltd" deal_value=42500
      outreach leads set ada@northwind.test timezone=Europe/Berlin crm=
    """
    values: dict[str, str | None] = {}
    for pair in changes:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise FieldError(
                pair, f'{pair!r} is not FIELD=VALUE — write e.g. company="Northwind Ltd"'
            )
        values[name.strip()] = value or None
    _act(
        ctx,
        email,
        by,
        as_json,
        lambda s, lead, at, who: work.update_fields(s, lead, values, at=at, by=who),
    )


@click.command("note")
@click.argument("email")
@click.argument("text")
@_as_option
@click.pass_context
@user_errors
def leads_note(ctx: click.Context, email: str, text: str, by: str | None, as_json: bool) -> None:
    """Add a note to a lead's timeline.

    \b
    Example:
      outreach leads note ada@northwind.test "Met at the trade fair; wants a demo in March"
    """
    _act(
        ctx,
        email,
        by,
        as_json,
        lambda s, lead, at, who: work.add_note(s, lead, text, at=at, by=who),
    )


@click.command("call")
@click.argument("email")
@click.option("--outcome", required=True, type=click.Choice(CALL_OUTCOMES), help="How it went.")
@click.option("--note", help="What was said.")
@_as_option
@click.pass_context
@user_errors
def leads_call(
    ctx: click.Context,
    email: str,
    outcome: str,
    note: str | None,
    by: str | None,
    as_json: bool,
) -> None:
    """Log a call with a lead (on its timeline, and scored like 'outreach events log-call').

    \b
    Examples:
      outreach leads call ada@northwind.test --outcome connected --note "Pilot in March"
      outreach leads call ada@northwind.test --outcome voicemail --as rita
    """
    _act(
        ctx,
        email,
        by,
        as_json,
        lambda s, lead, at, who: work.log_call(s, lead, outcome, note=note, at=at, by=who),
    )


@click.command("stage")
@click.argument("email")
@click.argument("stage")
@click.option("--reason", help="Why (required for won and lost).")
@_as_option
@click.pass_context
@user_errors
def leads_stage(
    ctx: click.Context,
    email: str,
    stage: str,
    reason: str | None,
    by: str | None,
    as_json: bool,
) -> None:
    """Change a lead's stage: a pipeline stage moves it into that stage's sequence; won and
    lost (with a reason) stop its sequence.

    \b
    Examples:
      outreach leads stage ada@northwind.test consideration
      outreach leads stage ada@northwind.test lost --reason "chose a competitor"
    """
    catalog = runtime_of(ctx).catalog
    _act(
        ctx,
        email,
        by,
        as_json,
        lambda s, lead, at, who: work.change_stage(
            s, catalog, lead, stage, reason=reason, at=at, by=who
        ),
    )


@click.command("assign")
@click.argument("email")
@click.argument("rep", required=False)
@click.option("--nobody", is_flag=True, help="Leave the lead without an owner.")
@_as_option
@click.pass_context
@user_errors
def leads_assign(
    ctx: click.Context,
    email: str,
    rep: str | None,
    nobody: bool,
    by: str | None,
    as_json: bool,
) -> None:
    """Make a rep the lead's owner (or nobody).

    \b
    Examples:
      outreach leads assign ada@northwind.test rita
      outreach leads assign ada@northwind.test --nobody
    """
    if bool(rep) == nobody:
        raise click.UsageError("Give a rep's name or --nobody (one of the two).")
    _act(
        ctx,
        email,
        by,
        as_json,
        lambda s, lead, at, who: work.set_owner(s, lead, rep, at=at, by=who),
    )


@click.command("export-csv")
@click.option("--stage", help="Only this stage.")
@click.option("--status", help="Only this status.")
@click.option("--search", help="Only leads whose email or company contains this.")
@click.pass_context
@user_errors
def leads_export_csv(
    ctx: click.Context, stage: str | None, status: str | None, search: str | None
) -> None:
    """Write leads as CSV in the import's columns (custom fields included), to edit and
    import again.

    \b
    Examples:
      outreach leads export-csv > leads.csv
      outreach leads export-csv --stage decision --search northwind > decision.csv
    """
    from worker.queries.lead_pages import LeadFilter
    from worker.working.bulk import export_csv

    runtime = runtime_of(ctx)
    for text in export_csv(runtime.sessions, LeadFilter(stage, status, search)):
        click.echo(text, nl=False)


# Registered on the ``leads`` group by ``worker.cli.leads``.
COMMANDS: tuple[click.Command, ...] = (
    leads_pause,
    leads_resume,
    leads_stop,
    leads_enroll,
    leads_set,
    leads_note,
    leads_call,
    leads_stage,
    leads_assign,
    leads_export_csv,
)

__all__ = [
    "COMMANDS",
    "leads_assign",
    "leads_call",
    "leads_enroll",
    "leads_export_csv",
    "leads_note",
    "leads_pause",
    "leads_resume",
    "leads_set",
    "leads_stage",
    "leads_stop",
]
