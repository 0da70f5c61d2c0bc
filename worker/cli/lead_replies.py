"""``outreach leads reply``: answer a lead from the command line, the same service as the web
app's reply form (``worker.working.replies``) — threaded, signed, gated, sent once."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from worker.cli.common import acting_user, existing_file, print_json, runtime_of, user_errors
from worker.cli.leads import leads
from worker.delivery.rendering import lead_fields
from worker.errors import OutreachError
from worker.leads.locales import lead_language
from worker.working.outcomes import find_lead
from worker.working.pause_ends import pause_end, rep_zone
from worker.working.replies import ReplyRequest, Then, draft_reply, send_reply
from worker.working.snippets import find_snippet, render_snippet


@leads.command("reply")
@click.argument("email")
@click.option("--body-file", type=click.Path(path_type=Path), help="The text, from a file.")
@click.option("--snippet", metavar="NAME", help="The text of snippets/NAME.LANG.txt.")
@click.option("--body", metavar="TEXT", help="The text itself.")
@click.option(
    "--then",
    "then",
    type=click.Choice([t.value for t in Then]),
    default=Then.STOP.value,
    show_default=True,
    help="What the lead's sequence does after the reply.",
)
@click.option("--until", metavar="DATE", help="With --then pause: when it resumes.")
@click.option("--as", "by", metavar="REP", help="Who replies (default: your system user name).")
@click.option(
    "--key",
    metavar="KEY",
    help="Idempotency key: run again with the same key and nothing is sent twice "
    "(default: a fresh one).",
)
@click.option("--yes", is_flag=True, help="Send without showing it and asking first.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@user_errors
def leads_reply(
    ctx: click.Context,
    email: str,
    body_file: Path | None,
    snippet: str | None,
    body: str | None,
    then: str,
    until: str | None,
    by: str | None,
    key: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Reply to EMAIL in its thread, from the mailbox it knows, with its signature.

    The reply answers the lead's latest message (else the last email it was sent), goes
    through the suppression list and the mailbox's limits and pauses, appears on the lead's
    timeline, and then stops the lead's sequence (or pauses it, or leaves it running).

    \b
    Examples:
      outreach leads reply ada@example.com --snippet pricing
      outreach leads reply ada@example.com --body-file answer.txt --then pause --until 2027-02-01
      outreach leads reply ada@example.com --body "Thanks, talk Tuesday!" --then continue --yes
    """
    given = [x for x in (body_file, snippet, body) if x is not None]
    if len(given) != 1:
        raise OutreachError("Give the text once: --body-file FILE, --snippet NAME or --body TEXT.")
    if until is not None and then != Then.PAUSE:
        raise OutreachError("--until goes with --then pause.")
    runtime = runtime_of(ctx)
    with runtime.sessions() as session:
        lead = find_lead(session, email)
        lead_id, fields = lead.id, lead_fields(lead)
        until_at = pause_end(until or "", rep_zone(session, acting_user(by)))
    if body_file is not None:
        text = existing_file(body_file, "text file").read_text(encoding="utf-8")
    elif snippet is not None:
        try:
            language = lead_language(fields)
        except ValueError:
            language = "en"
        found = find_snippet(runtime.settings.home, snippet, language)
        text = render_snippet(runtime.renderer, found, fields, None)
    else:
        text = body or ""
    draft = draft_reply(runtime, lead_id, text)
    if not yes:
        click.echo(f"From:        {draft.sender} (mailbox {draft.mailbox})")
        click.echo(f"To:          {draft.lead_email}")
        click.echo(f"Subject:     {draft.subject}")
        click.echo(f"In-Reply-To: {draft.in_reply_to}")
        click.echo("")
        click.echo(draft.text)
        when = f" until {until_at:%Y-%m-%d %H:%M %Z}" if until_at else ""
        click.echo(f"Then the lead's sequence: {then}{when}.")
        click.confirm("Send this reply?", abort=True)
    result = send_reply(
        runtime,
        ReplyRequest(
            key=key or secrets.token_urlsafe(18),
            lead_id=lead_id,
            body=text,
            by=acting_user(by) or "command line",
            then=Then(then),
            until=until_at,
        ),
    )
    if as_json:
        print_json(
            {
                "reply_id": result.reply_id,
                "status": result.status,
                "email": result.lead_email,
                "mailbox": result.mailbox,
                "subject": result.subject,
                "message_id": result.message_id,
                "already": result.already,
                "error": result.error,
                "notes": result.notes,
            }
        )
        return
    if result.status == "unknown":
        raise OutreachError(
            f"Delivery unknown: {result.error} — the reply is in the review queue; look in the "
            "mailbox's Sent folder before sending again."
        )
    if result.already:
        click.echo(f"Already {result.status} with this --key; nothing was sent again.")
        return
    click.echo(f"Reply sent to {result.lead_email} from mailbox {result.mailbox}: {result.subject}")
    for note in result.notes:
        click.echo(f"  {note}")
