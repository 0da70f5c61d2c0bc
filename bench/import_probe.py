"""Child process of the import figures: import one CSV into a database, report what it cost.

Prints one JSON line: rows, created, updated, enrolled, errors (count, the first three and a
SHA-256 of all of them in order, so runs can be compared for identical per-row errors),
seconds, and in KiB: the peak RSS of start-up (``ru_maxrss`` before the import: Python,
SQLAlchemy, migrations, catalog), the RSS just before the import, and ``ru_maxrss`` after it.
The kernel's peak mark is reset just before the import (``/proc/self/clear_refs``), so the
last one is the import's own peak.

Start it from a small process (the benches use ``/bin/sh -c``): a child's ``ru_maxrss``
includes the RSS of the process that forked it, as the kernel carries the old memory's peak
across ``exec``.

    .venv/bin/python bench/import_probe.py LEADS.csv PROJECT_DIR
        [--database-url URL] [--sequence NAME] [--no-enroll] [--errors-out FILE]

Without ``--database-url`` it imports into a fresh SQLite file ``PROJECT_DIR/import.db``;
without ``--sequence`` it enrolls each lead by its stage, as ``outreach leads import`` does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import time
from pathlib import Path

from worker.clock import SystemClock
from worker.leads.importing import import_leads
from worker.runtime import Runtime
from worker.settings import Settings


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0), so the peak is the import's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("home", type=Path)
    parser.add_argument("--database-url")
    parser.add_argument("--sequence")
    parser.add_argument("--no-enroll", action="store_true")
    parser.add_argument("--errors-out", type=Path, help="write every row error, one a line")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{args.home / 'import.db'}"
    settings = Settings.from_env(
        {"DATABASE_URL": url, "OUTREACH_SECRET_KEY": "bench"}, home=args.home
    )
    runtime = Runtime.from_settings(settings, SystemClock())
    runtime.sessions  # noqa: B018  (engine + migrations before the baseline)
    runtime.catalog  # noqa: B018
    startup_peak = _peak_kib()
    reset = _reset_peak()
    before_now = _status_kib("VmRSS")
    started = time.perf_counter()
    cpu0 = time.process_time()
    report = import_leads(
        runtime.sessions,
        args.csv,
        runtime.clock,
        runtime.catalog,
        sequence=args.sequence,
        enroll=not args.no_enroll,
    )
    cpu = time.process_time() - cpu0
    seconds = time.perf_counter() - started
    errors = [str(e) for e in report.errors]
    if args.errors_out:
        args.errors_out.write_text("".join(e + "\n" for e in errors), encoding="utf-8")
    result = {
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "enrolled": report.enrollment.enrolled,
        "not_enrolled": report.enrollment.skipped,
        "errors": len(errors),
        "first_errors": errors[:3],
        "errors_sha256": hashlib.sha256("\n".join(errors).encode()).hexdigest(),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "startup_peak_kib": startup_peak,
        "peak_reset": reset,
        "rss_before_kib": before_now,
        "peak_during_kib": _peak_kib(),
        "vmhwm_kib": _status_kib("VmHWM"),
    }
    runtime.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
