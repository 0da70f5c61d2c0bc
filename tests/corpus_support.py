"""The labelled corpus of inbound replies (``tests/corpus``): load ``labels.yaml`` and check it
against the messages on disk. The same for the held-out sets (``tests/corpus/holdout`` and
``tests/corpus/holdout2``, each with its own ``labels.yaml``): ``load_corpus(HOLDOUT_LABELS,
HOLDOUT)``, ``load_corpus(HOLDOUT2_LABELS, HOLDOUT2)``.

Every ``messages/<intent>/*.eml`` has exactly one entry in ``labels.yaml`` and the other way
round; the folder names the intent; ``return_date`` appears only on ``ooo`` messages and
``referral_email`` only on ``referral`` and ``left_company`` ones. :func:`load_corpus` raises
:class:`CorpusError` listing every problem at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from worker.understanding import INTENTS

# The intents of the .eml corpus and the held-out sets; later, data_request and left_company
# came with the reply model, and their examples are in texts/ and spent/.
CORPUS_INTENTS = tuple(
    i for i in INTENTS if i not in ("later", "data_request", "left_company", "complaint")
)

CORPUS = Path(__file__).resolve().parent / "corpus"
MESSAGES = CORPUS / "messages"
LABELS = CORPUS / "labels.yaml"
HOLDOUT = CORPUS / "holdout"  # written after the classifier, never used to tune it
HOLDOUT_LABELS = HOLDOUT / "labels.yaml"
HOLDOUT2 = CORPUS / "holdout2"  # a second one, written the same way by another hand
HOLDOUT2_LABELS = HOLDOUT2 / "labels.yaml"

LANGUAGES = ("en", "de")
STYLES = (
    "outlook",
    "exchange",
    "gmail",
    "apple",
    "thunderbird",
    "gmx",
    "postfix",
    "dovecot-sieve",
    "exim",
    "other",
)
_REQUIRED = ("file", "intent", "language", "style")
_OPTIONAL = ("return_date", "referral_email", "note")


class CorpusError(Exception):
    """Raised when labels.yaml and the messages on disk disagree; lists every problem."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(["The reply corpus is inconsistent:", *self.problems]))


@dataclass(frozen=True)
class Label:
    """What a human reader says about one message of the corpus."""

    file: str
    intent: str
    language: str
    style: str
    return_date: date | None = None
    referral_email: str | None = None
    note: str | None = None
    root: Path = field(default=MESSAGES, repr=False, compare=False)

    @property
    def path(self) -> Path:
        """The message file."""
        return self.root / self.file

    def read(self) -> bytes:
        """The message as stored, byte for byte."""
        return self.path.read_bytes()


def _label(index: int, entry: Any, root: Path = MESSAGES) -> tuple[Label | None, list[str]]:
    """One labels.yaml entry as a Label, or the problems that prevent it."""
    where = f"labels.yaml entry {index + 1}"
    if not isinstance(entry, dict):
        return None, [f"{where}: expected a mapping, got {type(entry).__name__}"]
    problems = [f"{where}: missing key {key!r}" for key in _REQUIRED if key not in entry]
    problems += [
        f"{where}: unknown key {key!r} (allowed: {', '.join(_REQUIRED + _OPTIONAL)})"
        for key in entry
        if key not in _REQUIRED + _OPTIONAL
    ]
    if problems:
        return None, problems
    file = str(entry["file"])
    where = f"labels.yaml {file}"
    for key, allowed in (("intent", INTENTS), ("language", LANGUAGES), ("style", STYLES)):
        if entry[key] not in allowed:
            problems.append(f"{where}: {key} {entry[key]!r} is not one of {', '.join(allowed)}")
    raw_date = entry.get("return_date")
    return_date = raw_date if isinstance(raw_date, date) else None
    if isinstance(raw_date, str):
        try:
            return_date = date.fromisoformat(raw_date)
        except ValueError:
            problems.append(f"{where}: return_date {raw_date!r} is not an ISO date")
    elif raw_date is not None and return_date is None:
        problems.append(f"{where}: return_date must be an ISO date (YYYY-MM-DD)")
    referral = entry.get("referral_email")
    if referral is not None and (not isinstance(referral, str) or "@" not in referral):
        problems.append(f"{where}: referral_email {referral!r} is not an email address")
    if problems:
        return None, problems
    label = Label(
        file=file,
        intent=entry["intent"],
        language=entry["language"],
        style=entry["style"],
        return_date=return_date,
        referral_email=referral,
        note=entry.get("note"),
        root=root,
    )
    return label, []


def load_labels(path: Path = LABELS, root: Path = MESSAGES) -> tuple[list[Label], list[str]]:
    """Every entry of labels.yaml that is well formed (files below ``root``), and the problems
    of the others."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        return [], [f"{path.name}: expected a list of entries"]
    labels: list[Label] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        label, errors = _label(index, entry, root)
        problems += errors
        if label is not None:
            labels.append(label)
    return labels, problems


def check_labels(labels: list[Label], messages: Path = MESSAGES) -> list[str]:
    """Problems between the labels and the .eml files under ``messages``."""
    problems: list[str] = []
    on_disk = {p.relative_to(messages).as_posix() for p in messages.rglob("*.eml")}
    seen: set[str] = set()
    for label in labels:
        if label.file in seen:
            problems.append(f"{label.file}: labelled twice")
        seen.add(label.file)
        if label.file not in on_disk:
            problems.append(f"{label.file}: labelled, but there is no such file")
        folder = label.file.split("/", 1)[0]
        if folder != label.intent:
            problems.append(f"{label.file}: in folder {folder!r} but labelled {label.intent!r}")
        if label.return_date is not None and label.intent != "ooo":
            problems.append(f"{label.file}: return_date on a {label.intent!r} message")
        if label.referral_email is not None and label.intent not in ("referral", "left_company"):
            problems.append(f"{label.file}: referral_email on a {label.intent!r} message")
        if label.intent == "referral" and label.referral_email is None:
            problems.append(f"{label.file}: a referral without referral_email")
    problems += [f"{file}: no entry in labels.yaml" for file in sorted(on_disk - seen)]
    return problems


def load_corpus(path: Path = LABELS, messages: Path = MESSAGES) -> list[Label]:
    """The checked labels of the whole corpus, in labels.yaml order."""
    labels, problems = load_labels(path, messages)
    problems += check_labels(labels, messages)
    if problems:
        raise CorpusError(problems)
    return labels
