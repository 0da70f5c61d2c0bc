"""Sales acceptance from the command line: ``review accept`` and ``review reject``."""

from __future__ import annotations

from typing import Any

import click

from worker.cli.common import print_json, runtime_of, user_errors
from worker.cli.replies import review

# ``worker.qualification.REJECT_REASONS``, not imported for start-up time (a test keeps them
# the same).
REASONS = (
    "not_interested",
    "no_budget",
    "no_timeline",
    "not_decision_maker",
    "bad_fit",
    "other",
)


def _done(result: Any, as_json: bool, extra: dict[str, Any]) -> None:
    """Print a resolution (a ``worker.review.resolutions.Resolution``)."""
    item_id, action, email = result.item_id, result.action, result.lead_email
    if as_json:
        print_json({"id": item_id, "action": action, "lead": email, **extra})
        return
    click.echo(f"resolved #{item_id} ({action})" + (f" for {email}" if email else ""))


@review.command("accept")
@click.argument("item_id", type=int)
@click.option(
    "--interested",
    type=click.Choice(("yes", "no", "unsure")),
    required=True,
    help="Is the person interested?",
)
@click.option(
    "--buying-now",
    type=click.Choice(("yes", "no")),
    required=True,
    help="Are they in a buying process now?",
)
@click.option("--timeframe", help="When they mean to buy (e.g. 'Q3', 'this month').")
@click.option(
    "--decision-maker",
    type=click.Choice(("yes", "no")),
    required=True,
    help="Are they the decision-maker?",
)
@click.option("--who", help="Who decides, when they do not (name, role).")
@click.option("--rep", "by", help="The rep accepting it, who becomes the lead's owner.")
@click.option("--note", help="Anything else; kept with the resolution.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def review_accept(
    ctx: click.Context,
    item_id: int,
    interested: str,
    buying_now: str,
    timeframe: str | None,
    decision_maker: str,
    who: str | None,
    by: str | None,
    note: str | None,
    as_json: bool,
) -> None:
    """Accept the lead of an "Accept as SQL?" item as sales-qualified (SQL).

    The lead becomes an SQL owned by --rep (else the item's assignee), moves on to
    consideration if it was in prospecting or qualification, and the answers are kept on its
    timeline (sql_accepted).

    \b
    Examples:
      outreach review accept 12 --interested yes --buying-now yes --timeframe Q3 \\
          --decision-maker yes --rep rita
      outreach review accept 13 --interested unsure --buying-now no --decision-maker no \\
          --who "Grace Hopper, CTO"
    """
    from worker.review.resolutions import resolve_now

    answers: dict[str, str | None] = {
        "interested": interested,
        "buying_now": buying_now,
        "timeframe": timeframe,
        "decision_maker": decision_maker,
        "who": who,
    }
    rep = by.strip().lower() if by else None
    result = resolve_now(runtime_of(ctx), item_id, "accept-sql", note=note, by=rep, answers=answers)
    _done(result, as_json, {"answers": answers, "owner": rep})


@review.command("reject")
@click.argument("item_id", type=int)
@click.option("--reason", type=click.Choice(REASONS), required=True, help="Why it is no SQL.")
@click.option("--note", help="Why, in words (required with --reason other).")
@click.option("--rep", "by", help="The rep rejecting it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def review_reject(
    ctx: click.Context,
    item_id: int,
    reason: str,
    note: str | None,
    by: str | None,
    as_json: bool,
) -> None:
    """Reject the lead of an "Accept as SQL?" item: back to nurture, with a reason.

    The lead's qualification becomes nurture; a sequence named 'nurture', if there is one,
    takes it. The reason is kept on its timeline (sql_rejected) and counted in the report.

    \b
    Examples:
      outreach review reject 12 --reason no_budget
      outreach review reject 13 --reason other --note "student, not a buyer"
    """
    from worker.review.resolutions import resolve_now

    rep = by.strip().lower() if by else None
    result = resolve_now(
        runtime_of(ctx), item_id, "reject-sql", note=note, by=rep, answers={"reason": reason}
    )
    _done(result, as_json, {"reason": reason, "note": note})


__all__ = ["review_accept", "review_reject"]
