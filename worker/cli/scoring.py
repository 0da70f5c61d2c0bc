"""``outreach scoring``: check and explain the scoring rules, train a learned model."""

from __future__ import annotations

from worker.cli.root import main


@main.group()
def scoring() -> None:
    """Lead scoring: the rules in scoring.yaml, scores with why, a model learned from wins."""


__all__ = ["scoring"]
