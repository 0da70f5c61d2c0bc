"""Labelled replies for training and evaluating the reply model, from the formats teams keep.

- a folder of ``.eml`` files with ``labels.yaml`` (a list of ``{file, intent, …}``, the
  shipped corpus) or ``labels.csv`` (columns ``file`` and ``intent``, as ``outreach replies
  export --labelled`` writes them);
- a ``.jsonl`` file of reply texts, one ``{"text", "intent", …}`` object per line.

Every problem (a missing file, an unknown intent, a broken line) is reported with its place.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from worker.errors import ConfigError
from worker.understanding.model import INTENTS


@dataclass(frozen=True)
class Labelled:
    """One labelled reply: where it came from, its intent, and what else the label says."""

    source: str
    intent: str
    raw: bytes | None = None  # a whole message (.eml)
    text: str | None = None  # or only the person's words (.jsonl)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def return_date(self) -> date | None:
        value = self.extra.get("return_date")
        return date.fromisoformat(str(value)) if value else None

    @property
    def referral_email(self) -> str | None:
        value = self.extra.get("referral_email")
        return str(value).lower() if value else None


def load_labelled(path: Path, labels: Path | None = None) -> list[Labelled]:
    """The examples of a folder (with ``labels.yaml`` / ``labels.csv``, or ``labels``) or of a
    ``.jsonl`` file; ConfigError listing every problem."""
    if path.is_file() and path.suffix == ".jsonl":
        return _from_jsonl(path)
    if not path.is_dir():
        raise ConfigError(f"{path}: not a folder of .eml files or a .jsonl file")
    if labels is None:
        found = [p for p in (path / "labels.yaml", path / "labels.csv") if p.is_file()]
        if not found:
            raise ConfigError(f"{path}: no labels.yaml or labels.csv — pass --labels FILE")
        labels = found[0]
    rows = _label_rows(labels)
    problems: list[str] = []
    examples: list[Labelled] = []
    for where, row in rows:
        name, intent = str(row.get("file") or ""), str(row.get("intent") or "")
        if intent not in INTENTS:
            problems.append(f"{where}: unknown intent {intent!r} (known: {', '.join(INTENTS)})")
            continue
        file = path / name
        if not name or not file.is_file():
            problems.append(f"{where}: no message file {name!r} in {path}")
            continue
        extra = {k: v for k, v in row.items() if k not in ("file", "intent") and v}
        examples.append(Labelled(f"{path.name}/{name}", intent, raw=file.read_bytes(), extra=extra))
    if problems:
        raise ConfigError("\n".join(problems))
    return examples


def _label_rows(labels: Path) -> list[tuple[str, dict[str, Any]]]:
    if labels.suffix in (".yaml", ".yml"):
        data = yaml.safe_load(labels.read_text(encoding="utf-8")) or []
        if not isinstance(data, list):
            raise ConfigError(f"{labels}: expected a list of {{file, intent}} entries")
        return [(f"{labels}:entry {n}", dict(row)) for n, row in enumerate(data, 1)]
    with labels.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"file", "intent"} <= set(reader.fieldnames):
            raise ConfigError(f"{labels}:1: the header needs the columns file and intent")
        return [(f"{labels}:{n}", dict(row)) for n, row in enumerate(reader, 2)]


def _from_jsonl(path: Path) -> list[Labelled]:
    problems: list[str] = []
    examples: list[Labelled] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: not JSON ({exc.msg})")
            continue
        intent, text = row.get("intent"), row.get("text")
        if intent not in INTENTS or not isinstance(text, str):
            problems.append(f"{path}:{number}: needs a known 'intent' and a 'text'")
            continue
        extra = {k: v for k, v in row.items() if k not in ("intent", "text") and v is not None}
        examples.append(Labelled(f"{path.name}:{number}", intent, text=text, extra=extra))
    if problems:
        raise ConfigError("\n".join(problems))
    return examples


def load_many(paths: Iterable[Path]) -> list[Labelled]:
    """The examples of every path, in order."""
    return [example for path in paths for example in load_labelled(path)]


__all__ = ["Labelled", "load_labelled", "load_many"]
