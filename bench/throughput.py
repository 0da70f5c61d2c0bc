"""Throughput benchmark of the outreach worker: prints figures, asserts nothing but counts.

    .venv/bin/python bench/throughput.py [--touches N] [--skip-redis] [--import-rows N]
                                         [--leads-big N]

Figures (see bench/README.md for what each one means):

1. floor      pre-built messages sent with smtplib over ONE reused connection
2. mailmerge  the simplest peer (awdeorio/mailmerge, its CLI, ``--no-limit``): the same leads
              and an equivalent template, one connection per message
3. embedded   ``run_batch`` on SQLite + the in-process stub broker, end to end
4. redis      PostgreSQL + Redis broker + ``dramatiq worker.actors -p 2 -t 4``
5. tick       ``dispatch.tick`` cost: D due among D enrolled vs D due among a big list
6. import     ``leads.import_leads`` rows/s and peak RSS, 10k vs 100k rows

Every sending phase talks to the same SMTP server process (aiosmtpd by default, which parses
each message as a relay would) and reports msg/s, its ratio to the floor and to mailmerge, and
CPU per message of every process involved. Everything runs on loopback; temp folders,
PostgreSQL schemas and Redis keys are removed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import resource
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from datagen import (
    bulk_enrolled_leads,
    copy_project,
    lead_rows,
    postgres_schema,
    run_in_fresh_shell,
    write_leads_csv,
)
from profiling import CpuMeter, child_pids, py_spy
from smtp_sink import SinkProcess
from sqlalchemy import event

from worker.broker import build_broker, install
from worker.clock import SystemClock
from worker.delivery.rendering import build_message, render_touch
from worker.delivery.tick import tick
from worker.leads.importing import import_leads, parse_row
from worker.processes import batch as runner_module
from worker.processes.batch import enqueue, run_batch, stop_embedded_workers
from worker.runtime import Runtime, set_runtime
from worker.settings import Settings
from worker.store.models import Enrollment, Event, Lead, Touch
from worker.transports.smtp import SmtpTransport

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/14"
SECRET = "bench-secret"
SEQUENCE = "prospecting"
WORKER_APP = f"outreach-bench-{os.getpid()}"  # tags the workers' PostgreSQL sessions
PHASES = ("floor", "mailmerge", "embedded", "redis", "tick", "import")

log = logging.getLogger("bench")


# --- results ---------------------------------------------------------------------------


@dataclass
class Figure:
    section: str
    name: str
    value: float | int | str
    unit: str = ""
    note: str = ""


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(
        self, section: str, name: str, value: float | str, unit: str = "", note: str = ""
    ) -> None:
        self.figures.append(Figure(section, name, value, unit, note))
        shown = _fmt(value)
        say(f"  {section:<9} {name:<46} {shown:>12} {unit:<8} {note}")

    def get(self, section: str, name: str) -> float | None:
        for fig in self.figures:
            if fig.section == section and fig.name == name and isinstance(fig.value, int | float):
                return float(fig.value)
        return None

    def problem(self, text: str) -> None:
        self.problems.append(text)
        say(f"  !! {text}")

    def table(self) -> str:
        lines = [
            "",
            "=" * 100,
            f"{'section':<10}{'figure':<48}{'value':>12} {'unit':<8} note",
            "-" * 100,
        ]
        last = None
        for fig in self.figures:
            if last is not None and fig.section != last:
                lines.append("")
            last = fig.section
            lines.append(
                f"{fig.section:<10}{fig.name:<48}{_fmt(fig.value):>12} {fig.unit:<8} {fig.note}"
            )
        lines.append("=" * 100)
        if self.problems:
            lines.append("PROBLEMS:")
            lines.extend(f"  - {p}" for p in self.problems)
        else:
            lines.append("all counts verified (sink counts, sent touches, created touches, rows)")
        return "\n".join(lines)


def _fmt(value: float | int | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def say(text: str) -> None:
    print(text, flush=True)


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    started = time.perf_counter()
    ended: list[float] = []
    yield lambda: (ended[0] if ended else time.perf_counter()) - started
    ended.append(time.perf_counter())


# --- shared helpers ----------------------------------------------------------------------


def bench_settings(home: Path, database_url: str, sink_url: str, **changes: Any) -> Settings:
    env = {
        "DATABASE_URL": database_url,
        "OUTREACH_TRANSPORT_URL": sink_url,
        "OUTREACH_SECRET_KEY": SECRET,
    }
    settings = Settings.from_env(env, home=home)
    return settings.with_changes(**changes) if changes else settings


def count_status(runtime: Runtime, statuses: tuple[str, ...]) -> int:
    with runtime.sessions() as session:
        return int(
            session.scalar(
                sa.select(sa.func.count()).select_from(Touch).where(Touch.status.in_(statuses))
            )
            or 0
        )


def touch_totals(runtime: Runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        rows = session.execute(sa.select(Touch.status, sa.func.count()).group_by(Touch.status))
        return {status: int(count) for status, count in rows}


def import_csv(runtime: Runtime, path: Path) -> tuple[int, float]:
    with stopwatch() as elapsed:
        report = import_leads(
            runtime.sessions, path, runtime.clock, runtime.catalog, sequence=SEQUENCE
        )
    if report.errors:
        raise RuntimeError(f"import of {path} reported errors: {report.errors[:3]}")
    return report.enrollment.enrolled, elapsed()


class Timed:
    """Wrap a function (in the bench process only) to accumulate the time spent in it."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.seconds = 0.0
        self.sql: SqlCounter | None = None  # when set, also count the statements issued
        self.statements = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        before = self.sql.own_statements() if self.sql else 0
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            if self.sql:
                self.statements += self.sql.own_statements() - before


