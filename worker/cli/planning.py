"""The dry run: ``outreach simulate``."""

from __future__ import annotations

from collections import Counter

import click
from rich.markup import escape
from rich.table import Table

from worker.cli.common import out, print_json, runtime_of, user_errors
from worker.cli.root import main


@main.command()
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 365))
@click.option("--lead", "lead_email", help="Only this lead.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def simulate(ctx: click.Context, days: int, lead_email: str | None, as_json: bool) -> None:
    """Show when every upcoming touch would go out, in each lead's local time. Sends nothing.

    Applies waits (business days skip public holidays and blackout dates), send windows with
    their jitter, mailbox daily limits and spacing, and the per-domain cap, starting from
    today's real usage. Assumes nobody replies.

    \b
    Examples:
      outreach simulate --days 7
      outreach simulate --lead ada@northwind.test --json
    """
    from worker.rehearsal.simulation import simulate as plan_touches

    plan = plan_touches(runtime_of(ctx), days, lead_email)
    if as_json:
        print_json([touch.as_dict() for touch in plan])
        return
    table = Table("lead", "sequence", "step", "kind", "local time", "UTC", "mailbox", "notes")
    for touch in plan:
        kind = touch.kind + (f" ({touch.variant})" if touch.variant else "")
        table.add_row(
            touch.lead,
            touch.sequence,
            str(touch.step),
            kind,
            f"{touch.local:%a %Y-%m-%d %H:%M} {touch.local.tzname()}",
            f"{touch.at:%Y-%m-%d %H:%M}",
            touch.mailbox or "-",
            escape("; ".join(touch.notes)),
        )
    out.print(table)
    per_day = Counter((t.at.date(), t.mailbox or t.kind) for t in plan)
    summary = ", ".join(f"{day:%a %d %b} {who}: {n}" for (day, who), n in sorted(per_day.items()))
    out.print(f"{len(plan)} touches in the next {days} days" + (f" — {summary}" if summary else ""))
