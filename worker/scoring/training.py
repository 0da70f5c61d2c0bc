"""Learn the score from the team's decisions: logistic regression on won vs lost leads
(``outreach scoring train``). Needs the ``train`` extra (scikit-learn); applying does not.

Each decided lead is read as of its decision (``features``), so the model learns what a lead
looked like *before* it was won or lost. The older 75 % of decisions train, the newest 25 %
are held out and measure: AUC with a bootstrap confidence interval, calibration (Brier score
and a reliability table) and the lift of the top decile; the rules score (``scoring.yaml``)
is measured on the same held-out leads. The saved model is then fitted again on every
decided lead. Class weights are balanced (wins are rarer); the intercept is moved back by the
training win rate, so that the score is a win probability again.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from numpy.typing import NDArray
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.errors import OutreachError
from worker.scoring.config import scoring_config
from worker.scoring.features import Features, decision_cutoffs, decisions, read_features
from worker.scoring.learned import LearnedModel
from worker.scoring.rules import kinds_needed, score_lead
from worker.store.models import Event, Lead

SEED = 20261207
C = 1.0  # inverse L2 strength
MIN_LEADS = 50  # decided leads, at least
MIN_CLASS = 15  # of the rarer outcome, at least
TEST_SHARE = 0.25
MIN_TEST_CLASS = 5  # of each outcome in the held-out leads, else a stratified split
MIN_SUPPORT = 5  # a feature seen on fewer training leads is noise
MAX_FIELD_VALUES = 12  # a custom field with more values is not a category
BOOTSTRAP = 1000
MARGIN = 0.02  # AUC the model must gain over the rules to be called better
RELIABILITY_BINS = 5
RULES_CHUNK = 500  # leads scored by the rules per query


class NotEnoughHistoryError(OutreachError):
    """Raised when too few leads are won or lost yet to learn from; says how many more."""


@dataclass(frozen=True)
class History:
    """The decided leads as of their decisions: ids, outcomes, times and features."""

    lead_ids: list[int]
    won: NDArray[np.bool_]
    decided_at: list[datetime]
    rows: list[Features]

    @property
    def counts(self) -> dict[str, int]:
        won = int(self.won.sum())
        return {"decided": len(self.won), "won": won, "lost": len(self.won) - won}


@dataclass(frozen=True)
class Measure:
    """How one score did on the held-out leads."""

    auc: float
    auc_ci: tuple[float, float]
    brier: float | None = None
    reliability: list[dict[str, float]] = field(default_factory=list)
    lift_top_decile: float = 0.0


@dataclass(frozen=True)
class Training:
    """A trained model, how it and the rules did on held-out leads, and the verdict."""

    model: LearnedModel
    counts: dict[str, int]
    split: dict[str, Any]
    learned: Measure
    rules: Measure | None
    rules_note: str
    difference_ci: tuple[float, float] | None
    has_skill: bool
    beats_rules: bool | None

    @property
    def verdict(self) -> str:
        """One sentence: does the model have skill, does it beat the rules, how to switch."""
        if not self.has_skill:
            return (
                "no skill: the model's AUC interval includes 0.5 - it ranks held-out leads no "
                "better than chance; keep the rules (`model: rules` in scoring.yaml)."
            )
        if self.rules is None or self.difference_ci is None:
            return (
                "the model has skill (AUC interval above 0.5); with no rules score to compare, "
                "judge it yourself before switching (`model: learned` in scoring.yaml)."
            )
        low, high = self.difference_ci
        gain = self.learned.auc - self.rules.auc
        if self.beats_rules:
            return (
                f"the model beats the rules: AUC {gain:+.3f} (95 % interval {low:+.3f} to "
                f"{high:+.3f}) - switch with `model: learned` in scoring.yaml."
            )
        return (
            f"the model does not beat the rules: AUC {gain:+.3f} (95 % interval {low:+.3f} to "
            f"{high:+.3f}; it must stay above 0 and gain {MARGIN}) - keep `model: rules` in "
            "scoring.yaml."
        )

    def figures(self) -> dict[str, Any]:
        """Everything the command prints, JSON-ready: the model's metadata, its strongest
        weights and the verdict."""
        weights = [{"feature": n, "coefficient": c} for n, c in self.model.weights(10)]
        return {**self.model.meta, "weights": weights, "verdict": self.verdict}


def load_history(session: Session) -> History:
    """Every decided lead, oldest decision first, with its features as of the decision."""
    decided = decisions(session)
    rows = read_features(session, decision_cutoffs())
    return History(
        lead_ids=[d.lead_id for d in decided],
        won=np.asarray([d.won for d in decided], dtype=bool),
        decided_at=[d.at for d in decided],
        rows=[rows.get(d.lead_id, {}) for d in decided],
    )


def check_history(
    counts: dict[str, int], min_leads: int = MIN_LEADS, min_class: int = MIN_CLASS
) -> None:
    """Raise ``NotEnoughHistoryError`` saying how many more won and lost leads are needed."""
    won, lost, decided = counts["won"], counts["lost"], counts["decided"]
    more_won, more_lost = max(0, min_class - won), max(0, min_class - lost)
    more_any = max(0, min_leads - decided - more_won - more_lost)
    if not (more_won or more_lost or more_any):
        return
    needed = [f"{n} more {what} leads" for n, what in ((more_won, "won"), (more_lost, "lost")) if n]
    if more_any:
        needed.append(f"{more_any} more {'of either outcome' if needed else 'won or lost leads'}")
    raise NotEnoughHistoryError(
        f"too little history to learn from: {decided} decided leads ({won} won, {lost} lost); "
        f"training needs at least {min_leads}, with {min_class} of each outcome — it needs "
        f"{' and '.join(needed)}. Nothing was written."
    )


def split(history: History) -> tuple[NDArray[np.int64], NDArray[np.int64], dict[str, Any]]:
    """Train and held-out positions: the newest decisions held out, or a seeded stratified
    split when the newest lack either outcome."""
    n = len(history.won)
    test_n = max(1, math.ceil(n * TEST_SHARE))
    order = np.arange(n)  # history is oldest decision first
    fit_at, test_at = order[: n - test_n], order[n - test_n :]
    if (
        min(_outcomes(history.won[test_at])) >= MIN_TEST_CLASS
        and min(_outcomes(history.won[fit_at])) >= MIN_TEST_CLASS
    ):
        return fit_at, test_at, {"kind": "time", "held_out_from": history.decided_at[test_at[0]]}
    fit_at, test_at = train_test_split(
        order, test_size=test_n, stratify=history.won, random_state=SEED
    )
    why = "the newest decisions lack enough of one outcome"
    return np.sort(fit_at), np.sort(test_at), {"kind": "stratified", "why": why}


def _outcomes(won: NDArray[np.bool_]) -> tuple[int, int]:
    return int(won.sum()), int((~won).sum())


def vocabulary(rows: Sequence[Features]) -> list[str]:
    """The features worth a column: seen on ``MIN_SUPPORT`` leads or more, and for custom
    fields only those with at most ``MAX_FIELD_VALUES`` values."""
    seen = Counter(name for row in rows for name in row)
    values: defaultdict[str, set[str]] = defaultdict(set)
    for name in seen:
        if name.startswith("field:"):
            key, _, value = name.partition("=")
            values[key].add(value)
    many = {key for key, found in values.items() if len(found) > MAX_FIELD_VALUES}
    return sorted(
        name for name, n in seen.items() if n >= MIN_SUPPORT and name.partition("=")[0] not in many
    )


def matrix(rows: Sequence[Features], names: Sequence[str]) -> NDArray[np.float64]:
    """``rows`` as a dense matrix in the columns ``names``."""
    index = {name: n for n, name in enumerate(names)}
    found = np.zeros((len(rows), len(names)))
    for r, row in enumerate(rows):
        for name, value in row.items():
            column = index.get(name)
            if column is not None:
                found[r, column] = value
    return found


def fit(rows: Sequence[Features], won: NDArray[np.bool_], c: float = C) -> LearnedModel:
    """Logistic regression (L2, balanced class weights) on ``rows``; the intercept moved back
    by the win rate so that scores are probabilities."""
    names = vocabulary(rows)
    if not names:
        raise NotEnoughHistoryError(
            f"no feature is seen on {MIN_SUPPORT} decided leads or more — give the leads fields "
            "(title, industry, team_size …) or wait for engagement to be recorded."
        )
    x = matrix(rows, names)
    fitted = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    fitted.fit(x, won)
    rate = float(won.mean())
    intercept = float(fitted.intercept_[0]) + math.log(rate / (1.0 - rate))
    return LearnedModel(
        names=tuple(names), coef=fitted.coef_[0].astype(np.float64), intercept=intercept
    )


def auc(scores: NDArray[np.float64], won: NDArray[np.bool_]) -> float:
    """Area under the ROC curve: the chance a won lead outscores a lost one (ties half)."""
    wins = int(won.sum())
    losses = len(won) - wins
    if not wins or not losses:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[won].sum() - wins * (wins + 1) / 2) / (wins * losses))


def bootstrap(
    won: NDArray[np.bool_],
    statistic: Callable[[NDArray[np.int64]], float],
    rounds: int = BOOTSTRAP,
) -> tuple[float, float]:
    """The 95 % interval of ``statistic`` over resamples (seeded) of the held-out leads."""
    rng = np.random.default_rng(SEED)
    found = []
    for _ in range(rounds):
        at = rng.integers(0, len(won), len(won))
        if won[at].all() or not won[at].any():
            continue
        found.append(statistic(at))
    low, high = np.percentile(found, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def measure(scores: NDArray[np.float64], won: NDArray[np.bool_], probabilities: bool) -> Measure:
    """AUC with its interval, lift of the top decile, and (for probabilities) calibration."""
    point = auc(scores, won)
    interval = bootstrap(won, lambda at: auc(scores[at], won[at]))
    top = max(1, math.ceil(len(won) * 0.1))
    order = np.lexsort((np.arange(len(won)), -scores))
    lift = float(won[order[:top]].mean() / won.mean())
    if not probabilities:
        return Measure(round(point, 4), interval, lift_top_decile=round(lift, 2))
    brier = float(((scores - won) ** 2).mean())
    return Measure(
        round(point, 4), interval, round(brier, 4), reliability(scores, won), round(lift, 2)
    )


def reliability(p: NDArray[np.float64], won: NDArray[np.bool_]) -> list[dict[str, float]]:
    """Predicted against observed win rate in ``RELIABILITY_BINS`` equal-width bins."""
    table = []
    edges = np.linspace(0.0, 1.0, RELIABILITY_BINS + 1)
    for low, high in itertools.pairwise(edges):
        inside = (p >= low) & ((p < high) | (high >= 1.0))
        if inside.any():
            table.append(
                {
                    "from": round(float(low), 2),
                    "to": round(float(high), 2),
                    "leads": int(inside.sum()),
                    "predicted": round(float(p[inside].mean()), 3),
                    "won": round(float(won[inside].mean()), 3),
                }
            )
    return table


RulesScorer = Callable[[Session, Sequence[int], Sequence[datetime]], list[float]]


def train(
    session: Session,
    home: Path,
    *,
    now: datetime,
    min_leads: int = MIN_LEADS,
    min_class: int = MIN_CLASS,
    rules: RulesScorer | str | None = None,
) -> Training:
    """Train on the decided leads in ``session``'s database and measure on held-out ones.

    ``rules`` scores leads by the rules as of given times; a string says why there is no
    rules score; None: find the project's (``worker.scoring.rules``, ``scoring.yaml``).
    Raises ``NotEnoughHistoryError`` (nothing is written) with too few decisions.
    """
    history = load_history(session)
    check_history(history.counts, min_leads, min_class)
    fit_at, test_at, how = split(history)
    held = fit([history.rows[i] for i in fit_at], history.won[fit_at])
    won = history.won[test_at]
    probabilities = held.scores(matrix([history.rows[i] for i in test_at], held.names)) / 100
    learned = measure(probabilities, won, probabilities=True)
    has_skill = learned.auc_ci[0] > 0.5
    scorer = find_rules_scorer(home) if rules is None else rules
    rules_measure, difference, beats = None, None, None
    if isinstance(scorer, str):
        note = scorer
    else:
        ids = [history.lead_ids[i] for i in test_at]
        times = [history.decided_at[i] for i in test_at]
        rule_scores = np.asarray(scorer(session, ids, times), dtype=np.float64)
        rules_measure = measure(rule_scores, won, probabilities=False)
        difference = bootstrap(
            won, lambda at: auc(probabilities[at], won[at]) - auc(rule_scores[at], won[at])
        )
        gain = learned.auc - rules_measure.auc
        beats = difference[0] > 0 and gain >= MARGIN
        note = "rules score from scoring.yaml, as of each decision"
    final = fit(history.rows, history.won)
    meta = {
        "trained_at": now.isoformat(),
        "counts": {**history.counts, "train": len(fit_at), "held_out": len(test_at)},
        "split": {k: str(v) if isinstance(v, datetime) else v for k, v in how.items()},
        "metrics": _metrics(learned),
        "rules": None if rules_measure is None else _metrics(rules_measure),
        "rules_note": note,
        "auc_difference_ci": difference,
        "has_skill": has_skill,
        "beats_rules": beats,
        "c": C,
        "seed": SEED,
        "sklearn": sklearn.__version__,
    }
    model = LearnedModel(final.names, final.coef, final.intercept, meta)
    return Training(
        model=model,
        counts=meta["counts"],
        split=meta["split"],
        learned=learned,
        rules=rules_measure,
        rules_note=note,
        difference_ci=difference,
        has_skill=has_skill,
        beats_rules=beats,
    )


def _metrics(found: Measure) -> dict[str, Any]:
    return {
        "auc": found.auc,
        "auc_ci": list(found.auc_ci),
        "brier": found.brier,
        "reliability": found.reliability,
        "lift_top_decile": found.lift_top_decile,
    }


def find_rules_scorer(home: Path) -> RulesScorer | str:
    """The rules score of ``scoring.yaml`` as a ``RulesScorer``, or why there is none."""
    if not (home / "scoring.yaml").exists():
        return f"no rules score to compare with: {home / 'scoring.yaml'} does not exist"
    config, problems = scoring_config(home)
    if config is None:
        first = f" ({problems[0]})" if problems else ""
        return f"no rules score to compare with: scoring.yaml is invalid{first}"
    kinds = kinds_needed(config)

    def score(session: Session, lead_ids: Sequence[int], times: Sequence[datetime]) -> list[float]:
        """Each lead's rules score as of its time, from the events strictly before it."""
        found: dict[int, float] = {}
        cutoff = dict(zip(lead_ids, times, strict=True))
        for start in range(0, len(lead_ids), RULES_CHUNK):
            chunk = list(lead_ids[start : start + RULES_CHUNK])
            by_lead: defaultdict[int, list[Event]] = defaultdict(list)
            if kinds:
                wanted = select(Event).where(Event.lead_id.in_(chunk), Event.kind.in_(kinds))
                for event in session.scalars(wanted):
                    if event.lead_id is not None and event.at < cutoff[event.lead_id]:
                        by_lead[event.lead_id].append(event)
            for lead in session.scalars(select(Lead).where(Lead.id.in_(chunk))):
                at = cutoff[lead.id]
                found[lead.id] = score_lead(config, lead, by_lead[lead.id], at).value
            session.expunge_all()
        return [found[i] for i in lead_ids]

    return score


__all__ = [
    "MIN_CLASS",
    "MIN_LEADS",
    "History",
    "Measure",
    "NotEnoughHistoryError",
    "Training",
    "auc",
    "check_history",
    "find_rules_scorer",
    "fit",
    "load_history",
    "measure",
    "split",
    "train",
]
