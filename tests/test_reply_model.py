"""The learned reply model: reproducible training, the shipped weights, loading, the fallback,
the corpus formats and the train / evaluate commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.conftest import REPO
from worker.errors import ConfigError
from worker.understanding import judgement
from worker.understanding.corpus import load_labelled
from worker.understanding.features import features
from worker.understanding.intents import TextVerdict
from worker.understanding.learned import MODEL_FILE, load_model, save_model, shipped_model
from worker.understanding.training import (
    MACHINE_ONLY,
    corpus_digest,
    default_corpus,
    example_text,
    train,
)

TEXTS = REPO / "tests" / "corpus" / "texts" / "t1.jsonl"


def _small_corpus(tmp_path: Path, per_intent: int = 12) -> Path:
    """A few examples of each intent from the shipped texts, as a .jsonl file."""
    taken: dict[str, int] = {}
    lines = []
    for line in TEXTS.read_text(encoding="utf-8").splitlines():
        intent = json.loads(line)["intent"]
        if taken.get(intent, 0) < per_intent:
            taken[intent] = taken.get(intent, 0) + 1
            lines.append(line)
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_training_is_reproducible_and_a_saved_model_reads_the_same(tmp_path: Path) -> None:
    examples = load_labelled(_small_corpus(tmp_path))
    first, second = train(examples), train(examples)
    assert np.array_equal(first.model.coef, second.model.coef)
    assert first.model.temperature == second.model.temperature
    assert first.cv_accuracy == second.cv_accuracy
    save_model(first.model, tmp_path / "model.npz")
    loaded = load_model(tmp_path / "model.npz")
    text = "Yes, Thursday at 10 works. Send me an invite."
    assert loaded.classes == first.model.classes
    for name, p in first.model.probabilities(text).items():
        assert loaded.probabilities(text)[name] == pytest.approx(p, abs=2e-3)  # float16 weights


def test_the_shipped_model_was_trained_on_the_shipped_corpus() -> None:
    model = load_model(MODEL_FILE)
    examples = [e for path, labels in default_corpus(REPO) for e in load_labelled(path, labels)]
    assert len(examples) >= 1500
    texts = [example_text(e) for e in examples if e.intent not in MACHINE_ONLY]
    labels = np.asarray([e.intent for e in examples if e.intent not in MACHINE_ONLY])
    assert model.meta["corpus_sha256"] == corpus_digest(texts, labels), "run `make train`"
    assert model.meta["examples"] == len(texts)
    assert shipped_model() is shipped_model()  # loaded once per process


def test_probabilities_sum_to_one_and_an_unknown_word_changes_nothing() -> None:
    model = shipped_model()
    found = model.probabilities("Please take me off your list.")
    assert sum(found.values()) == pytest.approx(1.0)
    assert max(found, key=found.__getitem__) == "unsubscribe"
    # letters no training text holds: none of their n-grams is in the vocabulary
    assert model.probabilities("\ua66e\ua66e\ua66e") == model.probabilities(
        "\ua66e\ua66e\ua66e \ua66e\ua66e\ua66e"
    )


def test_without_a_model_the_phrase_tables_read_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise OSError("no such file")

    monkeypatch.setattr(judgement, "shipped_model", missing)
    verdict = judgement.judge("Not interested, thanks.", referred=False)
    assert isinstance(verdict, TextVerdict)
    assert verdict.intent == "negative"


def test_a_model_file_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.npz"
    with path.open("wb") as out:
        np.savez(out, meta=np.asarray([json.dumps({"format": 0})]))
    with pytest.raises(ValueError, match="format 0"):
        load_model(path)


def test_bad_labels_are_reported_with_their_place(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "a.eml").write_bytes(b"From: x@client.test\n\nYes please.\n")
    (folder / "labels.csv").write_text("file,intent\na.eml,keen\nb.eml,positive\n")
    with pytest.raises(ConfigError) as caught:
        load_labelled(folder)
    assert "labels.csv:2: unknown intent 'keen'" in str(caught.value)
    assert "labels.csv:3: no message file 'b.eml'" in str(caught.value)
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"intent": "positive", "text": "ok"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"t\.jsonl:2: not JSON"):
        load_labelled(texts)


def test_evaluate_scores_a_teams_own_labelled_mail(tmp_path: Path, project: Path) -> None:
    folder = tmp_path / "team"
    folder.mkdir()
    replies = {
        "yes.eml": ("positive", "Sounds good - Tuesday at 10 works, send an invite."),
        "no.eml": ("negative", "Not interested, we built our own forecasting."),
        "stop.eml": ("unsubscribe", "Please remove me from your mailing list."),
    }
    rows = ["file,intent"]
    for name, (intent, text) in replies.items():
        (folder / name).write_bytes(
            f"From: anna@client.test\nTo: ada@northwind.example\nSubject: Re: Northwind\n"
            f"Date: Mon, 30 Nov 2026 10:00:00 +0100\n\n{text}\n".encode()
        )
        rows.append(f"{name},{intent}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    invoke = make_invoke(project, f"sqlite:///{tmp_path / 'x.db'}")
    try:
        shown = invoke("replies", "evaluate", str(folder))
        as_json = invoke("replies", "evaluate", str(folder), "--json")
    finally:
        reset_cli_runtime()
    assert shown.exit_code == 0, shown.output
    assert "accuracy: 3/3 = 100.0%" in shown.output
    assert "false unsubscribe: 0" in shown.output
    scores = json.loads(as_json.output)
    assert scores["by_intent"]["positive"] == {"right": 1, "total": 1}
    assert scores["false_actions"] == {"unsubscribe": [], "bounce": [], "lost": []}


def test_train_writes_a_model_from_a_teams_examples(tmp_path: Path, project: Path) -> None:
    target = tmp_path / "team-model.npz"
    invoke = make_invoke(project, f"sqlite:///{tmp_path / 'x.db'}")
    try:
        result = invoke(
            "replies",
            "train",
            "--corpus",
            str(_small_corpus(tmp_path, per_intent=8)),
            "--no-shipped",
            "--out",
            str(target),
            "--json",
        )
    finally:
        reset_cli_runtime()
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["examples"] == 88
    assert 0 < figures["cv_accuracy"] <= 1
    assert load_model(target).meta["examples"] == 88


def test_the_model_reads_the_same_features_as_training_does_to_the_last_bit() -> None:
    """At run time the model counts column numbers, remembering each word's; what it counts
    must be exactly what ``features`` gives (in the same order, so sums agree to the bit)."""
    model = shipped_model()
    texts = [json.loads(line)["text"] for line in TEXTS.read_text(encoding="utf-8").splitlines()]
    texts += ["", "ja", "Ja gerne!", "x" * 9_000, "a " * 500, "Call me on +49 30 1234, ok?"]
    for text in texts[:400] * 2:  # the second time from the remembered words
        counts = features(text)
        known = [(model.index[name], n) for name, n in counts.items() if name in model.index]
        columns, values = model.known_features(text)
        assert columns.tolist() == [column for column, _ in known]
        assert values.tolist() == [float(n) for _, n in known]
