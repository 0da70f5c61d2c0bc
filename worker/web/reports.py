"""The pipeline report in the app: ``GET /reports`` (every section with its numbers as
tables, ``?since=YYYY-MM-DD`` to count only stage entries, sends and replies from that date)
and ``GET /reports/charts/<name>.svg`` (each section's matplotlib chart).

Charts and tables come from ``worker.analytics.html_report``, the same code as
``outreach report --html``. The app's CSP allows no inline styles, and matplotlib's SVG has
style attributes and a ``<style>`` element, so each chart is a response of its own, shown by
an ``<img>`` and served with a CSP of its own that allows those styles and nothing else.
The qualification sections (MQLs, sales acceptance, scores) follow the pipeline's.
The page reads the report afresh and keeps it for a minute, so its charts (requested right
after it) draw the same numbers as its tables without reading the event log again.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue

from worker.analytics import build_report
from worker.analytics.html_report import CHARTS, chart, chart_spec, sections
from worker.web.context import current_runtime

blueprint = Blueprint("reports", __name__, url_prefix="/reports")
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMERIC = re.compile(r"^(-|-?[\d,]+(\.\d+)?%?)$")
# Money per currency, e.g. "€970,502.25 · £12,000" or "1.200 CHF": right-aligned too.
_AMOUNT = r"[^\d\s·]{0,4}\s?-?\d[\d,.'\u00a0\u202f]*\s?[^\d\s·]{0,4}"
_MONEY = re.compile(rf"^{_AMOUNT}( · {_AMOUNT})*$")
_XML_PROLOG = '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'
CACHE_S = 60.0
_CACHE_ENTRIES = 16
_EXTENSION = "outreach_reports"
# matplotlib is not documented as thread-safe; charts of concurrent requests take turns.
_RENDER = threading.Lock()


@dataclass
class _Cache:
    """Reports by ``since`` (ISO date or None) with the monotonic time they were read."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    entries: dict[str | None, tuple[float, dict[str, Any]]] = field(default_factory=dict)


class SinceError(ValueError):
    """A ``since`` parameter that is not a date."""


@blueprint.get("")
def index() -> ResponseReturnValue:
    text = request.args.get("since", "").strip()[:40]
    try:
        since = _since(text)
    except SinceError as exc:
        page = render_template("reports/index.html", since=text, error=str(exc), sections=[])
        return page, 400
    runtime = current_runtime()
    data = _report(since, fresh=True)
    parts = sections(data, charts=False)
    for part in parts:
        spec = chart_spec(data, part["name"])
        drawn = part["rows"] and spec.categories
        part["chart_url"] = (
            url_for(".chart_svg", name=part["name"], since=text or None) if drawn else None
        )
        part["chart_title"] = spec.title
        part["rows"] = [_cells(cells) for cells in part["rows"]]
        part["foot"] = _cells(part["foot"]) if part.get("foot") else None
    return render_template(
        "reports/index.html",
        since=text,
        error=None,
        sections=parts,
        generated_at=runtime.clock.now(),
    )


@blueprint.get("/charts/<name>.svg")
def chart_svg(name: str) -> ResponseReturnValue:
    if name not in CHARTS:
        abort(404)
    try:
        since = _since(request.args.get("since", "").strip()[:40])
    except SinceError:
        abort(400)
    data = _report(since, fresh=False)
    with _RENDER:
        svg = chart(data, name)
    if svg is None:  # no data: the page shows no chart for it
        abort(404)
    response = Response(_XML_PROLOG + str(svg), mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = CHART_CSP
    return response


def _since(text: str) -> datetime | None:
    """The start of the day ``text`` (YYYY-MM-DD, UTC); None when empty."""
    if not text:
        return None
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise SinceError(
            f"'Since' {text!r} is not a date — write it as YYYY-MM-DD, e.g. 2027-01-04, "
            "or leave it empty for the whole history."
        ) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _cells(values: list[Any]) -> list[tuple[Any, bool]]:
    """A table row's values, each with whether it is a number (right-aligned)."""
    return [
        (
            v,
            isinstance(v, int | float)
            or (isinstance(v, str) and bool(_NUMERIC.match(v) or _MONEY.match(v))),
        )
        for v in values
    ]


def _report(since: datetime | None, *, fresh: bool) -> dict[str, Any]:
    """The report from ``since``: read now when ``fresh``, else the one read in the last
    ``CACHE_S`` seconds if there is one."""
    cache: _Cache = current_app.extensions.setdefault(_EXTENSION, _Cache())
    key = since.isoformat() if since else None
    now = time.monotonic()
    if not fresh:
        with cache.lock:
            kept = cache.entries.get(key)
        if kept is not None and now - kept[0] < CACHE_S:
            return kept[1]
    runtime = current_runtime()
    with runtime.sessions() as session:
        data = build_report(
            session,
            since,
            runtime.catalog.in_pipeline_order(),
            runtime.settings.default_currency,
            qualification=True,
        )
    with cache.lock:
        cache.entries.pop(key, None)
        cache.entries[key] = (now, data)
        while len(cache.entries) > _CACHE_ENTRIES:
            del cache.entries[next(iter(cache.entries))]
    return data