class SqlCounter:
    """Count SQL statements (cursor executions, BEGIN included) and commits on an engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements = 0
        self.commits = 0
        self._thread = threading.local()
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_args: Any) -> None:
        self.statements += 1  # a lost increment between threads is possible and negligible
        self._thread.statements = self.own_statements() + 1

    def own_statements(self) -> int:
        """Statements issued so far by the calling thread."""
        return int(getattr(self._thread, "statements", 0))

    def _commit(self, *_args: Any) -> None:
        self.commits += 1

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)


def check_line_endings(res: Results, section: str, sink: SinkProcess, before: int) -> None:
    """Flag messages that reached the sink with bare LF line endings (RFC 5321: CRLF only)."""
    bad = sink.bare_lf - before
    res.add(section, "messages with bare LF line endings", bad, "msgs", "must be 0 (RFC 5321)")
    if bad:
        res.problem(
            f"{section}: {bad} messages were sent with bare LF line endings; SMTP requires CRLF "
            "(smtplib sends bytes unchanged) and real servers reject or rewrite them"
        )


def sink_meter(sink: SinkProcess) -> CpuMeter:
    return CpuMeter(lambda: [sink.pid] if sink.pid else [])


# --- 1. floor --------------------------------------------------------------------------


def payload_of(built: Any) -> bytes:
    """The bytes a transport sends: ``built.data`` when the engine serialises while building,
    else ``built.message.as_bytes()`` (an engine that serialises at send time)."""
    data = getattr(built, "data", None)
    return data if isinstance(data, bytes) else bytes(built.message.as_bytes())


class Stages:
    """Wall-clock and CPU seconds accumulated per named stage."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall0
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu0


FLOOR = "FLOOR: smtplib, pre-built bytes, 1 reused conn"
MAILMERGE = "MAILMERGE end to end (1 conn per message)"


