"""Replies: classify one message the way the worker would (``outreach replies classify``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from worker.cli.common import print_json, settings_of, user_errors
from worker.cli.root import main
from worker.errors import OutreachError

MAX_BYTES = 50_000_000


@main.group()
def replies() -> None:
    """Understand replies: intent, confidence, return date, referred address."""


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read(MAX_BYTES)
    file = Path(path)
    if not file.is_file():
        raise OutreachError(
            f"{path}: no such file — give the path of an .eml file, or - for stdin."
        )
    try:
        with file.open("rb") as handle:
            return handle.read(MAX_BYTES)
    except OSError as exc:
        raise OutreachError(
            f"{path}: cannot be read ({exc.strerror}) — check its permissions."
        ) from None


def own_addresses(ctx: click.Context, extra: tuple[str, ...]) -> tuple[str, ...]:
    """Our mailboxes' addresses and domains (when mailboxes.yaml loads), plus --own values."""
    from worker.authoring.mailboxes import load_mailboxes

    found = list(extra)
    try:
        mailboxes = load_mailboxes(settings_of(ctx).mailboxes_file)
    except Exception:  # no project here: classify without them
        return tuple(found)
    for spec in mailboxes.by_name.values():
        found += [spec.address, spec.address.rpartition("@")[2]]
    return tuple(dict.fromkeys(found))


@replies.command("classify")
@click.argument("file", metavar="FILE.eml")
@click.option("--json", "as_json", is_flag=True, help="Print the classification as JSON.")
@click.option(
    "--own",
    multiple=True,
    metavar="ADDRESS|DOMAIN",
    help="One of our sending addresses or domains (never a referral); repeatable. "
    "The mailboxes of mailboxes.yaml are always included.",
)
@click.pass_context
@user_errors
def replies_classify(ctx: click.Context, file: str, as_json: bool, own: tuple[str, ...]) -> None:
    """Classify one message: intent, confidence, return date, referral, and the reasons.

    Relative dates ("next Monday") are read against the message's Date header. Nothing is
    stored; the message is only read.

    \b
    Examples:
      outreach replies classify reply.eml
      outreach replies classify bounce.eml --json
      outreach replies classify - --json < message.eml
    """
    from worker.understanding import classify

    raw = _read(file)
    found = classify(raw, own_addresses=own_addresses(ctx, own))
    if as_json:
        print_json(found.as_json())
        return
    click.echo(f"intent:      {found.intent}")
    click.echo(f"confidence:  {found.confidence:.2f}")
    if found.return_date:
        click.echo(f"return date: {found.return_date.isoformat()}")
    if found.referral_email:
        click.echo(f"referral:    {found.referral_email}")
    if found.bounced_recipients:
        click.echo(f"bounced:     {', '.join(found.bounced_recipients)}")
    if found.language:
        click.echo(f"language:    {found.language}")
    for reason in found.reasons:
        click.echo(f"  - {reason}")
    click.echo("")
    click.echo(found.text or "(no text of its own)")
