"""Child process of the import-memory figure: import one CSV into a fresh SQLite file.

Prints one JSON line: rows, created, enrolled, seconds, and in KiB: the peak RSS of start-up
(``ru_maxrss`` before the import: Python, SQLAlchemy, migrations, catalog), the RSS just before
the import, and ``ru_maxrss`` after it. The kernel's peak mark is reset just before the
import (``/proc/self/clear_refs``), so the last one is the import's own peak.

Start it from a small process (the bench uses ``/bin/sh -c``): a child's ``ru_maxrss``
includes the RSS of the process that forked it, as the kernel carries the old memory's peak
across ``exec``.

    .venv/bin/python bench/import_probe.py LEADS.csv PROJECT_DIR
"""

from __future__ import annotations

import json
import resource
import sys
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
    csv_path, home = Path(sys.argv[1]), Path(sys.argv[2])
    settings = Settings.from_env(
        {"DATABASE_URL": f"sqlite:///{home / 'import.db'}", "OUTREACH_SECRET_KEY": "bench"},
        home=home,
    )
    runtime = Runtime.from_settings(settings, SystemClock())
    runtime.sessions  # noqa: B018  (engine + migrations before the baseline)
    runtime.catalog  # noqa: B018
    startup_peak = _peak_kib()
    reset = _reset_peak()
    before_now = _status_kib("VmRSS")
    started = time.perf_counter()
    report = import_leads(runtime.sessions, csv_path, runtime.clock, runtime.catalog)
    seconds = time.perf_counter() - started
    result = {
        "rows": report.rows,
        "created": report.created,
        "enrolled": report.enrollment.enrolled,
        "errors": len(report.errors),
        "first_errors": [str(e) for e in report.errors[:3]],
        "seconds": seconds,
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
