"""How fast inbound mail is read: classification alone, and ingest (store raw, match,
classify, act) through the real path into a fresh SQLite database, per core (CPU seconds).

    .venv/bin/python bench/replies.py [--rounds 3]

The messages are the labelled corpus (tests/corpus, about 600 messages of every kind), read
``--rounds`` times; ingest stores each round under fresh Message-IDs so nothing is a duplicate.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import re
import tempfile
import time
from pathlib import Path

from flufl.bounce import all_failures

from worker.clock import SystemClock
from worker.inbound.ingest import ingest
from worker.runtime import Runtime
from worker.settings import Settings
from worker.understanding import classify
from worker.understanding.learned import shipped_model

REPO = Path(__file__).resolve().parent.parent
MESSAGE_ID = re.compile(rb"^Message-ID:.*$", re.IGNORECASE | re.MULTILINE)


def corpus() -> list[bytes]:
    return [path.read_bytes() for path in sorted((REPO / "tests" / "corpus").rglob("*.eml"))]


def classify_rate(messages: list[bytes], rounds: int) -> float:
    started = time.process_time()
    for _ in range(rounds):
        for raw in messages:
            classify(raw)
    return rounds * len(messages) / (time.process_time() - started)


def peer_rates(messages: list[bytes], rounds: int) -> dict[str, float]:
    """Beside ours on the same messages: parsing alone (the floor of any reader) and
    flufl.bounce's scan for failed recipients (one of the jobs classify does)."""
    started = time.process_time()
    for _ in range(rounds):
        for raw in messages:
            email.message_from_bytes(raw, policy=email.policy.compat32)
    parse = rounds * len(messages) / (time.process_time() - started)
    parsed = [email.message_from_bytes(raw, policy=email.policy.default) for raw in messages]
    started = time.process_time()
    for _ in range(rounds):
        for message in parsed:
            all_failures(message)
    bounce = rounds * len(messages) / (time.process_time() - started)
    return {"parse only (email, compat32 as ours)": parse, "flufl.bounce all_failures": bounce}


def ingest_rate(messages: list[bytes], rounds: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        for name in ("sequences", "templates"):
            (home / name).symlink_to(REPO / name)
        (home / "mailboxes.yaml").symlink_to(REPO / "mailboxes.yaml")
        settings = Settings.from_env(
            {"DATABASE_URL": f"sqlite:///{home / 'bench.db'}", "OUTREACH_SECRET_KEY": "bench"},
            home=home,
        )
        runtime = Runtime.from_settings(settings, SystemClock())
        inbox = home / "inbox"
        inbox.mkdir()
        for n in range(rounds):
            for m, raw in enumerate(messages):
                fresh = MESSAGE_ID.sub(f"Message-ID: <bench-{n}-{m}@replies.example>".encode(), raw)
                (inbox / f"{n:02d}-{m:04d}.eml").write_bytes(fresh)
        runtime.engine  # noqa: B018 (migrate before the clock starts)
        started = time.process_time()
        report = ingest(runtime, str(inbox))
        spent = time.process_time() - started
        runtime.close()
        stored = report.stored
        return stored / spent, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    messages = corpus()
    started = time.process_time()
    shipped_model()
    classify(messages[0])
    print(f"model loaded once per process in {time.process_time() - started:.2f} s CPU")
    ours = classify_rate(messages, args.rounds)
    print(f"classify: {ours:,.0f} msg/s per core")
    for name, rate in peer_rates(messages, args.rounds).items():
        print(f"  peer {name}: {rate:,.0f} msg/s per core (classify is {ours / rate:.2f}x)")
    rate, stored = ingest_rate(messages, args.rounds)
    print(f"ingest (store, match, classify, act; SQLite): {rate:,.0f} msg/s per core ({stored})")


if __name__ == "__main__":
    main()
