"""How fast inbound mail is read: classification alone, ingest of the corpus, and ingest of a
maildir of replies to sent touches, on SQLite and PostgreSQL, per core (CPU seconds).

    .venv/bin/python bench/replies.py [--rounds 3] [--maildir 10000] [--only PHASES]

The corpus phases read the labelled corpus (tests/corpus, every kind of message) ``--rounds``
times; ingest stores each round under fresh Message-IDs so nothing is a duplicate.

The maildir phases build a fresh project whose ``--maildir`` leads were each sent the first
touch of ``prospecting``, and a maildir of as many replies: corpus messages with fresh
Message-IDs, nine in ten answering a touch (In-Reply-To and References), one in twenty from the
lead's own address with no reference, one in twenty matching nothing. ``outreach inbox ingest``'s
function is timed end to end (read the maildir, store raw, match, classify, act) in CPU seconds
of this process; on PostgreSQL the server's CPU is printed beside it. A digest of the outcome
(statuses, intents, matches, events, review items, lead states) shows whether two versions of
the code decided the same.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import hashlib
import os
import re
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from datagen import _insert, bulk_enrolled_leads, copy_project
from flufl.bounce import all_failures
from profiling import CpuMeter

from worker.clock import SystemClock, VirtualClock
from worker.inbound.ingest import ingest
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store.models import (
    Enrollment,
    Event,
    InboundMessage,
    Lead,
    ReportDirty,
    ReviewItem,
    Suppression,
    Touch,
)
from worker.understanding import classify
from worker.understanding.learned import shipped_model

REPO = Path(__file__).resolve().parent.parent
MESSAGE_ID = re.compile(rb"^Message-ID:.*$", re.IGNORECASE | re.MULTILINE)
PHASES = ("classify", "corpus", "sqlite", "postgres")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
APP = "bench_replies"
NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)
_REPLACED = {b"message-id", b"in-reply-to", b"references"}


def corpus() -> list[bytes]:
    return [path.read_bytes() for path in sorted((REPO / "tests" / "corpus").rglob("*.eml"))]


def load() -> str:
    return "load " + " ".join(f"{value:.2f}" for value in os.getloadavg())


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


# ---- the maildir of replies to sent touches ---------------------------------------------------


def rewrite(raw: bytes, message_id: str, refers_to: str | None, sender: str | None) -> bytes:
    """``raw`` with a new Message-ID, In-Reply-To and References naming ``refers_to`` (the old
    ones dropped), and the From header replaced by ``sender`` when given."""
    ends = [found for found in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if found >= 0]
    cut = min(ends) if ends else len(raw)
    head, body = raw[:cut], raw[cut:]
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    kept: list[bytes] = []
    dropping = False
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        dropping = name in _REPLACED or (sender is not None and name == b"from")
        if not dropping:
            kept.append(line)
    added = [f"Message-ID: {message_id}".encode()]
    if refers_to is not None:
        added += [f"In-Reply-To: {refers_to}".encode(), f"References: {refers_to}".encode()]
    if sender is not None:
        added.append(f"From: <{sender}>".encode())
    return newline.join(added + kept) + body


def sent_project(runtime: Runtime, count: int) -> list[tuple[str, str]]:
    """``count`` leads enrolled in prospecting, each sent its first touch a week ago;
    (address, Message-ID of the touch) for each."""
    sent_at = NOW - timedelta(days=7)
    engine = runtime.engine
    bulk_enrolled_leads(engine, total=count, due=0, now=sent_at - timedelta(days=1))
    with engine.begin() as conn:
        emails = dict(conn.execute(sa.select(Lead.id, Lead.email)).all())
        touches = [
            {
                "id": lead_id,
                "enrollment_id": lead_id,
                "lead_id": lead_id,
                "sequence": "prospecting",
                "step_index": 0,
                "status": "sent",
                "due_at": sent_at,
                "created_at": sent_at,
                "available_at": sent_at,
                "finished_at": sent_at,
                "attempts": 1,
                "mailbox": "sales",
                "message_id": f"<touch-{lead_id}@northwind-analytics.example>",
                "subject": "A question about your forecast calls",
                "kind": "email",
            }
            for lead_id in sorted(emails)
        ]
        for start in range(0, len(touches), 20_000):
            _insert(conn, Touch, touches[start : start + 20_000])
        conn.execute(
            sa.update(Enrollment).values(
                current_step=1, next_due_at=NOW + timedelta(days=3), last_message_id=None
            )
        )
        if conn.dialect.name == "postgresql":
            for table in ("leads", "enrollments", "touches"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            conn.exec_driver_sql("ANALYZE")
    return [(emails[t["id"]], str(t["message_id"])) for t in touches]


def write_maildir(folder: Path, messages: list[bytes], leads: list[tuple[str, str]]) -> None:
    """One reply per lead, in ``folder/new``; the kinds cycle through the corpus."""
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True)
    for k, (address, touch_id) in enumerate(leads):
        raw = messages[k % len(messages)]
        fresh = f"<bench-reply-{k}@replies.example>"
        if k % 20 == 19:  # matches nothing
            data = rewrite(raw, fresh, None, None)
        elif k % 20 == 9:  # from the lead's address, no reference
            data = rewrite(raw, fresh, None, address)
        else:
            data = rewrite(raw, fresh, touch_id, None)
        (folder / "new" / f"{k:06d}.bench").write_bytes(data)


def outcome_digest(runtime: Runtime) -> tuple[str, Counter[str]]:
    """A hash of what ingest decided (no times), and the statuses and intents counted."""
    digest = hashlib.sha256()
    counts: Counter[str] = Counter()
    with runtime.sessions() as session:
        rows = session.execute(
            sa.select(
                InboundMessage.id,
                InboundMessage.status,
                InboundMessage.intent,
                InboundMessage.confidence,
                InboundMessage.lead_id,
                InboundMessage.touch_id,
                InboundMessage.matched_by,
                InboundMessage.return_date,
                InboundMessage.referral_email,
                InboundMessage.from_address,
                InboundMessage.subject,
                InboundMessage.reply_text,
                InboundMessage.classification,
            ).order_by(InboundMessage.id)
        )
        for row in rows:
            digest.update(repr(tuple(row)).encode())
            counts[f"{row.status}:{row.intent}"] += 1
        for query in (
            sa.select(Event.lead_id, Event.kind, Event.cause, Event.detail).order_by(Event.id),
            sa.select(ReviewItem.lead_id, ReviewItem.inbound_id, ReviewItem.reason).order_by(
                ReviewItem.id
            ),
            sa.select(Lead.id, Lead.status, Lead.stage).order_by(Lead.id),
            sa.select(Enrollment.id, Enrollment.status, Enrollment.sequence).order_by(
                Enrollment.id
            ),
        ):
            for row in session.execute(query):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()[:16], counts


def dump_state(runtime: Runtime, path: Path, folder: str) -> str:
    """Write every row ingest may touch to ``path`` (every column but ``raw``, the temporary
    ``folder`` written as ``<tmp>``; the leads the report must compute again as a set),
    ordered by id; return the file's hash.

    Stricter than ``outcome_digest``: two versions of the code that write the same rows in
    the same order write the same file (``diff`` shows where two differ)."""
    lines: list[str] = []
    with runtime.sessions() as session:
        for model in (Lead, Enrollment, Touch, Event, ReviewItem, InboundMessage, Suppression):
            table = model.__table__  # type: ignore[attr-defined]
            columns = [c for c in table.columns if c.name != "raw"]
            query = sa.select(*columns).order_by(table.c.id)
            for row in session.execute(query):
                values = dict(row._mapping)
                if "detail" in values and isinstance(values["detail"], dict):
                    values["detail"] = sorted(values["detail"].items())
                if isinstance(values.get("classification"), dict):
                    values["classification"] = sorted(values["classification"].items())
                lines.append(f"{table.name} {values!r}")
        dirty = session.scalars(sa.select(ReportDirty.lead_id).distinct())
        lines.append(f"report_dirty {sorted(dirty)!r}")
    text = "\n".join(lines).replace(folder, "<tmp>") + "\n"
    path.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def backend_pids(runtime: Runtime) -> list[int]:
    """The PostgreSQL server processes serving this bench (tagged by application_name)."""
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :app"), {"app": APP}
        )
        return [int(pid) for (pid,) in rows]


def maildir_rate(
    messages: list[bytes], count: int, database_url: str, label: str, dump: Path | None = None
) -> None:
    """Build the project and the maildir, time ``ingest`` of it, print the figures."""
    with tempfile.TemporaryDirectory() as folder:
        home = copy_project(Path(folder) / "project")
        url = database_url or f"sqlite:///{home / 'bench.db'}"
        settings = Settings.from_env(
            {
                "DATABASE_URL": url,
                "OUTREACH_SECRET_KEY": "bench",
                "OUTREACH_TRANSPORT_URL": "console:",
            },
            home=home,
        )
        runtime = Runtime.from_settings(settings, VirtualClock(NOW))
        try:
            leads = sent_project(runtime, count)
            maildir = Path(folder) / "maildir"
            write_maildir(maildir, messages, leads)
            server = CpuMeter(lambda: backend_pids(runtime)) if database_url else None
            if server is not None:
                server.start()
            wall = time.perf_counter()
            started = time.process_time()
            report = ingest(runtime, str(maildir))
            spent = time.process_time() - started
            wall = time.perf_counter() - wall
            server_s = server.stop() if server is not None else 0.0
            digest, counts = outcome_digest(runtime)
            dumped = (
                dump_state(runtime, dump / f"{label}.txt", folder) if dump is not None else None
            )
        finally:
            runtime.close()
    if report.stored != count:
        raise SystemExit(f"{label}: stored {report.stored} of {count} messages")
    line = (
        f"ingest maildir of {count:,} replies ({label}): {count / spent:,.0f} msg/s per core "
        f"({spent:.1f} s CPU, {wall:.1f} s wall"
    )
    if database_url:
        line += f"; PostgreSQL server {server_s:.1f} s CPU, {count / (spent + server_s):,.0f} "
        line += "msg/s per core of both"
    print(f"{line}; {load()})")
    matched = sum(n for key, n in counts.items() if not key.startswith(("unmatched", "unpars")))
    print(
        f"  outcome digest {digest}: {matched:,} matched and acted on, "
        f"{ {str(key): n for key, n in sorted(report.statuses.items())} }"
    )
    if dump is not None:
        print(f"  every row written to {dump / f'{label}.txt'} (sha256 {dumped})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--maildir", type=int, default=10_000, help="replies in the maildir")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--only", default=",".join(PHASES), help=f"of {','.join(PHASES)}")
    parser.add_argument(
        "--dump", type=Path, help="write every row of the maildir phases to DIR/<database>.txt"
    )
    args = parser.parse_args()
    if args.dump is not None:
        args.dump.mkdir(parents=True, exist_ok=True)
    phases = set(args.only.split(","))
    if unknown := phases - set(PHASES):
        parser.error(f"unknown phases {sorted(unknown)}; choose from {','.join(PHASES)}")
    messages = corpus()
    print(f"{len(messages):,} corpus messages; {load()}")
    if "classify" in phases:
        started = time.process_time()
        shipped_model()
        classify(messages[0])
        print(f"model loaded once per process in {time.process_time() - started:.2f} s CPU")
        ours = classify_rate(messages, args.rounds)
        print(f"classify: {ours:,.0f} msg/s per core; {load()}")
        for name, rate in peer_rates(messages, args.rounds).items():
            print(f"  peer {name}: {rate:,.0f} msg/s per core (classify is {ours / rate:.2f}x)")
    if "corpus" in phases:
        rate, stored = ingest_rate(messages, args.rounds)
        print(
            f"ingest (store, match, classify, act; SQLite): {rate:,.0f} msg/s per core "
            f"({stored}); {load()}"
        )
    if "sqlite" in phases:
        maildir_rate(messages, args.maildir, "", "SQLite", args.dump)
    if "postgres" in phases:
        admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        schema = f"bench_replies_{os.getpid()}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = f"{args.pg_url}?options=-csearch_path%3D{schema}&application_name={APP}"
            maildir_rate(messages, args.maildir, url, "PostgreSQL", args.dump)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
