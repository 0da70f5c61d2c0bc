"""The pipeline report as one self-contained HTML page: a matplotlib chart per section,
rendered to SVG and embedded inline, with the numbers as tables underneath.

No pyplot: every chart is a ``matplotlib.figure.Figure`` of its own, so rendering is
thread-safe and needs no GUI backend. Every value reaches the page through Jinja2 with
autoescape on; the SVG text matplotlib writes is XML-escaped by matplotlib itself. The web
app's reports page shows the same ``sections`` and serves each ``chart`` as its own SVG.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from worker.analytics.qualification_sections import (
    QUALIFICATION_CHARTS,
    qualification_chart,
    qualification_tables,
)
from worker.authoring.formatting import amounts_text

REPORT_LOCALE = "en"  # the locale money is written in (Babel): ``€970,502.25``
COLORS = ("#4c72b0", "#55a868", "#c44e52", "#8172b2", "#ccb974")
_SVG_START = re.compile(r"<svg\b")
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: Any, spec: str = ".1f") -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else format(value, spec)


def _number(value: Any) -> float:
    """A bar height: missing or "n/a" values draw as zero."""
    return float(value) if isinstance(value, int | float) else 0.0


def _svg(figure: Any) -> Markup:
    """``figure`` as an inline ``<svg>`` element: no XML prolog, DOCTYPE or metadata (which
    carry external URLs), only the element itself."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    start = _SVG_START.search(text)
    svg = text[start.start() :] if start else text
    return Markup(_METADATA.sub("", svg))  # noqa: S704 (matplotlib output, text XML-escaped)


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    ylabel: str = "",
    percent: bool = False,
) -> Markup | None:
    """Grouped bars: one group per category, one bar per series; None without categories."""
    if not categories:
        return None
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    width = max(6.0, 0.9 * len(categories) * max(1, len(series)) ** 0.5 + 2.0)
    figure = Figure(figsize=(min(width, 14.0), 3.6))
    axes = figure.subplots()
    bar = 0.8 / max(1, len(series))
    positions = range(len(categories))
    for index, (label, values) in enumerate(series):
        offset = (index - (len(series) - 1) / 2) * bar
        axes.bar(
            [p + offset for p in positions],
            [_number(v) for v in values],
            bar,
            label=label,
            color=COLORS[index % len(COLORS)],
        )
    many = len(categories) > 12
    axes.set_xticks(
        list(positions),
        list(categories),
        rotation=90 if many else 20 if len(categories) > 4 else 0,
        fontsize=8 if many else None,
    )
    axes.set_xlim(-0.6, len(categories) - 0.4)
    axes.set_ylim(bottom=0)
    axes.set_title(title)
    if ylabel:
        axes.set_ylabel(ylabel)
    if percent:
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        if not any(_number(v) for _, values in series for v in values):
            axes.set_ylim(0, 1)  # nothing yet: show the scale, not a band around zero
    if len(series) > 1:
        axes.legend(frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


CHARTS = ("funnel", "steps", "variants", "pipeline", "mailboxes", *QUALIFICATION_CHARTS)


@dataclass(frozen=True)
class ChartSpec:
    """What one section's chart draws (``bar_chart``'s arguments)."""

    title: str
    categories: list[str]
    series: list[tuple[str, list[Any]]]
    ylabel: str = ""
    percent: bool = False


def chart_spec(data: dict[str, Any], name: str) -> ChartSpec:
    """The chart of section ``name`` (one of ``CHARTS``) of the report ``data``; KeyError
    for a qualification section of a report without one."""
    if name in QUALIFICATION_CHARTS:
        return ChartSpec(*qualification_chart(data["qualification"], name))
    if name == "funnel":
        funnel = data["funnel"]
        return ChartSpec(
            "Leads per stage",
            [r["stage"] for r in funnel],
            [(key, [r[key] for r in funnel]) for key in ("entered", "advanced", "lost")],
            ylabel="leads",
        )
    if name == "steps":
        steps = data["steps"]
        return ChartSpec(
            "Sent and drop-off per step",
            [f"{r['sequence']} #{r['step']}" for r in steps],
            [("sent", [r["sent"] for r in steps]), ("drop-off", [r["drop_off"] for r in steps])],
            ylabel="leads",
        )
    if name == "variants":
        variants = data["variants"]
        return ChartSpec(
            "Reply rates per variant",
            [f"{r['sequence']} #{r['step']} {r['variant']}" for r in variants],
            [
                ("reply rate", [r["reply_rate"] for r in variants]),
                ("positive", [r["positive_rate"] for r in variants]),
            ],
            percent=True,
        )
    if name == "pipeline":
        stages = data["pipeline"]["stages"]
        currencies = data["pipeline"]["currencies"]
        series: list[tuple[str, list[Any]]] = []
        for code in currencies or [""]:  # a pair of series per currency: never added up
            label = f" {code}" if len(currencies) > 1 else ""
            series.append((f"value{label}", [r["value"].get(code, 0.0) for r in stages]))
            series.append(
                (
                    f"forecast won{label}",
                    [(r["forecast_won"] or {}).get(code) for r in stages],
                )
            )
        return ChartSpec(
            "Value and forecast won per stage",
            [r["stage"] for r in stages],
            series,
            ylabel=currencies[0] if len(currencies) == 1 else "value in each currency",
        )
    if name == "mailboxes":
        mailboxes = data["mailboxes"]
        return ChartSpec(
            "Hard bounce and reply rates per mailbox",
            [r["mailbox"] for r in mailboxes],
            [
                ("hard bounces", [r["hard_bounce_rate"] for r in mailboxes]),
                ("replies", [r["reply_rate"] for r in mailboxes]),
            ],
            percent=True,
        )
    raise KeyError(name)


def chart(data: dict[str, Any], name: str) -> Markup | None:
    """Section ``name``'s chart as an ``<svg>`` element; None when it has no data."""
    if name in QUALIFICATION_CHARTS and not data.get("qualification"):
        return None
    spec = chart_spec(data, name)
    return bar_chart(
        spec.title, spec.categories, spec.series, ylabel=spec.ylabel, percent=spec.percent
    )


def sections(
    data: dict[str, Any], *, charts: bool = True, locale: str = REPORT_LOCALE
) -> list[dict[str, Any]]:
    """Every section: ``name``, ``title``, ``chart`` (None unless ``charts``), table
    ``head``, ``rows`` and an optional ``foot``. Money is written per currency in ``locale``
    (``€970,502.25 · £12,000``), never added across currencies."""
    steps = data["steps"]
    variants = data["variants"]
    stages = data["pipeline"]["stages"]
    currencies = data["pipeline"]["currencies"]
    mailboxes = data["mailboxes"]

    def money(amounts: dict[str, float] | None) -> str:
        return "-" if amounts is None else amounts_text(amounts, currencies, locale)

    result: list[dict[str, Any]] = [
        {
            "name": "funnel",
            "title": "Funnel",
            "head": ["stage", "entered", "advanced", "lost", "conversion", "median days"],
            "rows": [
                [
                    r["stage"],
                    r["entered"],
                    r["advanced"],
                    r["lost"],
                    _pct(r["conversion"]),
                    _num(r["median_days"]),
                ]
                for r in data["funnel"]
            ],
        },
        {
            "name": "steps",
            "title": "Sequence steps",
            "head": ["sequence", "step", "sent", "replies", "bounces", "unsubs", "drop-off"],
            "rows": [
                [
                    r["sequence"],
                    r["step"],
                    r["sent"],
                    ", ".join(f"{n} {intent}" for intent, n in r["replies"].items()),
                    r["bounces"],
                    r["unsubscribes"],
                    f"{r['drop_off']}"
                    + (
                        " ("
                        + ", ".join(f"{n} {why}" for why, n in r["drop_off_reasons"].items())
                        + ")"
                        if r["drop_off_reasons"]
                        else ""
                    ),
                ]
                for r in steps
            ],
        },
        {
            "name": "variants",
            "title": "A/B variants",
            "head": [
                "sequence",
                "step",
                "variant",
                "sent",
                "reply rate",
                "positive",
                "vs",
                "p-value",
                "n needed",
            ],
            "rows": [
                [
                    r["sequence"],
                    r["step"],
                    r["variant"],
                    r["sent"],
                    _pct(r["reply_rate"]),
                    _pct(r["positive_rate"]),
                    r["compared_with"] or "-",
                    _num(r["p_value"], ".3f"),
                    _num(r["sample_needed"], "d"),
                ]
                for r in variants
            ],
        },
        {
            "name": "pipeline",
            "title": "Pipeline value and forecast",
            "head": ["stage", "leads", "value", "P(won)", "forecast won"],
            "rows": [
                [
                    r["stage"],
                    r["leads"],
                    money(r["value"]),
                    _pct(r["win_probability"]),
                    money(r["forecast_won"]),
                ]
                for r in stages
            ],
            "foot": ["total", "", "", "", money(data["pipeline"]["forecast_won"])],
        },
        {
            "name": "mailboxes",
            "title": "Mailboxes",
            "head": ["mailbox", "sent", "hard bounces", "spam complaints", "reply rate"],
            "rows": [
                [
                    r["mailbox"],
                    r["sent"],
                    _pct(r["hard_bounce_rate"]),
                    _pct(r["complaint_rate"]),
                    _pct(r["reply_rate"]),
                ]
                for r in mailboxes
            ],
        },
    ]
    if data.get("qualification"):
        result += qualification_tables(data["qualification"])
    for section in result:
        section["chart"] = chart(data, section["name"]) if charts else None
    return result


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("worker.analytics", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(data: dict[str, Any], generated_at: datetime | None = None) -> str:
    """The report ``data`` (``build_report``'s dict) as a self-contained HTML page."""
    now = generated_at or datetime.now(UTC)
    template = _environment().get_template("report.html")
    return template.render(
        title="Outreach pipeline report",
        generated_at=now.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
        since=data.get("since"),
        sections=sections(data),
    )


def write_html(
    data: dict[str, Any], path: str | os.PathLike[str], generated_at: datetime | None = None
) -> Path:
    """Render ``data`` and write it to ``path`` atomically (a temporary file in the same
    folder, then renamed over it); returns the absolute path."""
    target = Path(path).expanduser().resolve()
    page = render_html(data, generated_at)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(page)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
