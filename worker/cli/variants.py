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

    "replies" counts the variant's touches a person answered, as in ``outreach report``
    (auto-replies, out-of-office and bounces are not replies); "by intent" counts touches per
    classified intent, those included.

    \b
    Examples:
      outreach variants
      outreach variants prospecting --json
    """
    from worker.analytics.variant_counts import variant_table

    runtime = runtime_of(ctx)
    with runtime.sessions() as session:
        rows = variant_table(session, runtime.catalog, sequence)
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
