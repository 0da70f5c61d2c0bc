"""Pages, report and tick at a million leads on PostgreSQL: prints figures against targets.

    .venv/bin/python bench/scale.py                      # 1,000,000 leads, ~7,900,000 events
    .venv/bin/python bench/scale.py --leads 100000 --keep
    .venv/bin/python bench/scale.py --reuse SCHEMA --score --skip-tick   # with scored leads

Builds, in a fresh PostgreSQL schema (dropped at the end unless ``--keep``), N fictional
leads (``.test`` domains; varied stages, sequences, deal values, countries), each with an
enrollment, one to four sent touches and about eight events (created, enrolled, scheduled
and sent per touch, stage changes, some replies, suppressions and stops), plus open and
resolved review items with some inbound replies: all written with COPY. Then it times,
median of ``--repeats`` after one warm-up: the web pages through the real app (Flask test
client, a signed-in rep), ``outreach report --json`` in-process, and the tick with ``--due``
enrollments due among all N enrolled against the same number due among ``--due`` enrolled
(in turns, each tick taken back afterwards). See bench/README.md, "Scale: a million leads".
The table gives each figure with its target and the machine's load. Exit status 1 when a
page fails or a figure misses its target (``--no-fail`` to always exit 0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner
from datagen import (
    CRM,
    FIRST,
    INDUSTRY,
    LAST,
    PLACES,
    TITLE,
    _ascii,
    copy_project,
    postgres_schema,
    signed_in_client,
)

from worker.analytics import build_report, compute_report
from worker.analytics.queries import load_events, load_leads, load_touches
from worker.analytics.rollup import mark_every_lead, refresh
from worker.cli import main as cli_main
from worker.clock import VirtualClock
from worker.delivery.tick import tick
from worker.runtime import Runtime, set_runtime
from worker.settings import Settings

NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)
HISTORY_DAYS = 180
PIPELINE = ("prospecting", "qualification", "consideration", "decision", "delivery")
# The stage a lead is in now, by weight (the long tail of a real pipeline).
STAGE_WEIGHTS = {
    "prospecting": 40,
    "qualification": 18,
    "consideration": 11,
    "decision": 7,
    "delivery": 4,
    "won": 6,
    "lost": 14,
}
INTENTS = (
    ("positive", 18),
    ("negative", 14),
    ("question", 14),
    ("ooo", 14),
    ("auto_reply", 10),
    ("bounce_hard", 8),
    ("bounce_soft", 4),
    ("unsubscribe", 8),
    ("referral", 4),
    ("unknown", 4),
    ("complaint", 2),
)
REASONS = (
    ("reply_question", 30),
    ("hot_lead", 15),
    ("reply_referral", 10),
    ("reply_low_confidence", 15),
    ("reply_unknown", 10),
    ("delivery_unknown", 10),
    ("reply_positive", 10),
)
REPS = ("bench", "mara", "kenji", "olu")
COMPANIES = ("Northwind", "Brauhaus", "Alpenwerk", "Brightwave", "Kessler", "Fjordline", "Sakura")
SUFFIXES = ("Traders", "Logistik", "Maschinenbau", "Media", "Analytics", "Systems", "Labs")
MAILBOXES = {"delivery": "success"}  # every other sequence sends from "sales"
SEARCH_RARE = "kessler labs 4"  # a company fragment that matches a few thousand leads


def _us(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def _ts(us: int | None) -> str | None:
    if us is None:
        return None
    return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat()


def _text(value: object) -> str:
    """One COPY text field (NULL, escaped backslashes, tabs and newlines)."""
    if value is None:
        return "\\N"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "")
        )
    return text


def _line(values: tuple[object, ...]) -> str:
    return "\t".join(_text(v) for v in values) + "\n"


# --- the data ----------------------------------------------------------------------------

LEAD_COLUMNS = (
    "id, email, first_name, last_name, company, timezone, country, deal_value, stage, "
    "status, fields, created_at, updated_at"
)
ENROLLMENT_COLUMNS = (
    "id, lead_id, sequence, mailbox, status, current_step, next_due_at, enrolled_at, finished_at"
)
TOUCH_COLUMNS = (
    "id, enrollment_id, lead_id, sequence, step_index, status, due_at, created_at, "
    "available_at, enqueued_at, claimed_at, finished_at, attempts, mailbox, message_id, "
    "subject, kind, variant, body_text"
)
EVENT_COLUMNS = "id, at, lead_id, touch_id, kind, sequence, step_index, cause, detail"
ITEM_COLUMNS = (
    "id, lead_id, inbound_id, touch_id, reason, detail, priority, suggested_action, "
    "created_at, resolved_at, resolution, note, assignee"
)
INBOUND_COLUMNS = (
    "id, dedupe_key, message_id, source, received_at, raw, size, status, from_address, "
    "subject, lead_id, touch_id, matched_by, intent, confidence, reply_text, processed_at"
)


@dataclass
class Built:
    """What the generator wrote: row counts, the due enrollments and sample ids."""

    counts: dict[str, int] = field(default_factory=dict)
    due: int = 0
    sample_lead: int = 1


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> Callable[[], str]:
    names = [name for name, _ in table]
    weights = [weight for _, weight in table]
    cumulative = [sum(weights[: n + 1]) for n in range(len(weights))]

    def pick() -> str:
        return rng.choices(names, cum_weights=cumulative)[0]

    return pick


class Generator:
    """Writes every table's rows as COPY text files in ``folder``."""

    def __init__(self, folder: Path, leads: int, due: int, items: int, steps: dict[str, int]):
        self.folder = folder
        self.leads = leads
        self.due = due
        self.items = items
        self.steps = steps  # steps per sequence (from the project's catalog)
        self.rng = random.Random(20270301)
        self.built = Built()
        self.touch_id = 0
        # Events are written sorted by time, so ids follow time as in a real log.
        self.events: list[tuple[int, str]] = []

    def run(self) -> Built:
        rng = self.rng
        stage_of = _weighted(rng, tuple(STAGE_WEIGHTS.items()))
        intent_of = _weighted(rng, INTENTS)
        stride = max(1, self.leads // max(1, self.due))
        files = {
            name: (self.folder / f"{name}.tsv").open("w", encoding="utf-8")
            for name in ("leads", "enrollments", "touches")
        }
        counts = dict.fromkeys(("leads", "enrollments", "touches"), 0)
        start = _us(NOW - timedelta(days=HISTORY_DAYS))
        span = (HISTORY_DAYS - 10) * 86_400_000_000
        now = _us(NOW)
        day = 86_400_000_000
        try:
            for lead_id in range(1, self.leads + 1):
                created = start + span * (lead_id - 1) // self.leads + rng.randrange(3_600_000_000)
                stage = stage_of()
                # every stride-th lead: an active prospecting lead, three touches sent, due now
                due_now = (lead_id - 1) % stride == 0 and self.built.due < self.due
                if due_now:
                    stage = "prospecting"
                    created = min(created, now - 40 * day - rng.randrange(day))
                changes: list[tuple[int, str, str]] = []
                at = created
                previous = "prospecting"
                for nxt in self._path(stage):
                    at += rng.randrange(day // 2, 25 * day)
                    if at >= now - 3_600_000_000:
                        break
                    changes.append((at, previous, nxt))
                    previous = nxt
                current = previous
                entered_at = {"prospecting": created, **{after: at for at, _, after in changes}}
                if current in PIPELINE:
                    sequence = current
                else:
                    sequence = changes[-1][1] if changes else "prospecting"
                entered = entered_at.get(sequence, created)
                status = self._status(current)
                value = self._value()
                first, last = rng.choice(FIRST), rng.choice(LAST)
                zone, country, city = rng.choice(PLACES)
                company = f"{rng.choice(COMPANIES)} {rng.choice(SUFFIXES)} {lead_id % 991}"
                fields = {
                    "title": rng.choice(TITLE),
                    "industry": rng.choice(INDUSTRY),
                    "crm": rng.choice(CRM),
                    "city": city,
                }
                domain = f"c{lead_id % 5003}.example-{lead_id % 7}.test"
                email = f"{_ascii(first)}.{_ascii(last)}.{lead_id}@{domain}"
                updated = max([created, *(c[0] for c in changes)])
                files["leads"].write(
                    _line(
                        (
                            lead_id,
                            email,
                            first,
                            last,
                            company,
                            zone,
                            country,
                            value,
                            current,
                            status,
                            json.dumps(fields, ensure_ascii=False),
                            _ts(created),
                            _ts(updated),
                        )
                    )
                )
                counts["leads"] += 1
                self._event(created, lead_id, None, "lead_created", None, None, "import", None)
                self._event(created, lead_id, None, "enrolled", "prospecting", None, "import", None)
                for at, before, after in changes:
                    self._event(
                        at,
                        lead_id,
                        None,
                        "stage_changed",
                        None,
                        None,
                        "reply: positive" if after != "lost" else "reply: negative",
                        {"previous": before, "stage": after},
                    )
                # touches of the current (or last) sequence
                mailbox = MAILBOXES.get(sequence, "sales")
                if sequence == "prospecting" and rng.random() < 0.2:
                    mailbox = "success"
                total_steps = self.steps[sequence]
                planned = 3 if due_now else rng.choice((1, 2, 2, 2, 3, 4))
                sent_at = max(entered, created) + rng.randrange(3_600_000_000)
                sent: list[tuple[int, int, int]] = []  # (touch id, step, at)
                for step in range(min(planned, total_steps)):
                    if sent_at >= now - 3_600_000_000:
                        break
                    self.touch_id += 1
                    touch_id = self.touch_id
                    variant = None
                    if sequence == "prospecting" and step == 3:
                        variant = "statement" if rng.random() < 0.5 else "question"
                    files["touches"].write(
                        _line(
                            (
                                touch_id,
                                lead_id,
                                lead_id,
                                sequence,
                                step,
                                "sent",
                                _ts(sent_at - 60_000_000),
                                _ts(sent_at - 60_000_000),
                                _ts(sent_at - 60_000_000),
                                _ts(sent_at - 60_000_000),
                                _ts(sent_at - 1_000_000),
                                _ts(sent_at),
                                1,
                                mailbox,
                                f"<{touch_id}.bench@northwind-analytics.example>",
                                f"Step {step + 1} for {company}",
                                "email",
                                variant,
                                f"Hi {first},\n\nstep {step + 1} of {sequence}.\n\nAda",
                            )
                        )
                    )
                    counts["touches"] += 1
                    self._event(
                        sent_at - 60_000_000, lead_id, touch_id, "scheduled", sequence, step, "due"
                    )
                    self._event(sent_at, lead_id, touch_id, "sent", sequence, step, "due")
                    sent.append((touch_id, step, sent_at))
                    sent_at += rng.randrange(2 * day, 6 * day)
                enrollment_status, next_due, finished = "active", None, None
                if current in ("won", "lost"):
                    enrollment_status = "completed" if current == "won" else "stopped"
                    finished = changes[-1][0]
                roll = rng.random()
                if due_now or not sent:
                    pass
                elif roll < 0.12:
                    touch_id, step, at = rng.choice(sent)
                    reply_at = at + rng.randrange(3_600_000_000, 3 * day)
                    if reply_at < now:
                        intent = intent_of()
                        self._event(
                            reply_at,
                            lead_id,
                            touch_id,
                            "classified",
                            sequence,
                            step,
                            intent,
                            {"confidence": 0.9},
                        )
                        if intent in ("bounce_hard", "unsubscribe", "complaint"):
                            why = "bounce" if intent == "bounce_hard" else "unsubscribe"
                            self._event(reply_at, lead_id, None, "suppressed", None, None, why)
                        if intent in ("bounce_hard", "unsubscribe", "negative", "complaint"):
                            self._event(
                                reply_at,
                                lead_id,
                                None,
                                "sequence_stopped",
                                sequence,
                                None,
                                f"reply: {intent}",
                            )
                            if enrollment_status == "active":
                                enrollment_status, finished = "stopped", reply_at
                elif roll < 0.125:
                    touch_id, step, at = sent[-1]
                    self._event(at + day, lead_id, touch_id, "unsubscribed", sequence, step, "link")
                    if enrollment_status == "active":
                        enrollment_status, finished = "stopped", at + day
                elif len(sent) >= total_steps and enrollment_status == "active":
                    done = sent[-1][2] + 5 * day
                    if done < now:
                        self._event(
                            done, lead_id, None, "sequence_completed", sequence, None, "end"
                        )
                        enrollment_status, finished = "completed", done
                if due_now and len(sent) == 3:
                    next_due = now - 60_000_000
                    self.built.due += 1
                elif enrollment_status == "active":
                    next_due = now + rng.randrange(day, 30 * day)
                files["enrollments"].write(
                    _line(
                        (
                            lead_id,
                            lead_id,
                            sequence,
                            mailbox,
                            enrollment_status,
                            len(sent),
                            _ts(next_due),
                            _ts(entered),
                            _ts(finished),
                        )
                    )
                )
                counts["enrollments"] += 1
        finally:
            for handle in files.values():
                handle.close()
        counts["events"] = self._write_events()
        counts.update(self._review_items())
        self.built.counts = counts
        self.built.sample_lead = self.leads // 2 + 1
        return self.built

    def _path(self, stage: str) -> list[str]:
        """The stages a lead moved through after prospecting to reach ``stage``: every one in
        between, or (three in ten) straight to a later one."""
        rng = self.rng
        if stage == "prospecting":
            return []
        if stage == "lost":
            reached = rng.randrange(len(PIPELINE))
            stages = [*PIPELINE[1 : reached + 1], "lost"]
        elif stage == "won":
            stages = [*PIPELINE[1:], "won"]
        else:
            stages = list(PIPELINE[1 : PIPELINE.index(stage) + 1])
        if len(stages) > 1 and rng.random() < 0.3:
            stages = stages[rng.randrange(1, len(stages)) :]
        return stages

    def _status(self, stage: str) -> str:
        if stage == "won":
            return "completed"
        if stage == "lost":
            return "stopped"
        roll = self.rng.random()
        if roll < 0.85:
            return "active"
        if roll < 0.9:
            return "paused"
        if roll < 0.95:
            return "needs_review"
        return "bounced" if roll < 0.98 else "unsubscribed"

    def _value(self) -> float | None:
        roll = self.rng.random()
        if roll < 0.1:
            return None
        if roll < 0.2:
            return self.rng.randrange(100_000, 12_000_000) / 100  # with cents
        return float(self.rng.randrange(5_000, 250_000, 500))

    def _event(
        self,
        at: int,
        lead_id: int,
        touch_id: int | None,
        kind: str,
        sequence: str | None,
        step: int | None,
        cause: str | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        rest = (
            f"\t{_text(_ts(at))}\t{lead_id}\t{_text(touch_id)}\t{kind}\t{_text(sequence)}"
            f"\t{_text(step)}\t{_text(cause)}\t{json.dumps(detail or {})}\n"
        )
        self.events.append((at, rest))

    def _write_events(self) -> int:
        self.events.sort(key=lambda pair: pair[0])
        with (self.folder / "events.tsv").open("w", encoding="utf-8") as handle:
            for number, (_, rest) in enumerate(self.events, 1):
                handle.write(f"{number}{rest}")
        count = len(self.events)
        self.events = []
        return count

    def _review_items(self) -> dict[str, int]:
        rng = self.rng
        reason_of = _weighted(rng, REASONS)
        now = _us(NOW)
        open_items = self.items
        resolved = self.items // 2
        inbound = 0
        with (
            (self.folder / "review_items.tsv").open("w", encoding="utf-8") as items,
            (self.folder / "inbound_messages.tsv").open("w", encoding="utf-8") as messages,
        ):
            for number in range(1, open_items + resolved + 1):
                lead_id = 1 + (number * 7919) % self.leads
                reason = reason_of()
                created = now - rng.randrange(60_000_000, 30 * 86_400_000_000)
                inbound_id = None
                if reason.startswith("reply_") and rng.random() < 0.5:
                    inbound += 1
                    inbound_id = inbound
                    raw = f"From: lead{lead_id}@example.test\nSubject: Re: hello\n\nTell me more."
                    messages.write(
                        _line(
                            (
                                inbound_id,
                                f"bench-{inbound_id}",
                                f"<reply-{inbound_id}@example.test>",
                                "bench",
                                _ts(created),
                                "\\x" + raw.encode().hex(),
                                len(raw),
                                "processed",
                                f"lead{lead_id}@example.test",
                                "Re: hello",
                                lead_id,
                                None,
                                "address",
                                reason.removeprefix("reply_"),
                                0.8,
                                "Tell me more.",
                                _ts(created),
                            )
                        )
                    )
                is_open = number <= open_items
                items.write(
                    _line(
                        (
                            number,
                            lead_id,
                            inbound_id,
                            None,
                            reason,
                            "bench item",
                            10 if rng.random() < 0.1 else 0,
                            "resume" if reason != "delivery_unknown" else "sent",
                            _ts(created),
                            None if is_open else _ts(created + 3_600_000_000),
                            None if is_open else "resume",
                            None,
                            rng.choice(REPS) if rng.random() < 0.25 else None,
                        )
                    )
                )
        return {"review_items": open_items + resolved, "open_items": open_items, "inbound": inbound}


# --- loading -----------------------------------------------------------------------------

TABLES = (
    ("leads", LEAD_COLUMNS),
    ("enrollments", ENROLLMENT_COLUMNS),
    ("touches", TOUCH_COLUMNS),
    ("events", EVENT_COLUMNS),
    ("inbound_messages", INBOUND_COLUMNS),
    ("review_items", ITEM_COLUMNS),
)


def load(engine: sa.Engine, folder: Path) -> dict[str, float]:
    """COPY every file into its table: secondary indexes dropped first and built again after,
    foreign-key triggers off during the load (the generator keeps the references whole)."""
    seconds: dict[str, float] = {}
    names = tuple(name for name, _ in TABLES)
    with engine.begin() as conn:
        indexes = conn.execute(
            sa.text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "WHERE i.schemaname = current_schema() AND i.tablename = ANY(:names) "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname "
                "AND c.connamespace = current_schema()::regnamespace)"
            ),
            {"names": list(names)},
        ).all()
        for name, _ in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute("SET session_replication_role = replica")
            for table, columns in TABLES:
                begin = time.perf_counter()
                with (
                    (folder / f"{table}.tsv").open("rb") as handle,
                    cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
                ):
                    while block := handle.read(1 << 20):
                        copy.write(block)
                seconds[f"copy {table}"] = time.perf_counter() - begin
            cursor.execute("SET session_replication_role = DEFAULT")
        driver.commit()  # type: ignore[attr-defined]
    finally:
        raw.close()
    begin = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            conn.exec_driver_sql(definition)
        for table in names:
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
    seconds["indexes"] = time.perf_counter() - begin
    begin = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM ANALYZE {', '.join(names)}")  # not the whole database
    seconds["vacuum analyze"] = time.perf_counter() - begin
    return seconds


# --- measuring ---------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    median_ms: float
    target_ms: float | None
    note: str = ""

    @property
    def ok(self) -> bool | None:
        return None if self.target_ms is None else self.median_ms <= self.target_ms


def load_average() -> str:
    with open("/proc/loadavg", encoding="ascii") as handle:
        return " ".join(handle.read().split()[:3])


# A measure whose warm-up takes longer than this is timed once (the baseline report at a
# million leads takes minutes per call).
SLOW_S = 60.0


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median and max milliseconds of ``repeats`` calls after one warm-up (one call after
    a warm-up slower than ``SLOW_S``)."""
    begin = time.perf_counter()
    fn()
    if time.perf_counter() - begin > SLOW_S:
        repeats = 1
    timings = []
    for _ in range(repeats):
        begin = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - begin) * 1000)
    return statistics.median(timings), max(timings)


def pages(sample_lead: int) -> list[tuple[str, str, float]]:
    """(label, path, target ms) of each page timed."""
    return [
        ("/reports", "/reports", 1000.0),
        ("/reports?since=2027-02-01", "/reports?since=2027-02-01", 1000.0),
        ("/board", "/board", 200.0),
        ("/leads", "/leads", 200.0),
        ("/leads page 2,000", "/leads?page=2000", 200.0),
        ("/leads?stage=decision", "/leads?stage=decision", 200.0),
        ("/leads?q=example (matches all)", "/leads?q=example", 200.0),
        (f"/leads?q={SEARCH_RARE}", f"/leads?q={SEARCH_RARE.replace(' ', '+')}", 200.0),
        (f"/leads/{sample_lead} (timeline)", f"/leads/{sample_lead}", 200.0),
        ("/queue", "/queue", 200.0),
        ("/queue?reason=reply_question", "/queue?reason=reply_question", 200.0),
    ]


def measure_pages(runtime: Runtime, built: Built, repeats: int) -> list[Figure]:
    client = signed_in_client(runtime, NOW)
    figures = []
    for label, path, target in pages(built.sample_lead):

        def get(path: str = path) -> None:
            page = client.get(path)
            if page.status_code != 200:
                raise SystemExit(f"{path}: HTTP {page.status_code}")

        median, worst = timed(get, repeats)
        figures.append(Figure(label, median, target, f"max {worst:.0f}"))
        print(f"  {label:42} {median:9.1f} ms  (max {worst:.0f})  load {load_average()}")
    return figures


def measure_cli(url: str, home: Path, repeats: int) -> Figure:
    runner = CliRunner()
    env = {
        "DATABASE_URL": url,
        "OUTREACH_HOME": str(home),
        "OUTREACH_SECRET_KEY": "bench",
        "OUTREACH_NOW": NOW.isoformat().replace("+00:00", "Z"),
        "OUTREACH_TRANSPORT_URL": "console:",
        "REDIS_URL": None,
    }

    def report() -> None:
        result = runner.invoke(cli_main, ["report", "--json"], env=env)
        set_runtime(None)
        if result.exit_code != 0:
            raise SystemExit(f"outreach report --json: {result.output[-500:]}")
        json.loads(result.stdout)

    median, worst = timed(report, repeats)
    print(f"  {'outreach report --json':42} {median:9.1f} ms  (max {worst:.0f})")
    return Figure("outreach report --json", median, 1000.0, f"max {worst:.0f}")


@contextmanager
def undone_tick(engine: sa.Engine) -> Iterator[None]:
    """Run a tick, then take back what it wrote (touches, events, enrollments' due times)."""
    with engine.connect() as conn:
        touches = conn.scalar(sa.text("SELECT coalesce(max(id), 0) FROM touches"))
        events = conn.scalar(sa.text("SELECT coalesce(max(id), 0) FROM events"))
        due = [
            (row.id, row.next_due_at)
            for row in conn.execute(
                sa.text(
                    "SELECT id, next_due_at FROM enrollments "
                    "WHERE status = 'active' AND next_due_at <= :now"
                ),
                {"now": NOW},
            )
        ]
    try:
        yield
    finally:
        with engine.begin() as conn:
            # No foreign-key triggers: events.touch_id has no index, so each deleted touch
            # would scan the whole log to clear references that are already deleted.
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.execute(sa.text("DELETE FROM events WHERE id > :n"), {"n": events})
            conn.execute(sa.text("DELETE FROM touches WHERE id > :n"), {"n": touches})
            if due:
                conn.execute(
                    sa.text("UPDATE enrollments SET next_due_at = :at WHERE id = :id"),
                    [{"id": i, "at": at} for i, at in due],
                )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # The next tick should not wade through the index entries of the rows taken back
            # (10,000 dead 'queued' touches and due times a tick), nor plan with statistics
            # from before the first tick pinned every enrollment to its sequence's version:
            # autovacuum (off on the machines this ran on) would have done both before a real
            # tick a minute later.
            conn.exec_driver_sql("VACUUM ANALYZE touches, enrollments")


def tick_seconds(
    runtime: Runtime, repeats: int, expected: int, *, warm_up: bool = True
) -> list[float]:
    """Wall seconds of ``repeats`` ticks (each undone afterwards), after one warm-up."""
    times = []
    for attempt in range(repeats + warm_up):
        with undone_tick(runtime.engine):
            begin = time.perf_counter()
            result = tick(runtime)
            elapsed = time.perf_counter() - begin
        if len(result.created) != expected:
            raise SystemExit(f"tick created {len(result.created)} touches, expected {expected}")
        if attempt or not warm_up:
            times.append(elapsed)
    return times


def tick_pair(
    big: Runtime, big_due: int, admin_url: str, home: Path, due: int, repeats: int
) -> tuple[float, float]:
    """Median seconds of the tick among every lead (``big``) and with ``due`` due among
    ``due`` enrolled (a schema of its own, the same generator, every lead due), measured in
    turns (one of each per round, after a warm-up of each) so that both see the same load."""
    with postgres_schema(admin_url, "bench_scale_small") as url:
        small = runtime_for(url, home)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                built = Generator(Path(tmp), due, due, 0, sequence_steps(small)).run()
                load(small.engine, Path(tmp))
            big_times: list[float] = []
            small_times: list[float] = []
            for attempt in range(repeats):
                big_times += tick_seconds(big, 1, big_due, warm_up=attempt == 0)
                small_times += tick_seconds(small, 1, built.due, warm_up=attempt == 0)
        finally:
            small.close()
    for label, times, count in (("big", big_times, big_due), ("small", small_times, built.due)):
        shown = ", ".join(f"{t:.2f}" for t in times)
        print(f"  tick {count:,} due ({label}): {shown} s; load {load_average()}")
    return statistics.median(big_times), statistics.median(small_times)


def score_every_lead(engine: sa.Engine) -> None:
    """A score on every lead, one in ten an MQL and one in thirty accepted as SQL, as a team
    that scores its leads would have: the report then reads its qualification sections."""
    begin = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE leads SET score = (id::bigint * 7919 %% 1000) / 10.0, "
            "mql_at = CASE WHEN id %% 10 = 0 THEN created_at + interval '5 days' END, "
            "sql_at = CASE WHEN id %% 30 = 0 THEN created_at + interval '20 days' END, "
            "qualification = CASE WHEN id %% 30 = 0 THEN 'sql' WHEN id %% 10 = 0 THEN 'mql' END"
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE leads")
    print(f"scored every lead in {time.perf_counter() - begin:.0f} s; load {load_average()}")


def sequence_steps(runtime: Runtime) -> dict[str, int]:
    return {name: len(runtime.catalog.get(name).steps) for name in runtime.catalog.names()}


def runtime_for(url: str, home: Path) -> Runtime:
    settings = Settings.from_env(
        {
            "DATABASE_URL": url,
            "OUTREACH_SECRET_KEY": "bench",
            "OUTREACH_TRANSPORT_URL": "console:",
        },
        home=home,
    )
    return Runtime.from_settings(settings, VirtualClock(NOW))


def engine_version() -> str:
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--", "worker")
    return f"{head}{' + uncommitted changes in worker/' if dirty else ''}"


def print_table(figures: list[Figure], header: str) -> bool:
    print()
    print(header)
    print(f"{'measure':44} {'median':>10} {'target':>10}  result")
    passed = True
    for figure in figures:
        unit = "x" if figure.name.startswith("tick ratio") else "ms"
        value = f"{figure.median_ms:.2f} x" if unit == "x" else f"{figure.median_ms:.0f} ms"
        if figure.target_ms is None:
            target = "-"
        elif unit == "x":
            target = f"<= {figure.target_ms:.1f} x"
        else:
            target = f"<= {figure.target_ms:.0f} ms"
        verdict = {None: "", True: "pass", False: "FAIL"}[figure.ok]
        passed = passed and figure.ok is not False
        print(f"{figure.name:44} {value:>10} {target:>10}  {verdict} {figure.note}")
    return passed


def build(runtime: Runtime, folder: Path, args: argparse.Namespace) -> Built:
    """Generate and COPY the data, then compute the report counters from it."""
    begin = time.perf_counter()
    built = Generator(folder, args.leads, args.due, args.items, sequence_steps(runtime)).run()
    generated = time.perf_counter() - begin
    seconds = load(runtime.engine, folder)
    shown = ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
    print(
        f"built {built.counts['leads']:,} leads, {built.counts['events']:,} events, "
        f"{built.counts['touches']:,} touches, {built.counts['open_items']:,} open review "
        f"items in {time.perf_counter() - begin:.0f} s (generate {generated:.0f} s; {shown})"
    )
    print(f"load {load_average()}")
    begin = time.perf_counter()
    with runtime.sessions.begin() as session:
        mark_every_lead(session)  # COPY ran without the triggers that mark leads
    done = refresh(runtime.sessions)
    print(
        f"report counters built from {done:,} leads in {time.perf_counter() - begin:.0f} s; "
        f"load {load_average()}"
    )
    begin = time.perf_counter()
    with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # What autovacuum does a minute later: the million marks just deleted are dead rows,
        # and index-only scans of the new visits need the visibility map.
        conn.exec_driver_sql("VACUUM ANALYZE report_dirty, report_visits, report_counts")
    print(f"vacuum analyze of the counters: {time.perf_counter() - begin:.0f} s")
    return built


def already_built(runtime: Runtime) -> Built:
    """What a schema built by an earlier run (``--keep``) holds; counters brought up to date."""
    with runtime.engine.connect() as conn:
        counts = {
            table: int(conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)
            for table in ("leads", "events", "touches")
        }
        counts["open_items"] = int(
            conn.scalar(sa.text("SELECT count(*) FROM review_items WHERE resolved_at IS NULL")) or 0
        )
        due = conn.scalar(
            sa.text(
                "SELECT count(*) FROM enrollments WHERE status = 'active' AND next_due_at <= :t"
            ),
            {"t": NOW},
        )
    begin = time.perf_counter()
    done = refresh(runtime.sessions)
    print(
        f"reused {counts['leads']:,} leads, {counts['events']:,} events; counters brought up "
        f"to date ({done:,} leads) in {time.perf_counter() - begin:.0f} s"
    )
    return Built(counts=counts, due=int(due or 0), sample_lead=counts["leads"] // 2 + 1)


def check_report(runtime: Runtime) -> None:
    """Compare the report from the counters with the one computed in Python from every row
    (the code before the counters), whole history and from a month back; print differences."""
    order = runtime.catalog.in_pipeline_order()
    for since in (None, datetime(2027, 2, 1, tzinfo=UTC)):
        begin = time.perf_counter()
        with runtime.sessions() as session:
            rows = load_leads(session), load_events(session), load_touches(session)
        expected = compute_report(*rows, since, order)
        seconds = time.perf_counter() - begin
        with runtime.sessions() as session:
            got = build_report(session, since, order)
        differences = list(_differences(expected, got))
        shown = "identical" if not differences else f"{len(differences)} differences"
        print(f"  report since {since}: {shown} (Python from every row: {seconds:.0f} s)")
        for where, old, new in differences[:10]:
            print(f"    {where}: {old!r} (every row) vs {new!r} (counters)")


def _differences(old: Any, new: Any, where: str = "") -> Iterator[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict) and old.keys() == new.keys():
        for name in old:
            yield from _differences(old[name], new[name], f"{where}.{name}")
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for n, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _differences(a, b, f"{where}[{n}]")
    elif old != new or type(old) is not type(new):
        yield where, old, new


@contextmanager
def existing_schema(admin_url: str, schema: str) -> Iterator[str]:
    yield f"{admin_url}?options=-csearch_path%3D{schema}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000, help="due enrollments per tick")
    parser.add_argument("--items", type=int, default=10_000, help="open review items")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1/test")
    parser.add_argument("--keep", action="store_true", help="keep the schema (its name is printed)")
    parser.add_argument(
        "--reuse", metavar="SCHEMA", help="measure a schema kept by an earlier run (not dropped)"
    )
    parser.add_argument("--skip-tick", action="store_true")
    parser.add_argument(
        "--score",
        action="store_true",
        help="give every lead a score (10%% MQLs, 3%% SQLs) so that /reports and report --json "
        "include the qualification sections",
    )
    parser.add_argument(
        "--check-report",
        action="store_true",
        help="also compute the report from every row in Python and compare (minutes, GBs)",
    )
    parser.add_argument("--no-fail", action="store_true")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on kill, too
    print(f"engine {engine_version()}; load {load_average()} at start; {os.cpu_count()} cores")
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = copy_project(Path(tmp) / "project")
        if args.reuse:
            schema = existing_schema(args.database_url, args.reuse)
        else:
            schema = postgres_schema(args.database_url, "bench_scale", args.keep)
        with schema as url:
            runtime = runtime_for(url, home)
            try:
                built = already_built(runtime) if args.reuse else build(runtime, Path(tmp), args)
                leads = built.counts["leads"]
                if args.score:
                    score_every_lead(runtime.engine)
                figures += measure_pages(runtime, built, args.repeats)
                figures.append(measure_cli(url, home, args.repeats))
                if args.check_report:
                    check_report(runtime)
                if not args.skip_tick:
                    big, small = tick_pair(
                        runtime, built.due, args.database_url, home, args.due, args.repeats
                    )
                    figures.append(
                        Figure(f"tick {args.due:,} due of {args.due:,}", small * 1000, None)
                    )
                    figures.append(Figure(f"tick {built.due:,} due of {leads:,}", big * 1000, None))
                    figures.append(Figure("tick ratio big / small", big / small, 1.5))
            finally:
                runtime.close()
    passed = print_table(
        figures,
        f"{leads:,} leads, {built.counts['events']:,} events; median of {args.repeats} "
        f"after a warm-up; load {load_average()} at end",
    )
    if not passed and not args.no_fail:
        sys.exit(1)


if __name__ == "__main__":
    main()
