"""Crash benchmark: how many touches does a SIGKILLed worker group leave in doubt?

    .venv/bin/python bench/crash_doubt.py [--leads 3000] [--kills 12] [--processes 2]
                                          [--threads 4] [--json FILE]

On PostgreSQL + Redis with ``dramatiq worker.actors -p P -t T`` (the Procfile's worker), a
scheduler-like loop in this process ticks every 2 s while the worker group is SIGKILLed K times
mid-batch and started again. Then it waits for everything to settle with the real clock; what
is still not final after that waits for the delivery lease, which the bench then skips by
ticking once with the clock moved past it.

Printed: touches left "delivery unknown" against the bound (kills x processes x threads), how
many of those the SMTP server had in fact received, duplicates at the server (must be 0), leads
neither sent nor unknown (must be 0), and how long the last touches took to go out after the
last kill. The SMTP server is aiosmtpd in its own process, recording every recipient it accepts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from datagen import copy_project, write_leads_csv
from smtp_sink import SinkProcess
from throughput import (
    PG_ADMIN_URL,
    REDIS_URL,
    _engine_version,
    _start_workers,
    bench_settings,
    count_status,
    import_csv,
    postgres_schema,
    redis_broker,
    say,
    touch_totals,
)

from worker.clock import SystemClock, VirtualClock
from worker.processes.scheduler import tick_and_enqueue
from worker.runtime import Runtime, set_runtime
from worker.store.models import Lead, Touch

FINAL = ("sent", "skipped", "failed", "unknown")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


class Ticker:
    """Tick and enqueue every ``every_s`` seconds, as ``outreach scheduler`` does."""

    def __init__(self, runtime: Runtime, every_s: float = 2.0) -> None:
        self.runtime, self.every_s = runtime, every_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(self.every_s):
            try:
                tick_and_enqueue(self.runtime)
            except Exception as exc:  # keep ticking: a bench, not a test
                say(f"  tick failed: {exc}")

    def __enter__(self) -> Ticker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def _wait_final(runtime: Runtime, target: int, stall_s: float) -> float:
    """Wait until ``target`` touches are final or nothing moved for ``stall_s``; seconds."""
    started = time.monotonic()
    last, changed = -1, time.monotonic()
    while True:
        done = count_status(runtime, FINAL)
        if done >= target:
            break
        if done != last:
            last, changed = done, time.monotonic()
        elif time.monotonic() - changed > stall_s:
            break
        time.sleep(0.2)
    return time.monotonic() - started


def _emails_by_status(runtime: Runtime) -> dict[str, list[str]]:
    with runtime.sessions() as session:
        rows = session.execute(sa.select(Touch.status, Lead.email).join(Lead))
        found: dict[str, list[str]] = {}
        for status, email in rows:
            found.setdefault(status, []).append(email)
        return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="outreach-crash-"))
    journal = work / "received.txt"
    rng = random.Random(args.seed)
    figures: dict[str, Any] = {"engine": _engine_version()}
    try:
        return _run(args, work, journal, rng, figures)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(
    args: argparse.Namespace,
    work: Path,
    journal: Path,
    rng: random.Random,
    figures: dict[str, Any],
) -> dict[str, Any]:
    with (
        redis_broker(args.redis_url) as namespace,
        SinkProcess("aiosmtpd", record=journal) as sink,
        postgres_schema(args.pg_url) as database_url,
    ):
        home = copy_project(work / "project")
        settings = bench_settings(home, database_url, sink.url, redis_url=args.redis_url)
        runtime = Runtime.from_settings(settings, SystemClock())
        set_runtime(runtime)
        runtime.sessions  # noqa: B018  (migrate before the workers start)
        csv = write_leads_csv(work / "leads.csv", args.leads, start=40_000_000)
        enrolled, _ = import_csv(runtime, csv)
        proc = _start_workers(
            settings, namespace, args.redis_url, home, work, args.processes, args.threads
        )
        in_flight_at_kill: list[int] = []
        started = time.monotonic()
        try:
            with Ticker(runtime):
                tick_and_enqueue(runtime)
                for kill in range(args.kills):
                    before = sink.count
                    goal = before + rng.randint(args.min_gap, args.max_gap)
                    sink.wait_for_count(goal, timeout_s=60)
                    _kill_group(proc)
                    sending = count_status(runtime, ("sending",))
                    in_flight_at_kill.append(sending)
                    say(
                        f"  kill {kill + 1}: sink had {sink.count:,}; "
                        f"{sending} touches 'sending' right after the kill"
                    )
                    proc = _start_workers(
                        settings,
                        namespace,
                        args.redis_url,
                        home,
                        work,
                        args.processes,
                        args.threads,
                    )
                last_kill = time.monotonic()
                settle_s = _wait_final(runtime, enrolled, stall_s=args.stall_s)
            waited_for_lease = enrolled - count_status(runtime, FINAL)
            figures["not_final_after_settling_real_clock"] = {
                k: v for k, v in touch_totals(runtime).items() if k not in FINAL
            }
            if waited_for_lease:
                later = SystemClock().now() + timedelta(seconds=settings.delivery_lease_s + 60)
                late_runtime = Runtime.from_settings(settings, VirtualClock(later))
                tick_and_enqueue(late_runtime)
                late_runtime.close()
                with Ticker(runtime):
                    _wait_final(runtime, enrolled, stall_s=args.stall_s)
        finally:
            _kill_group(proc)
        elapsed = time.monotonic() - started
        sink.wait_for_count(sink.count)
        received = Counter(
            line.strip() for line in journal.read_text().splitlines() if line.strip()
        )
        by_status = _emails_by_status(runtime)
        unknown = by_status.get("unknown", [])
        leads = {email for emails in by_status.values() for email in emails}
        settled = set(by_status.get("sent", [])) | set(unknown)
        bound = args.kills * args.processes * args.threads
        figures.update(
            {
                "leads": enrolled,
                "kills": args.kills,
                "processes": args.processes,
                "threads": args.threads,
                "bound_kills_x_processes_x_threads": bound,
                "sending_right_after_each_kill": in_flight_at_kill,
                "unknown": len(unknown),
                "unknown_in_fact_delivered": sum(1 for e in unknown if received[e]),
                "duplicates_at_server": sum(1 for n in received.values() if n > 1),
                "neither_sent_nor_unknown": len(leads - settled),
                "touches": touch_totals(runtime),
                "seconds_last_kill_to_settled_real_clock": round(settle_s, 1),
                "touches_that_waited_for_the_lease": waited_for_lease,
                "seconds_total": round(elapsed, 1),
                "since_last_kill_s": round(time.monotonic() - last_kill, 1),
            }
        )
        set_runtime(None)
        runtime.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=3000)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--min-gap", type=int, default=60, help="sends between kills, at least")
    parser.add_argument("--max-gap", type=int, default=200, help="sends between kills, at most")
    parser.add_argument("--stall-s", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--pg-url", default=PG_ADMIN_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    say(
        f"crash bench: {args.leads:,} leads, {args.kills} SIGKILLs of dramatiq "
        f"-p {args.processes} -t {args.threads}"
    )
    figures = run(args)
    for key, value in figures.items():
        say(f"  {key:<42} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    bad = figures["duplicates_at_server"] or figures["neither_sent_nor_unknown"]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
