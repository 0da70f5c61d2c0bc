"""``outreach report``: the pipeline funnel, steps, A/B variants, value forecast, mailboxes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from .common import out, print_json, runtime_of, user_errors
from .root import main


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: Any, spec: str = ".1f") -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else format(value, spec)


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
    won forecast, and mailboxes.

    \b
    Examples:
      outreach report
      outreach report --since 2027-01-01 --json
      outreach report --html report.html
    """
    from ..analytics import build_report

    start = since.replace(tzinfo=UTC) if since else None
    runtime = runtime_of(ctx)
    with runtime.sessions() as session:
        data = build_report(session, start, runtime.catalog.in_pipeline_order())
    if html_path is not None:
        from ..analytics.html_report import write_html

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
    funnel = Table(
        "stage", "entered", "advanced", "lost", "conversion", "median days", title="Funnel"
    )
    for row in data["funnel"]:
        funnel.add_row(
            row["stage"],
            str(row["entered"]),
            str(row["advanced"]),
            str(row["lost"]),
            _pct(row["conversion"]),
            _num(row["median_days"]),
        )
    out.print(funnel)
    steps = Table(
        "sequence", "step", "sent", "replies", "bounces", "unsubs", "drop-off", title="Steps"
    )
    for row in data["steps"]:
        reasons = ", ".join(f"{n} {r}" for r, n in row["drop_off_reasons"].items())
        steps.add_row(
            row["sequence"],
            str(row["step"]),
            str(row["sent"]),
            ", ".join(f"{n} {intent}" for intent, n in row["replies"].items()),
            str(row["bounces"]),
            str(row["unsubscribes"]),
            f"{row['drop_off']}" + (f" ({reasons})" if reasons else ""),
        )
    out.print(steps)
    variants = Table(
        "sequence",
        "step",
        "variant",
        "sent",
        "reply rate",
        "positive",
        "vs",
        "p-value",
        "n needed",
        title="A/B variants",
    )
    for row in data["variants"]:
        variants.add_row(
            row["sequence"],
            str(row["step"]),
            row["variant"],
            str(row["sent"]),
            _pct(row["reply_rate"]),
            _pct(row["positive_rate"]),
            row["compared_with"] or "-",
            _num(row["p_value"], ".3f"),
            _num(row["sample_needed"], "d"),
        )
    out.print(variants)
    value = Table("stage", "leads", "value", "P(won)", "forecast won", title="Pipeline")
    for row in data["pipeline"]["stages"]:
        value.add_row(
            row["stage"],
            str(row["leads"]),
            _num(row["value"], ",.2f"),
            _pct(row["win_probability"]),
            _num(row["forecast_won"], ",.2f"),
        )
    value.add_row("total", "", "", "", _num(data["pipeline"]["forecast_won"], ",.2f"))
    out.print(value)
    boxes = Table("mailbox", "sent", "hard bounces", "reply rate", title="Mailboxes")
    for row in data["mailboxes"]:
        boxes.add_row(
            row["mailbox"],
            str(row["sent"]),
            _pct(row["hard_bounce_rate"]),
            _pct(row["reply_rate"]),
        )
    out.print(boxes)
