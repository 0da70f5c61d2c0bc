"""``outreach scoring``: check and explain the scoring rules, train a learned model."""

from __future__ import annotations

from worker.cli.root import main


@main.group()
def scoring() -> None:
    """Lead scoring: the rules in scoring.yaml, scores with why, a model learned from wins."""


__all__ = ["scoring"]

# Its commands (``train`` in scoring_model; check, explain, rescore in scoring_rules) are
# registered by ``worker/cli/__init__.py``: importing them here would be an import cycle.
