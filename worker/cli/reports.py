"""``outreach report``: the pipeline funnel, steps, A/B variants, value forecast, mailboxes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from worker.cli.common import out, print_json, runtime_of, user_errors
from worker.cli.root import main


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write an HTML page with charts to FILE instead of tables; print its path.",
    metavar="FILE",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only stage entries, sends and replies from this date (UTC) on.",
)
@click.pass_context
@user_errors
def report(
    ctx: click.Context, as_json: bool, html_path: str | None, since: datetime | None
) -> None:
    """Pipeline analytics from the event log: funnel per stage, sequence steps (replies,
    bounces, drop-off), A/B variants (z-test p-value, sample size needed), pipeline value and
    won forecast, mailboxes, and qualification: MQLs per source and sequence, sales
    acceptance (MQL → SQL) with rejection reasons and median days to MQL and SQL, score
    distribution per stage, and win rate per score decile.

    \b
    Examples:
      outreach report
      outreach report --since 2027-01-01 --json
      outreach report --html report.html
    """
    from worker.analytics import build_report

    start = since.replace(tzinfo=UTC) if since else None
    runtime = runtime_of(ctx)
    with runtime.sessions() as session:
        data = build_report(
            session,
            start,
            runtime.catalog.in_pipeline_order(),
            runtime.settings.default_currency,
            qualification=True,
        )
    if html_path is not None:
        from worker.analytics.html_report import write_html

        try:
            written = write_html(data, html_path)
        except OSError as exc:
            raise click.ClickException(f"cannot write {html_path}: {exc.strerror or exc}") from None
        click.echo(str(written))
        return
    if as_json:
        print_json(data)
        return
    _print(data)


def _print(data: dict[str, Any]) -> None:
    """The report's sections (the HTML page's tables, without charts) as tables."""
    from worker.analytics.html_report import sections

    for section in sections(data, charts=False):
        table = Table(*section["head"], title=section["title"])
        for row in [*section["rows"], *([section["foot"]] if section.get("foot") else [])]:
            table.add_row(*(str(cell) for cell in row))
        out.print(table)
