"""``outreach events``: engagement from outside the email — activities imported from a CSV
file (website visits, webinars) and a rep's logged calls — recorded for scoring."""

from __future__ import annotations

from pathlib import Path

import click

from worker.cli.common import existing_file, print_file_report, print_json, runtime_of, user_errors
from worker.cli.root import main

OUTCOMES = ("connected", "voicemail", "no_answer")  # worker.tracking.CALL_OUTCOMES


@main.group()
def events() -> None:
    """Engagement events from outside (website, webinars, calls): record them for scoring."""


@events.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def events_import(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Record activities from a CSV file with columns email,type,at (at: ISO 8601, empty:
    now); any other column is kept as the event's data. Each bad row is reported as
    FILE.csv:LINE: field 'NAME': message, and skipped; the good rows are recorded.

    \b
    Examples:
      outreach events import webinar.csv
      outreach events import visits.csv --json

    \b
    webinar.csv:
      email,type,at,webinar
      ada@northwind.test,webinar_attended,2027-01-04T16:00:00Z,Q1 forecasting
    """
    from worker.tracking.importing import import_events

    runtime = runtime_of(ctx)
    report = import_events(runtime.sessions, existing_file(file, "CSV file"), runtime.clock.now())
    summary = (
        f"{report.rows} rows: {report.recorded} events recorded, "
        f"{len(report.errors)} skipped as invalid"
    )
    print_file_report(report.errors, report.as_dict(), summary, as_json)


@events.command("log-call")
@click.argument("email")
@click.option("--outcome", required=True, type=click.Choice(OUTCOMES), help="How the call went.")
@click.option("--note", help="What was said (kept on the lead's timeline).")
@click.option("--rep", help="Who called (default: not recorded).")
@click.option("--at", "at_text", help="When (ISO 8601, e.g. 2027-01-04T15:30:00Z; default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def events_log_call(
    ctx: click.Context,
    email: str,
    outcome: str,
    note: str | None,
    rep: str | None,
    at_text: str | None,
    as_json: bool,
) -> None:
    """Log a rep's call with a lead (a call_logged event on its timeline, scored).

    \b
    Examples:
      outreach events log-call ada@northwind.test --outcome connected --note "Pilot in March"
      outreach events log-call ada@northwind.test --outcome voicemail
    """
    from worker.tracking.activities import log_call, parse_time

    runtime = runtime_of(ctx)
    try:
        at = parse_time(at_text) if at_text else runtime.clock.now()
        with runtime.sessions.begin() as session:
            lead_id = log_call(session, email, outcome, at=at, note=note, rep=rep)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        print_json({"email": email.strip().lower(), "lead_id": lead_id, "outcome": outcome})
        return
    click.echo(f"call logged for {email.strip().lower()}: {outcome}")


__all__ = ["events"]