def phase_floor(res: Results, sink: SinkProcess, n: int, work: Path) -> None:
    say(f"\n[floor] rendering and building {n:,} messages, then sending over one connection")
    home = copy_project(work / "floor-project")
    settings = bench_settings(home, f"sqlite:///{home / 'unused.db'}", sink.url)
    runtime = Runtime.from_settings(settings, SystemClock())
    spec = runtime.catalog.get(SEQUENCE)
    mailbox = runtime.mailboxes.get(spec.mailbox)
    now = runtime.clock.now()
    stage = Stages()
    transport = SmtpTransport(sink.host, sink.port)
    raw = smtplib.SMTP(sink.host, sink.port)
    raw.ehlo()
    start_count, start_lf = sink.count, sink.bare_lf
    sink_cpu = sink_meter(sink).start()
    sizes = 0
    chunk = 1000  # pre-render per chunk to keep memory flat; each loop is timed alone
    for offset in range(0, n, chunk):
        leads = []
        for i, row in enumerate(lead_rows(min(chunk, n - offset), start=offset, tag="f")):
            parsed = parse_row(row)
            fields = parsed.pop("fields")
            leads.append(Lead(id=offset + i + 1, fields=fields, **parsed))
        enrollment = Enrollment(id=1, current_step=0, sequence=SEQUENCE)
        urls = [runtime.unsubscribe_url(lead.id) for lead in leads]
        with stage("render"):
            rendered = [
                render_touch(runtime.renderer, lead, mailbox, spec, 0, url)
                for lead, url in zip(leads, urls, strict=True)
            ]
        with stage("build"):
            built = [
                build_message(
                    r,
                    lead=lead,
                    mailbox=mailbox,
                    enrollment=enrollment,
                    same_thread=False,
                    sent_at=now,
                    unsubscribe_url=url,
                )
                for r, lead, url in zip(rendered, leads, urls, strict=True)
            ]
        with stage("serialise"):
            payloads = [payload_of(b) for b in built]
        with stage("floor"):
            for touch_id, message in enumerate(built, start=offset):
                transport.send(message, touch_id)  # serialise + MAIL/RCPT/DATA, one connection
        with stage("raw"):
            for message, payload in zip(built, payloads, strict=True):
                raw.sendmail(message.sender, [message.recipient], payload)
        sizes += sum(len(p) for p in payloads)
    transport.close()
    raw.quit()
    got = sink.wait_for_count(start_count + 2 * n) - start_count
    sink_cpu.stop()
    if got != 2 * n:
        res.problem(f"floor: sink accepted {got} messages, expected {2 * n}")
    rows = (
        ("render", "render (Jinja, compiled templates)", ""),
        ("build", "build (rendering.build_message)", ""),
        ("serialise", "serialise (built.data, else message.as_bytes)", ""),
        ("raw", FLOOR, "smtplib.sendmail of pre-built bytes"),
        ("floor", "product's SmtpTransport.send, pre-built, 1 conn", "MAIL/RCPT/DATA"),
    )
    for key, label, note in rows:
        cpu_ms = stage.cpu[key] / n * 1000
        res.add("floor", label, n / stage.wall[key], "msg/s", f"{cpu_ms:.3f} ms CPU/msg {note}")
    one = sum(stage.wall[k] for k in ("render", "build", "floor"))
    res.add("floor", "one thread: render+build+send, no DB", n / one, "msg/s", "ideal 1 thread")
    res.add("floor", "  sink CPU per message", sink_cpu.seconds / (2 * n) * 1000, "ms")
    res.add("floor", "average message size", sizes // n, "bytes")
    res.add("floor", "sink accepted", got, "msgs", f"expected {2 * n}")
    check_line_endings(res, "floor", sink, start_lf)
    runtime.close()


# --- 2. mailmerge, the simplest peer ---------------------------------------------------

# The product's first prospecting email, as a mailmerge template: the same fields, the same
# length, the same signature and unsubscribe line.
MAILMERGE_TEMPLATE = """\
TO: {{first_name}} {{last_name}} <{{email}}>
SUBJECT: Forecast accuracy at {{company}}
FROM: Ada Fischer <ada.fischer@northwind-analytics.example>

Hi {{first_name}},

{{referrer}} suggested I get in touch with you.

Most {{industry}} sales leaders I speak with rebuild their forecast by hand every Monday, \
and are still surprised at quarter end.

Northwind connects read-only to {{crm}}, scores every open deal on its real likelihood to \
close, and flags the stale ones before they inflate the pipeline. Reps don't change how they \
work.

I'd be curious how {{company}} is tackling {{pain_point}} today.

Would 20 minutes be worth it to see your current pipeline through that lens?

Best,
Ada Fischer
Account Executive, Northwind Analytics
+49 30 5550 1234

Not the right time? Unsubscribe: http://127.0.0.1:8000/u/{{email}}
"""


def phase_mailmerge(res: Results, sink: SinkProcess, n: int, work: Path) -> None:
    """mailmerge (awdeorio/mailmerge) as its users run it: the same CSV, an equivalent
    template, ``--no-limit``, one SMTP connection per message, sequential by design."""
    say(f"\n[mailmerge] {n:,} messages, its own CLI, one connection per message")
    folder = work / "mailmerge"
    folder.mkdir()
    csv = write_leads_csv(folder / "leads.csv", n, start=50_000_000)
    template = folder / "template.txt"
    template.write_text(MAILMERGE_TEMPLATE, encoding="utf-8")
    config = folder / "server.conf"
    config.write_text(
        f"[smtp_server]\nhost = {sink.host}\nport = {sink.port}\nratelimit = 0\n",
        encoding="utf-8",
    )
    command = [
        str(VENV_BIN / "mailmerge"),
        "--template",
        str(template),
        "--database",
        str(csv),
        "--config",
        str(config),
        "--no-dry-run",
        "--no-limit",
        "--output-format",
        "raw",
    ]
    before, before_lf = sink.count, sink.bare_lf
    sink_cpu = sink_meter(sink).start()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with stopwatch() as elapsed:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = proc.communicate()
    sink_cpu.stop()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = used.ru_utime + used.ru_stime - children.ru_utime - children.ru_stime
    seconds = elapsed()
    got = sink.wait_for_count(before + n) - before
    if proc.returncode != 0 or got != n:
        res.problem(f"mailmerge: exit {proc.returncode}, sink got {got} of {n}: {err[-500:]!r}")
    rate = n / seconds
    res.add("mailmerge", MAILMERGE, rate, "msg/s", f"{n:,} messages")
    floor = res.get("floor", FLOOR)
    if floor:
        res.add("mailmerge", "ratio mailmerge / floor", rate / floor, "x")
    res.add("mailmerge", "CPU per message, mailmerge", cpu / n * 1000, "ms")
    res.add("mailmerge", "CPU per message, sink", sink_cpu.seconds / n * 1000, "ms")
    res.add("mailmerge", "sink accepted", got, "msgs", f"expected {n}")
    check_line_endings(res, "mailmerge", sink, before_lf)


def ratios(res: Results, section: str, rate: float) -> None:
    """The product's rate against the floor and against mailmerge, measured in this run."""
    for name, other in (
        ("floor", res.get("floor", FLOOR)),
        ("mailmerge", res.get("mailmerge", MAILMERGE)),
    ):
        if other:
            res.add(section, f"ratio end to end / {name}", rate / other, "x")


# --- 3. embedded -----------------------------------------------------------------------


def phase_embedded(
    res: Results,
    sink: SinkProcess,
    n: int,
    work: Path,
    threads: int,
    warmup: int,
    profile_dir: Path | None = None,
) -> None:
    say(f"\n[embedded] SQLite + stub broker, {threads} send threads, {n:,} touches")
    home = copy_project(work / "embedded-project")
    settings = bench_settings(
        home, f"sqlite:///{home / 'outreach.db'}", sink.url, send_threads=threads
    )
    install(build_broker(None))
    runtime = Runtime.from_settings(settings, SystemClock())
    set_runtime(runtime)
    timers = {
        name: Timed(getattr(runner_module, name)) for name in ("tick", "summarise", "count_unknown")
    }
    try:
        if warmup:
            csv = write_leads_csv(work / "embedded-warmup.csv", warmup, start=10_000_000)
            import_csv(runtime, csv)
            run_batch(runtime)  # starts the in-process worker, compiles templates, opens SMTP
        csv = write_leads_csv(work / "embedded-leads.csv", n)
        enrolled, import_s = import_csv(runtime, csv)
        res.add("embedded", f"import {n:,} leads + enroll (SQLite)", enrolled / import_s, "rows/s")
        before, before_lf = sink.count, sink.bare_lf
        for name, timer in timers.items():
            setattr(runner_module, name, timer)
        sql = SqlCounter(runtime.engine)
        for timer in timers.values():
            timer.sql = sql
        sink_cpu = sink_meter(sink).start()
        try:
            with py_spy(profile_dir, "embedded", os.getpid()), stopwatch() as elapsed:
                cpu0 = time.process_time()
                summary = run_batch(runtime)
                cpu = time.process_time() - cpu0
        finally:
            for name, timer in timers.items():
                setattr(runner_module, name, timer.fn)
            sql.close()
            sink_cpu.stop()
        seconds = elapsed()
        got = sink.wait_for_count(before + n) - before
        sent = summary.totals().get("sent", 0)
        if sent != n or got != n:
            res.problem(f"embedded: {sent} touches sent, sink got {got}, expected {n}")
        rate = n / seconds
        res.add("embedded", "run_batch end to end", seconds, "s", f"{n:,} touches")
        res.add(
            "embedded",
            "  of which tick, enqueuing each batch",
            timers["tick"].seconds,
            "s",
            "sends overlap",
        )
        rest = seconds - sum(t.seconds for t in timers.values())
        res.add("embedded", "  of which the rest of the send", rest, "s", "after the tick")
        res.add(
            "embedded",
            "  of which summary",
            timers["summarise"].seconds + timers["count_unknown"].seconds,
            "s",
        )
        res.add("embedded", "EMBEDDED end to end", rate, "msg/s")
        ratios(res, "embedded", rate)
        tick_statements = timers["tick"].statements
        send_statements = sql.statements - sum(t.statements for t in timers.values())
        res.add("embedded", "SQL statements per touch, send path", send_statements / n, "stmts")
        res.add("embedded", "SQL statements per touch, tick", tick_statements / n, "stmts")
        res.add("embedded", "commits per touch (all)", sql.commits / n, "txn")
        res.add("embedded", "CPU per message, bench process", cpu / n * 1000, "ms", "all threads")
        res.add("embedded", "CPU per message, sink", sink_cpu.seconds / n * 1000, "ms")
        res.add("embedded", "CPU-bound ceiling (1 GIL)", n / cpu, "msg/s", "1 / CPU per msg")
        res.add("embedded", "sink accepted", got, "msgs", f"expected {n}")
        check_line_endings(res, "embedded", sink, before_lf)
    finally:
        stop_embedded_workers()
        set_runtime(None)
        runtime.close()


# --- 4. redis + 2 worker processes -------------------------------------------------------


def _worker_env(settings: Settings, namespace: str, redis_url: str, home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OUTREACH_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        {
            "DATABASE_URL": f"{settings.database_url}&application_name={WORKER_APP}",
            "REDIS_URL": redis_url,
            "OUTREACH_REDIS_NAMESPACE": namespace,
            "OUTREACH_TRANSPORT_URL": settings.transport_url,
            "OUTREACH_HOME": str(home),
            "OUTREACH_SECRET_KEY": SECRET,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the worker master we started (and its children, in its own session)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def _wait_ready(log_path: Path, proc: subprocess.Popen[bytes], processes: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        if text.count("Worker process is ready for action") >= processes:
            return
        if proc.poll() is not None:
            raise RuntimeError(f"dramatiq workers exited ({proc.returncode}):\n{text[-3000:]}")
        time.sleep(0.1)
    raise RuntimeError("dramatiq workers did not become ready within 60 s")


def _backend_pids(runtime: Runtime) -> list[int]:
    """PostgreSQL server processes serving the workers (tagged by application_name)."""
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :app"),
            {"app": WORKER_APP},
        )
        return [int(pid) for (pid,) in rows]


def _wait_settled(
    runtime: Runtime, target: int, proc: subprocess.Popen[bytes], stall_s: float = 120.0
) -> int:
    """Poll the ledger until ``target`` touches are final; returns the number sent."""
    final = ("sent", "skipped", "failed", "unknown")
    last, last_change = -1, time.monotonic()
    while True:
        done = count_status(runtime, final)
        if done >= target:
            return count_status(runtime, ("sent",))
        if done != last:
            last, last_change = done, time.monotonic()
        elif time.monotonic() - last_change > stall_s:
            raise RuntimeError(f"no progress for {stall_s:.0f} s at {done}/{target} touches")
        if proc.poll() is not None:
            raise RuntimeError(f"dramatiq workers exited ({proc.returncode})")
        time.sleep(0.05)


def phase_redis(
    res: Results,
    sink: SinkProcess,
    n: int,
    work: Path,
    *,
    pg_url: str,
    redis_url: str,
    processes: int,
    threads: int,
    warmup: int,
    profile_dir: Path | None = None,
) -> None:
    say(f"\n[redis] PostgreSQL + Redis, dramatiq -p {processes} -t {threads}, {n:,} touches")
    home = copy_project(work / "redis-project")
    with redis_broker(redis_url) as namespace, postgres_schema(pg_url) as database_url:
        settings = bench_settings(home, database_url, sink.url, redis_url=redis_url)
        runtime = Runtime.from_settings(settings, SystemClock())
        set_runtime(runtime)
        runtime.sessions  # noqa: B018  (migrate before the workers start)
        proc = _start_workers(settings, namespace, redis_url, home, work, processes, threads)
        try:
            _redis_measure(
                res, sink, n, work, runtime, proc, processes, threads, warmup, profile_dir
            )
        finally:
            _stop_process_group(proc)  # always, before the schema is dropped
            set_runtime(None)
            runtime.close()


@contextmanager
def redis_broker(redis_url: str) -> Iterator[str]:
    """The Redis broker installed under a fresh namespace (yielded); its keys removed after."""
    namespace = f"outreach-bench-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    client.ping()
    broker = install(build_broker(redis_url, namespace))
    try:
        yield namespace
    finally:
        broker.close()
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
        client.close()


def _start_workers(
    settings: Settings,
    namespace: str,
    redis_url: str,
    home: Path,
    work: Path,
    processes: int,
    threads: int,
) -> subprocess.Popen[bytes]:
    log_path = work / "dramatiq-workers.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                str(VENV_BIN / "dramatiq"),
                "worker.actors",
                "--processes",
                str(processes),
                "--threads",
                str(threads),
            ],
            cwd=REPO,
            env=_worker_env(settings, namespace, redis_url, home),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we stop exactly what we started
        )
    say(f"  workers: pid {proc.pid}, log {log_path}")
    try:
        _wait_ready(log_path, proc, processes)
    except BaseException:
        _stop_process_group(proc)
        raise
    return proc


def _redis_measure(
    res: Results,
    sink: SinkProcess,
    n: int,
    work: Path,
    runtime: Runtime,
    proc: subprocess.Popen[bytes],
    processes: int,
    threads: int,
    warmup: int,
    profile_dir: Path | None,
) -> None:
    settings = runtime.settings
    if warmup:
        csv = write_leads_csv(work / "redis-warmup.csv", warmup, start=20_000_000)
        import_csv(runtime, csv)
        ids = tick(runtime).to_enqueue
        enqueue(ids, 5)  # many small messages so every worker process warms up
        _wait_settled(runtime, len(ids), proc)
    csv = write_leads_csv(work / "redis-leads.csv", n, start=30_000_000)
    enrolled, import_s = import_csv(runtime, csv)
    res.add("redis", f"import {n:,} leads + enroll (PostgreSQL)", enrolled / import_s, "rows/s")
    base_final = count_status(runtime, ("sent", "skipped", "failed", "unknown"))
    base_sent = count_status(runtime, ("sent",))
    before, before_lf = sink.count, sink.bare_lf
    workers_cpu = CpuMeter(lambda: [proc.pid, *child_pids(proc.pid)]).start()
    pg_cpu = CpuMeter(lambda: _backend_pids(runtime)).start()
    sink_cpu = sink_meter(sink).start()
    bench_cpu0 = time.process_time()
    chunk = settings.touches_per_message
    with py_spy(profile_dir, "redis-workers", proc.pid, subprocesses=True), stopwatch() as elapsed:
        with stopwatch() as tick_elapsed:  # as the scheduler does: each batch enqueued at once
            ids = tick(runtime, hand_off=lambda batch: enqueue(batch, chunk)).to_enqueue
        sent = _wait_settled(runtime, base_final + n, proc) - base_sent
    seconds = elapsed()
    bench_cpu = time.process_time() - bench_cpu0
    for meter in (workers_cpu, pg_cpu, sink_cpu):
        meter.stop()
    got = sink.wait_for_count(before + n) - before
    if len(ids) != n or sent != n or got != n:
        res.problem(f"redis: {len(ids)} enqueued, {sent} sent, sink got {got}, expected {n}")
    rate = n / seconds
    res.add("redis", "tick + enqueue + all sent", seconds, "s", f"{n:,} touches")
    res.add("redis", "  of which tick, enqueuing each batch", tick_elapsed(), "s", "sends overlap")
    res.add("redis", f"REDIS end to end ({processes} proc x {threads} thr)", rate, "msg/s")
    ratios(res, "redis", rate)
    per_msg = {
        "dramatiq worker processes": workers_cpu.seconds,
        "their PostgreSQL backends": pg_cpu.seconds,
        "SMTP sink": sink_cpu.seconds,
        "bench process (tick, enqueue, poll)": bench_cpu,
    }
    for name, cpu in per_msg.items():
        res.add("redis", f"CPU per message, {name}", cpu / n * 1000, "ms")
    total_cpu = sum(per_msg.values())
    cores = os.cpu_count() or 1
    res.add("redis", "CPU per message, all of the above", total_cpu / n * 1000, "ms")
    res.add(
        "redis",
        f"CPU-bound ceiling on {cores} cores",
        cores * n / total_cpu,
        "msg/s",
        "cores / CPU per msg",
    )
    res.add("redis", "sink accepted", got, "msgs", f"expected {n}")
    check_line_endings(res, "redis", sink, before_lf)


# --- 5. tick cost ----------------------------------------------------------------------


def _analyze(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def _fix_pg_sequences(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in ("leads", "enrollments"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )


@dataclass
class TickTimes:
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    statements: int = 0
    empty_s: float = 0.0
    insert_s: float = 0.0

    @property
    def median_s(self) -> float:
        return statistics.median(self.wall_s)


def _reset_due(engine: sa.Engine, now: datetime) -> None:
    """Undo a tick: drop its touches and events, make the same enrollments due again."""
    with engine.begin() as conn:
        conn.execute(sa.delete(Event))
        conn.execute(sa.delete(Touch))
        conn.execute(
            sa.update(Enrollment)
            .where(Enrollment.next_due_at.is_(None))
            .values(next_due_at=now - timedelta(minutes=1))
        )


def _measure_tick(
    res: Results, label: str, database_url: str, home: Path, total: int, due: int, repeats: int
) -> TickTimes:
    settings = bench_settings(home, database_url, "smtp://127.0.0.1:9")
    runtime = Runtime.from_settings(settings, SystemClock())
    times = TickTimes()
    try:
        engine = runtime.engine
        now = runtime.clock.now()
        with stopwatch() as insert_elapsed:
            made_due = bulk_enrolled_leads(engine, total=total, due=due, now=now)
            if engine.dialect.name == "postgresql":
                _fix_pg_sequences(engine)
            _analyze(engine)
        times.insert_s = insert_elapsed()
        say(f"  {label}: inserted {total:,} enrolled leads in {times.insert_s:.1f} s")
        sql = SqlCounter(engine)
        try:
            for attempt in range(repeats):
                if attempt:
                    _reset_due(engine, runtime.clock.now())
                before = sql.statements
                cpu0 = time.process_time()
                with stopwatch() as elapsed:
                    result = tick(runtime)
                times.cpu_s.append(time.process_time() - cpu0)
                times.wall_s.append(elapsed())
                times.statements = sql.statements - before
                if len(result.created) != made_due:
                    res.problem(f"tick {label}: created {len(result.created)}, expected {made_due}")
            with stopwatch() as empty_elapsed:
                again = tick(runtime)
            times.empty_s = empty_elapsed()
            if again.created:
                res.problem(f"tick {label}: a second tick created {len(again.created)} touches")
        finally:
            sql.close()
        shown = ", ".join(f"{w:.2f}" for w in times.wall_s)
        say(f"  {label}: tick {shown} s (median {times.median_s:.2f} s)")
        return times
    finally:
        runtime.close()


def phase_tick(
    res: Results,
    work: Path,
    *,
    due: int,
    big: int,
    pg_url: str,
    postgres: bool,
    repeats: int,
) -> None:
    say(f"\n[tick] {due:,} due among {due:,} vs {due:,} due among {big:,} enrolled")
    home = copy_project(work / "tick-project")
    backends = ["sqlite"] + (["postgres"] if postgres else [])
    for backend in backends:
        times: dict[int, TickTimes] = {}
        for total in (due, big):
            label = f"{backend} {due:,}/{total:,}"
            if backend == "sqlite":
                url = f"sqlite:///{work / f'tick-{total}.db'}"
                times[total] = _measure_tick(res, label, url, home, total, due, repeats)
            else:
                with postgres_schema(pg_url) as url:
                    times[total] = _measure_tick(res, label, url, home, total, due, repeats)
        small, large = times[due], times[big]
        note = f"median of {repeats}; bench CPU {statistics.median(small.cpu_s):.2f} s"
        res.add("tick", f"{backend}: {due:,} due of {due:,} enrolled", small.median_s, "s", note)
        note = f"median of {repeats}; bench CPU {statistics.median(large.cpu_s):.2f} s"
        res.add("tick", f"{backend}: {due:,} due of {big:,} enrolled", large.median_s, "s", note)
        res.add(
            "tick",
            f"{backend}: ratio big / small",
            large.median_s / small.median_s,
            "x",
            "~1 = cost follows due work",
        )
        res.add("tick", f"{backend}: touches created per second (big)", due / large.median_s, "/s")
        res.add("tick", f"{backend}: SQL statements per due enrollment", large.statements / due, "")
        res.add("tick", f"{backend}: empty tick, {big:,} enrolled", large.empty_s * 1000, "ms")
        res.add("tick", f"{backend}: bulk insert of {big:,} enrolled leads", large.insert_s, "s")


# --- 6. import memory ------------------------------------------------------------------


def phase_import(res: Results, work: Path, rows_big: int) -> None:
    rows_small = min(10_000, rows_big)
    say(f"\n[import] peak RSS importing {rows_small:,} vs {rows_big:,} rows (fresh process each)")
    outcomes = {}
    for rows in sorted({rows_small, rows_big}):
        csv = write_leads_csv(work / f"import-{rows}.csv", rows, start=40_000_000)
        home = copy_project(work / f"import-project-{rows}")
        probe = [sys.executable, str(BENCH / "import_probe.py"), str(csv), str(home)]
        proc = run_in_fresh_shell(probe, REPO)
        if proc.returncode != 0:
            res.problem(f"import probe ({rows} rows) failed:\n{proc.stderr[-2000:]}")
            continue
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        outcomes[rows] = out
        if out["created"] != rows or out["enrolled"] != rows or out["errors"]:
            res.problem(f"import {rows}: {out}")
        size_mb = csv.stat().st_size / 1e6
        res.add("import", f"{rows:,} rows ({size_mb:.1f} MB CSV)", rows / out["seconds"], "rows/s")
        before_mib = out["rss_before_kib"] / 1024
        peak_mib = out["peak_during_kib"] / 1024
        startup_mib = out["startup_peak_kib"] / 1024
        res.add(
            "import", f"  ru_maxrss of start-up ({rows:,})", startup_mib, "MiB", "before import"
        )
        res.add("import", f"  RSS just before import ({rows:,})", before_mib, "MiB")
        res.add("import", f"  ru_maxrss during import ({rows:,})", peak_mib, "MiB", "peak reset")
        res.add("import", f"  growth during import ({rows:,})", peak_mib - before_mib, "MiB")
    if rows_small in outcomes and rows_big in outcomes and rows_big != rows_small:
        small, big = outcomes[rows_small], outcomes[rows_big]
        ratio = big["peak_during_kib"] / small["peak_during_kib"]
        label = f"peak RSS ratio {rows_big:,} / {rows_small:,} rows"
        res.add("import", label, ratio, "x", "~1 = streamed")


# --- main ------------------------------------------------------------------------------


def _engine_version() -> str:
    """The commit measured, plus a short hash of uncommitted changes under worker/."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, check=False)
        return done.stdout.decode(errors="replace").strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    diff = git("diff", "HEAD", "--", "worker")
    if not diff:
        return head
    return f"{head}+{hashlib.sha1(diff.encode()).hexdigest()[:8]}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Throughput benchmark of the outreach worker (prints figures).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--touches", type=int, default=10_000, help="touches to send per phase")
    parser.add_argument("--skip-redis", action="store_true", help="skip the Redis/PostgreSQL run")
    parser.add_argument("--import-rows", type=int, default=100_000, help="rows of the big CSV")
    parser.add_argument("--leads-big", type=int, default=200_000, help="enrolled leads, big tick")
    parser.add_argument("--tick-due", type=int, default=10_000, help="due enrollments per tick")
    parser.add_argument("--tick-repeats", type=int, default=3, help="ticks timed per size")
    parser.add_argument(
        "--skip-postgres-tick", action="store_true", help="measure the tick on SQLite only"
    )
    parser.add_argument("--only", default=",".join(PHASES), help="comma-separated phases to run")
    parser.add_argument("--sink", choices=("aiosmtpd", "fast"), default="aiosmtpd")
    parser.add_argument("--threads", type=int, default=4, help="send threads (embedded)")
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--worker-threads", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=200, help="touches sent before timing")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="sample the timed send of 'embedded' and 'redis' with py-spy into DIR",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    args.phases = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {', '.join(sorted(unknown))}; use {', '.join(PHASES)}")
    if args.skip_redis and "redis" in args.phases:
        args.phases.remove("redis")
    return args


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # clean up (workers, schemas, keys) on SIGTERM too
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    res = Results()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="outreach-bench-"))
    say(f"outreach throughput bench: phases {', '.join(args.phases)}; work dir {work}")
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    say(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load}, sink {args.sink}")
    res.add("host", "engine version", _engine_version(), "", "git HEAD [+ hash of worker/ diff]")
    res.add("host", "CPUs", os.cpu_count() or 0, "")
    res.add("host", "load average at start (1 min)", os.getloadavg()[0], "", "busy host = slower")
    sink = SinkProcess(args.sink).start()
    say(f"SMTP sink ({args.sink}) pid {sink.pid} on {sink.url}")
    try:
        if "floor" in args.phases:
            phase_floor(res, sink, args.touches, work)
        if "mailmerge" in args.phases:
            phase_mailmerge(res, sink, args.touches, work)
        if "embedded" in args.phases:
            phase_embedded(res, sink, args.touches, work, args.threads, args.warmup, args.py_spy)
        if "redis" in args.phases:
            phase_redis(
                res,
                sink,
                args.touches,
                work,
                pg_url=args.pg_url,
                redis_url=args.redis_url,
                processes=args.worker_processes,
                threads=args.worker_threads,
                warmup=args.warmup,
                profile_dir=args.py_spy,
            )
        if "tick" in args.phases:
            phase_tick(
                res,
                work,
                due=args.tick_due,
                big=args.leads_big,
                pg_url=args.pg_url,
                postgres=not args.skip_postgres_tick,
                repeats=args.tick_repeats,
            )
        if "import" in args.phases:
            phase_import(res, work, args.import_rows)
    except KeyboardInterrupt as exc:
        res.problem(f"interrupted ({exc or 'Ctrl-C'}); figures so far below")
    except Exception as exc:
        log.exception("benchmark aborted")
        res.problem(f"aborted: {type(exc).__name__}: {exc}")
    finally:
        sink.stop()
        if args.keep:
            say(f"kept {work}")
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    res.add("host", "load average at end (1 min)", os.getloadavg()[0], "")
    res.add("total", "wall time of the whole benchmark", time.perf_counter() - started, "s")
    say(res.table())
    if args.json:
        args.json.write_text(
            json.dumps(
                {"figures": [asdict(f) for f in res.figures], "problems": res.problems}, indent=2
            )
        )
    return 1 if res.problems else 0


if __name__ == "__main__":
    sys.exit(main())
