"""How a lead's score and its why are printed (``leads show``, ``scoring explain``)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from worker.cli.common import out


def score_lines(data: dict[str, Any]) -> list[str]:
    """``score 63.5 (mql)`` and one line per contributing rule, biggest first."""
    score = data.get("score")
    if score is None:
        return ["score: - (never scored: no scoring.yaml, or no event since it was added)"]
    qualification = data.get("qualification") or "not qualified"
    owner = f", owner {data['owner']}" if data.get("owner") else ""
    lines = [f"score: {score:g} ({qualification}{owner}, as of {data.get('scored_at') or '-'})"]
    detail = sorted(data.get("score_detail") or [], key=lambda c: -abs(float(c["points"])))
    for contribution in detail:
        points = float(contribution["points"])
        age = contribution.get("age_days")
        when = f"  {age:g} days ago" if age is not None else ""
        base = contribution.get("base")
        faded = f" (of {base:+g})" if base is not None and base != points else ""
        section = contribution.get("section", "")
        lines.append(f"  {points:+7.2f}{faded}  {section:<10} {contribution['rule']}{when}")
    return lines


def print_score(data: dict[str, Any]) -> None:
    for line in score_lines(data):
        out.print(escape(line))


__all__ = ["print_score", "score_lines"]
