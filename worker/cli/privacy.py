"""Data-protection requests from the command line: ``outreach leads export EMAIL``, ``outreach
leads erase EMAIL`` and ``outreach inbox purge-raw`` (``worker.privacy``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from worker.cli.common import acting_user, out, print_json, runtime_of, user_errors
from worker.cli.leads import leads
from worker.cli.replies import inbox
from worker.errors import OutreachError


@leads.command("export")
@click.argument("email")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON document to this file (default: print it).",
)
@click.pass_context
@user_errors
def leads_export(ctx: click.Context, email: str, out_file: Path | None) -> None:
    """Everything held about a person, as one JSON document (a data-subject access request).

    The lead and its custom fields, every email sent to them as sent, every message received
    from them (headers, text and the raw mail), events, review items, clicks, scores,
    suppression entries, every other row kept about them, and the rows of other people that
    mention them.

    \b
    Examples:
      outreach leads export ada@northwind.test
      outreach leads export ada@northwind.test --out ada-northwind.json
    """
    from worker.privacy import export

    runtime = runtime_of(ctx)
    with runtime.sessions() as session:
        document = export(session, email, at=runtime.clock.now())
    if out_file is None:
        print_json(document)
        return
    try:
        out_file.write_text(
            json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n",
            encoding="utf-8",
        )
    except OSError as exc:
        raise OutreachError(f"{out_file}: cannot write the export — {exc.strerror}.") from None
    rows = sum(len(rows) for rows in document["tables"].values())
    out.print(f"wrote {out_file}: {rows} rows held about {document['email']}")


@leads.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--as",
    "by",
    metavar="REP",
    help="Who erased, kept in the record of erasures (default: your system user name).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def leads_erase(ctx: click.Context, email: str, yes: bool, by: str | None, as_json: bool) -> None:
    """Erase everything held about a person (a data-subject erasure request). Cannot be undone.

    The lead and every row about it go: touches with their text, inbound messages from or
    matched to them with the raw mail, events, review items, clicks, scores. Their address
    and name are replaced by [erased] in other rows (another lead's referral, a colleague's
    reply, notes). Only a hash of the address is kept, on the suppression list, so the
    address is never imported, captured or mailed again. The erasure itself is recorded
    without personal data. Export first if the person also asked for their data.

    \b
    Examples:
      outreach leads erase ada@northwind.test
      outreach leads erase ada@northwind.test --yes --as rita --json
    """
    from worker.privacy import address_of, erase

    address = address_of(email)
    if not yes:
        click.confirm(f"Erase everything held about {address}? This cannot be undone", abort=True)
    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        report = erase(
            session, address, at=runtime.clock.now(), by=acting_user(by) or "command line"
        )
    if as_json:
        print_json(report.as_dict())
        return
    deleted = sum(report.deleted.values())
    scrubbed = sum(report.scrubbed.values())
    out.print(
        f"erased {address}: {deleted} rows deleted"
        + (f" ({', '.join(f'{n} {t}' for t, n in report.deleted.items())})" if deleted else "")
        + f", {scrubbed} rows of others scrubbed; erasure {report.erasure_id} recorded, the "
        "address stays suppressed by its hash"
    )
    if not report.had_lead:
        out.print(f"(no lead had the address {address})")


@inbox.command("purge-raw")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0),
    help="Days since processing (default: OUTREACH_RAW_MAIL_RETENTION_DAYS).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def inbox_purge_raw(ctx: click.Context, days: int | None, as_json: bool) -> None:
    """Clear the raw mail of inbound messages processed more than N days ago.

    Sender, subject, parsed text and intent stay for the timeline and the reports; a
    message not processed yet keeps its raw mail. With OUTREACH_RAW_MAIL_RETENTION_DAYS set,
    every 'outreach run' and the scheduler do this by themselves.

    \b
    Examples:
      outreach inbox purge-raw --older-than 90
      outreach inbox purge-raw          # as OUTREACH_RAW_MAIL_RETENTION_DAYS says
    """
    from worker.privacy import purge_raw

    runtime = runtime_of(ctx)
    if days is None:
        days = runtime.settings.raw_mail_retention_days
    if days is None:
        raise OutreachError(
            "No retention set — give --older-than DAYS or set OUTREACH_RAW_MAIL_RETENTION_DAYS."
        )
    cleared = purge_raw(runtime.sessions, older_than_days=days, now=runtime.clock.now())
    if as_json:
        print_json({"cleared": cleared, "older_than_days": days})
        return
    out.print(f"cleared the raw mail of {cleared} message(s) processed more than {days} days ago")
