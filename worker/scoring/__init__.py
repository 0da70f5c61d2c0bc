"""Lead scoring: fit and engagement rules from ``scoring.yaml`` (or a model learned from the
team's wins), the score with why, and what happens when it crosses a threshold.

- ``config``: ``scoring.yaml`` read strictly, problems as ``path:line: message``;
- ``rules``: ``score_lead``, the pure computation (fit, engagement with decay, the why);
- ``engine``: scores stored, thresholds crossed once, marked leads scored by the tick;
- ``marks``: marking a lead whose score an event changed.
"""

from __future__ import annotations

from worker.scoring.config import (
    SCORING_FILE,
    ScoringConfig,
    ScoringFile,
    check_sequences,
    load_scoring,
    scoring_config,
)
from worker.scoring.engine import RescoreResult, rescore, rescore_all, score_marked
from worker.scoring.marks import mark
from worker.scoring.rules import Score, score_lead

__all__ = [
    "SCORING_FILE",
    "RescoreResult",
    "Score",
    "ScoringConfig",
    "ScoringFile",
    "check_sequences",
    "load_scoring",
    "mark",
    "rescore",
    "rescore_all",
    "score_lead",
    "score_marked",
    "scoring_config",
]
