"""The qualification report (``qualification.qualification_report``) as report sections:
tables and the arguments of their charts, for ``outreach report``, its HTML page and the web
app's reports page (``html_report.sections`` and ``html_report.chart_spec`` add them)."""

from __future__ import annotations

from typing import Any

# Section name → what its chart shows.
QUALIFICATION_CHARTS = (
    "mql_sources",
    "mql_sequences",
    "acceptance",
    "score_stages",
    "score_deciles",
)

Chart = tuple[str, list[str], list[tuple[str, list[Any]]], str, bool]


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def _days(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def qualification_chart(q: dict[str, Any], name: str) -> Chart:
    """(title, categories, series, y label, percent) of section ``name``'s chart."""
    if name in ("mql_sources", "mql_sequences"):
        rows = q["by_source"] if name == "mql_sources" else q["by_sequence"]
        key = "source" if name == "mql_sources" else "sequence"
        return (
            f"MQL rate per {key}",
            [r[key] for r in rows],
            [("MQL rate", [r["mql_rate"] for r in rows])],
            "",
            True,
        )
    if name == "acceptance":
        reasons = q["acceptance"]["rejection_reasons"]
        return (
            "Rejections per reason",
            list(reasons),
            [("rejected", list(reasons.values()))],
            "leads",
            False,
        )
    if name == "score_stages":
        rows = q["score_by_stage"]
        labels = list(rows[0]["buckets"]) if rows else []
        return (
            "Leads per score bucket and stage",
            [r["stage"] for r in rows],
            [(label, [r["buckets"][label] for r in rows]) for label in labels],
            "leads",
            False,
        )
    if name == "score_deciles":
        rows = q["win_rate_by_decile"]
        return (
            "Win rate per score decile",
            [str(r["decile"]) for r in rows],
            [("win rate", [r["win_rate"] for r in rows])],
            "",
            True,
        )
    raise KeyError(name)


def qualification_tables(q: dict[str, Any]) -> list[dict[str, Any]]:
    """The sections' ``name``, ``title``, ``head`` and ``rows``."""
    a = q["acceptance"]
    stage_rows = q["score_by_stage"]
    labels = list(stage_rows[0]["buckets"]) if stage_rows else []
    figures = [
        ["MQLs (ever)", a["mqls"]],
        ["waiting for sales", a["waiting"]],
        ["accepted as SQL", a["accepted"]],
        ["rejected", a["rejected"]],
        ["acceptance rate", _pct(a["acceptance_rate"])],
        ["median days to MQL", _days(a["median_days_to_mql"])],
        ["median days to SQL", _days(a["median_days_to_sql"])],
    ]
    figures += [[f"rejected: {why}", n] for why, n in a["rejection_reasons"].items()]
    return [
        _mql_table("mql_sources", "MQLs per source", "source", q["by_source"]),
        _mql_table("mql_sequences", "MQLs per sequence", "sequence", q["by_sequence"]),
        {
            "name": "acceptance",
            "title": "Sales acceptance (MQL → SQL)",
            "head": ["", "value"],
            "rows": figures if a["mqls"] or a["accepted"] or a["rejected"] else [],
        },
        {
            "name": "score_stages",
            "title": "Score distribution per stage",
            "head": ["stage", *labels],
            "rows": [[r["stage"], *r["buckets"].values()] for r in stage_rows],
        },
        {
            "name": "score_deciles",
            "title": "Win rate per score decile (won and lost leads)",
            "head": ["decile", "scores", "leads", "won", "win rate"],
            "rows": [
                [
                    r["decile"],
                    f"{r['min_score']:g}-{r['max_score']:g}",
                    r["leads"],
                    r["won"],
                    _pct(r["win_rate"]),
                ]
                for r in q["win_rate_by_decile"]
            ],
        },
    ]


def _mql_table(name: str, title: str, key: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """MQLs per ``key`` (source or sequence): leads, MQLs, their rate, SQLs."""
    return {
        "name": name,
        "title": title,
        "head": [key, "leads", "MQLs", "MQL rate", "SQLs"],
        "rows": [[r[key], r["leads"], r["mqls"], _pct(r["mql_rate"]), r["sqls"]] for r in rows],
    }


__all__ = ["QUALIFICATION_CHARTS", "qualification_chart", "qualification_tables"]
