"""``outreach send-test``: one real email of a sequence to your own inbox, marked [TEST]."""

from __future__ import annotations

import click

from worker.cli.common import runtime_of, user_errors
from worker.cli.root import main


@main.command("send-test")
@click.argument("sequence")
@click.option(
    "--step", default=1, show_default=True, type=click.IntRange(min=1), help="Step number."
)
@click.option(
    "--lead", "email", required=True, help="Render it for this lead (database or sample)."
)
@click.option("--to", "to", required=True, help="Send it to this address (yours), not the lead.")
@click.option("--variant", help="An A/B variant of the step (default: the one this lead gets).")
@click.pass_context
@user_errors
def send_test(
    ctx: click.Context, sequence: str, step: int, email: str, to: str, variant: str | None
) -> None:
    """Send one step for real to your own address, to see it in a real inbox.

    The email is rendered for the lead as 'outreach preview' shows it and sent through the
    sequence's mailbox (SMTP or the outbox folder) to --to, never to the lead. Its subject
    starts with [TEST] and its unsubscribe link belongs to no lead. Nothing is recorded:
    no touch, no event, no mailbox limit used, nothing changes for the lead.

    \b
    Examples:
      outreach send-test prospecting --step 3 --lead ada@northwind.test --to me@example.com
      outreach send-test prospecting --step 4 --lead ada@northwind.test --to me@example.com \\
          --variant question
    """
    from worker.rehearsal.test_send import send_test as send_one

    sent = send_one(runtime_of(ctx), sequence, step, email, to, variant)
    click.echo(
        f"Sent a test of {sequence} step {step} (rendered for {email.strip()}) to {sent.to} "
        f"from mailbox {sent.mailbox} via {sent.via}: {sent.subject}"
    )
