"""``outreach variants``: touches sent and replies per A/B variant."""

from __future__ import annotations

import click
from rich.table import Table

from worker.cli.common import out, print_json, runtime_of, user_errors
from worker.cli.root import main


@main.command()
@click.argument("sequence", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def variants(ctx: click.Context, sequence: str | None, as_json: bool) -> None:
    """Per sequence step and A/B variant: touches sent and replies by intent.

    Replies are inbound messages matched to the variant's touches, counted per classified
    intent (auto-replies and bounces included: these are raw counts).

    \b
    Examples:
      outreach variants
      outreach variants prospecting --json
    """
    from worker.analytics.variant_counts import variant_counts

    runtime = runtime_of(ctx)
    with runtime.sessions() as session:
        rows = variant_counts(session, runtime.catalog, sequence)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(f"no A/B variants in {sequence or 'any sequence'}")
        return
    table = Table("sequence", "step", "variant", "weight", "sent", "replies", "by intent")
    for row in rows:
        weight = row["weight"]
        table.add_row(
            row["sequence"],
            str(row["step"]),
            row["variant"],
            "-" if weight is None else f"{weight:g}",
            str(row["sent"]),
            str(row["replied"]),
            ", ".join(f"{n} {intent}" for intent, n in row["replies"].items()),
        )
    out.print(table)
