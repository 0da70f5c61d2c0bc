"""Where one sending thread's CPU goes, step by step (thread CPU per message).

One thread sends ``--touches`` touches in chunks of 50 (as a worker thread does) on SQLite or
PostgreSQL to the aiosmtpd sink, with each step of the send path wrapped in a thread-CPU
meter: claim, check, render and build (``claim_and_prepare``, with ``render_touch`` and
``build_message`` inside it), the move to ``sending`` (``HandOverMarks.sending``), the SMTP
exchange (``SmtpTransport.send``) and recording sent touches (``record_sent``).

    .venv/bin/python bench/send_steps.py --database postgres --touches 2000
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

STEPS = (
    ("worker.delivery.sending", "claim_and_prepare"),
    ("worker.delivery.claiming", "render_touch"),
    ("worker.delivery.claiming", "build_message"),
    ("worker.delivery.hand_over", "HandOverMarks.sending"),
    ("worker.transports.smtp", "SmtpTransport.send"),
    ("worker.delivery.sending", "record_sent"),
)


def meter(spent: Counter[str], module: str, name: str) -> None:
    """Wrap ``module.name`` (``Class.method`` allowed) to add its thread CPU to ``spent``."""
    owner: Any = importlib.import_module(module)
    attr = name
    if "." in name:
        cls, attr = name.split(".")
        owner = getattr(owner, cls)
    inner: Callable[..., Any] = getattr(owner, attr)

    def metered(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[name] += time.thread_time() - started

    setattr(owner, attr, metered)


@contextlib.contextmanager
def database(kind: str, work: Path, pg_url: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{work / 'outreach.db'}"
        return
    from datagen import postgres_schema

    with postgres_schema(pg_url) as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--touches", type=int, default=2000)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-steps", action="store_true", help="total only (no meters)")
    args = parser.parse_args()

    import throughput as bench
    from datagen import write_leads_csv
    from smtp_sink import SinkProcess

    from worker.broker import build_broker, install
    from worker.clock import SystemClock
    from worker.delivery.sending import send_touches
    from worker.delivery.tick import tick
    from worker.runtime import Runtime, set_runtime

    work = Path(tempfile.mkdtemp(prefix="outreach-send-steps-"))
    home = bench.copy_project(work / "project")
    sink = SinkProcess("aiosmtpd").start()
    install(build_broker(None))
    spent: Counter[str] = Counter()
    try:
        with database(args.database, work, args.pg_url) as url:
            runtime = Runtime.from_settings(
                bench.bench_settings(home, url, sink.url), SystemClock()
            )
            set_runtime(runtime)
            bench.import_csv(runtime, write_leads_csv(work / "warm.csv", 100, start=5_000_000))
            send_touches(runtime, tick(runtime).to_enqueue)  # compiles, connects, prepares
            bench.import_csv(runtime, write_leads_csv(work / "leads.csv", args.touches))
            ids = tick(runtime).to_enqueue
            if not args.no_steps:
                for module, name in STEPS:
                    meter(spent, module, name)
            before = resource.getrusage(resource.RUSAGE_THREAD)
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            for start in range(0, len(ids), 50):
                send_touches(runtime, ids[start : start + 50])
            cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
            after = resource.getrusage(resource.RUSAGE_THREAD)
            runtime.close()
    finally:
        sink.stop()
    n = len(ids)
    print(
        f"{args.database}, {n:,} touches, one thread; load {Path('/proc/loadavg').read_text()[:14]}"
    )
    user = (after.ru_utime - before.ru_utime) / n * 1000
    system = (after.ru_stime - before.ru_stime) / n * 1000
    print(
        f"  thread CPU {cpu / n * 1000:.3f} ms per message (user {user:.3f}, system "
        f"{system:.3f}); wall {wall / n * 1000:.3f} ms"
    )
    for name, seconds in spent.most_common():
        print(f"  {name:28s} {seconds / n * 1000:.3f} ms per message")


if __name__ == "__main__":
    main()
