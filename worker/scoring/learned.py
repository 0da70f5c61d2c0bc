"""The learned score at run time: a logistic regression over ``features``, applied with numpy.

``outreach scoring train`` writes it to ``scoring_model.json`` in the project folder (feature
names, coefficients, intercept, how it did on held-out leads); ``load_model`` reads it back.
The score is the win probability x 100; ``explain`` names the features that moved it most.
Applying it needs numpy only, never scikit-learn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from worker.errors import ConfigError

MODEL_NAME = "scoring_model.json"
FORMAT = 1


@dataclass(frozen=True)
class LearnedModel:
    """Feature names, coefficients and intercept of one trained model, with its metadata."""

    names: tuple[str, ...]
    coef: NDArray[np.float64]
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {name: n for n, name in enumerate(self.names)})

    def vector(self, features: Mapping[str, float]) -> NDArray[np.float64]:
        """``features`` in the model's columns (features it does not know are left out)."""
        row = np.zeros(len(self.names))
        for name, value in features.items():
            column = self.index.get(name)
            if column is not None:
                row[column] = value
        return row

    def probability(self, features: Mapping[str, float]) -> float:
        """The chance that a lead with these features is won."""
        logit = self.intercept + float(self.vector(features) @ self.coef)
        return _sigmoid(logit)

    def score(self, features: Mapping[str, float]) -> float:
        """The score, 0-100: the win probability x 100 (one decimal)."""
        return round(100.0 * self.probability(features), 1)

    def scores(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """Scores (0-100) of many leads at once, ``rows`` in the model's columns."""
        logits = self.intercept + rows @ self.coef
        return 100.0 / (1.0 + np.exp(-logits))

    def explain(self, features: Mapping[str, float], top: int = 5) -> list[dict[str, Any]]:
        """The features that moved this lead's score most: ``{feature, value, points}``, points
        being coefficient x value (log-odds: + towards won, - towards lost), largest first."""
        moved = [
            (name, value, float(self.coef[column]) * value)
            for name, value in features.items()
            if (column := self.index.get(name)) is not None and value
        ]
        moved.sort(key=lambda item: (-abs(item[2]), item[0]))
        return [
            {"feature": name, "value": round(value, 3), "points": round(points, 3)}
            for name, value, points in moved[:top]
        ]

    def weights(self, top: int = 10) -> list[tuple[str, float]]:
        """The model's largest coefficients (name, coefficient), largest magnitude first."""
        order = sorted(range(len(self.names)), key=lambda n: (-abs(self.coef[n]), self.names[n]))
        return [(self.names[n], round(float(self.coef[n]), 3)) for n in order[:top]]

    def to_json(self) -> dict[str, Any]:
        """The model as ``scoring_model.json`` holds it."""
        return {
            **self.meta,
            "format": FORMAT,
            "features": list(self.names),
            "coefficients": [round(float(c), 6) for c in self.coef],
            "intercept": round(self.intercept, 6),
        }


def _sigmoid(logit: float) -> float:
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    exp = math.exp(logit)
    return exp / (1.0 + exp)


def model_path(home: Path) -> Path:
    """Where the project's learned model lives."""
    return home / MODEL_NAME


def save_model(model: LearnedModel, home: Path) -> Path:
    """Write ``model`` to the project folder (replacing the file in one step)."""
    path = model_path(home)
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(model.to_json(), indent=2, sort_keys=True) + "\n", "utf-8")
    partial.replace(path)
    return path


def load_model(home: Path) -> LearnedModel | None:
    """The project's learned model, or None when none was trained. Read once per version of
    the file (its modification time and size): the tick asks for it every batch."""
    path = model_path(home)
    try:
        stamp = path.stat()
    except FileNotFoundError:
        return None
    return _read_model(path, stamp.st_mtime_ns, stamp.st_size)


@lru_cache(maxsize=4)
def _read_model(path: Path, mtime_ns: int, size: int) -> LearnedModel:
    """``path``'s model; ``mtime_ns`` and ``size`` only key the cache."""
    del mtime_ns, size
    try:
        data = json.loads(path.read_text("utf-8"))
        if data.get("format") != FORMAT:
            raise ConfigError(
                f"{path}: scoring model format {data.get('format')!r}, this version reads "
                f"{FORMAT} — run 'outreach scoring train' again."
            )
        names = tuple(str(name) for name in data["features"])
        coef = np.asarray(data["coefficients"], dtype=np.float64)
        if coef.shape != (len(names),):
            raise ValueError("as many coefficients as features are needed")
        meta = {
            key: value
            for key, value in data.items()
            if key not in {"format", "features", "coefficients", "intercept"}
        }
        return LearnedModel(names=names, coef=coef, intercept=float(data["intercept"]), meta=meta)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{path}: not a scoring model ({exc}) — run 'outreach scoring train' again."
        ) from None


__all__ = ["MODEL_NAME", "LearnedModel", "load_model", "model_path", "save_model"]
