"""Lead import at scale: rows/s and peak RSS of ``outreach leads import`` on SQLite and PostgreSQL.

    .venv/bin/python bench/import_scale.py [--rows N] [--backends sqlite,postgres]
        [--modes stage,sequence] [--reimport] [--csv FILE] [--json FILE]

Builds a CSV of N fictional leads (default 1,000,000; ``.test`` domains, the columns of
``examples/leads.csv``, a mix of stages) in which about 4 % of the rows are bad in the ways
users' files are (an invalid or empty address, an unknown time zone, stage or country, a
deal value that is not a number, too few cells, a NUL byte, a name too long for a header,
bytes that are not UTF-8) and about 1 % repeat an earlier address (in the same batch or an
earlier one: updates). Then, for each backend and mode, it imports the file into a fresh
database (a SQLite file; a fresh PostgreSQL schema, dropped afterwards) in a fresh child
process (``bench/import_probe.py``, started through ``/bin/sh`` so its peak RSS is its own)
and prints rows/s, CPU seconds and the import's peak RSS, with the machine's load average.

Modes: ``stage`` enrolls each lead into its stage's sequence (``outreach leads import
FILE.csv``), ``sequence`` into one sequence (``--sequence prospecting``), ``none`` only
upserts (``--no-enroll``). ``--reimport`` imports the same file a second time into the same
database (every row an update; enrollment skipped as already enrolled).

Every run of one file must report the same per-row errors: the bench prints the SHA-256 of
the error lines and exits 1 when runs differ, or when the counts are not what the file holds.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from datagen import COLUMNS, lead_rows, postgres_schema, run_in_fresh_shell

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgres")
MODES = ("stage", "sequence", "none")
SEQUENCE = "prospecting"
# Acceptance: 1,000,000 rows, peak RSS <= 300 MB, >= 10,000 rows/s PostgreSQL, >= 5,000 SQLite.
TARGET_RSS_MB = 300
TARGET_RATE = {"sqlite": 5_000, "postgres": 10_000}
# Stages by row number modulo 40 (mostly prospecting, a few won and lost: not enrolled).
_STAGES = (
    ["prospecting"] * 28
    + ["qualification"] * 4
    + ["consideration"] * 2
    + ["decision"] * 2
    + ["delivery"] * 2
    + ["won", "lost"]
)


# --- the file ------------------------------------------------------------------------------


def _spoil(i: int, row: dict[str, str]) -> bool:
    """Make row ``i`` bad in one of the ways users' files are; False when it stays good."""
    if i % 100 == 13:
        row["email"] = f"not-an-email-{i}"
    elif i % 100 == 41:
        row["timezone"] = "Mars/Olympus"
    elif i % 100 == 57:
        row["deal_value"] = "lots"
    elif i % 200 == 29:
        row["email"] = ""
    elif i % 500 == 173:
        row["stage"] = "negotiation"
    elif i % 1000 == 89:
        row["first_name"] = "B\x00b"
    elif i % 1000 == 389:
        row["company"] = "C" * 250
    elif i % 1000 == 97:
        row["country"] = "Atlantis"
    elif i % 2000 == 211:
        row["last_name"] = "M\udcfcller"  # a Latin-1 byte: not UTF-8
    else:
        return False
    return True


def write_csv(path: Path, count: int) -> dict[str, int]:
    """Write ``count`` data rows to ``path``; returns what the file holds (for the checks)."""
    recent: deque[str] = deque(maxlen=1000)
    bad = repeats = short = 0
    emails: set[str] = set()
    with path.open("w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i, row in enumerate(lead_rows(count, start=50_000_000, tag="s")):
            row["stage"] = _STAGES[i % len(_STAGES)]
            if i % 100 == 77 and recent:
                row["email"] = recent[-1].upper()  # the same lead again, same batch
                repeats += 1
            elif i % 1000 == 501 and len(recent) == recent.maxlen:
                row["email"] = recent[0]  # the same lead again, an earlier batch
                repeats += 1
            if i % 500 == 251:
                writer.writerow([row["email"], row["first_name"], row["last_name"]])
                bad += 1
                short += 1
                continue
            if _spoil(i, row):
                bad += 1
            else:
                emails.add(row["email"].lower())
                recent.append(row["email"])
            writer.writerow([row[c] for c in COLUMNS])
    return {"rows": count, "bad": bad, "leads": len(emails), "repeats": repeats}


# --- running one import ----------------------------------------------------------------


def copy_project(target: Path) -> Path:
    """The repository's sequences, templates, mailboxes and send windows, unchanged."""
    target.mkdir(parents=True)
    for name in ("sequences", "templates"):
        shutil.copytree(REPO / name, target / name)
    for name in ("mailboxes.yaml", "schedules.yaml"):
        shutil.copy(REPO / name, target / name)
    return target


@contextmanager
def database(backend: str, home: Path, pg_url: str) -> Iterator[str]:
    """A fresh database: a SQLite file in ``home`` or a PostgreSQL schema dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{home / 'import.db'}"
        return
    with postgres_schema(pg_url, "bench_import") as url:
        yield url


def probe(csv_path: Path, home: Path, url: str, mode: str, errors_out: Path) -> dict[str, Any]:
    """Import in a fresh process started through ``/bin/sh`` (its peak RSS is its own)."""
    command = [sys.executable, str(BENCH / "import_probe.py"), str(csv_path), str(home)]
    command += ["--database-url", url, "--errors-out", str(errors_out)]
    if mode == "sequence":
        command += ["--sequence", SEQUENCE]
    elif mode == "none":
        command += ["--no-enroll"]
    load = os.getloadavg()[0]
    done = run_in_fresh_shell(command, REPO)
    if done.returncode != 0:
        raise RuntimeError(f"import probe failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_start"] = load
    result["load_end"] = os.getloadavg()[0]
    return result


def check(result: dict[str, Any], held: dict[str, int], mode: str, again: bool) -> list[str]:
    """What is wrong with one run's counts, given what the file holds."""
    problems = []
    if result["rows"] != held["rows"] or result["errors"] != held["bad"]:
        problems.append(f"{result['rows']} rows, {result['errors']} errors; file: {held}")
    created = 0 if again else held["leads"]
    if result["created"] != created:
        problems.append(f"{result['created']:,} created; expected {created:,}")
    if mode != "none" and not again and result["enrolled"] == 0:
        problems.append("nothing enrolled")
    return problems


# --- main ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Lead import at scale: rows/s and peak RSS on SQLite and PostgreSQL.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows in the CSV")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="sqlite,postgres")
    parser.add_argument("--modes", default="stage,sequence", help="stage,sequence,none")
    parser.add_argument("--reimport", action="store_true", help="also import the file again")
    parser.add_argument("--csv", type=Path, help="use this CSV (written first if missing)")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--errors-dir", type=Path, help="keep each run's row errors here")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    modes = [m for m in args.modes.split(",") if m]
    if set(backends) - set(BACKENDS) or set(modes) - set(MODES):
        parser.error(f"backends: {', '.join(BACKENDS)}; modes: {', '.join(MODES)}")

    work = Path(tempfile.mkdtemp(prefix="outreach-import-"))
    if args.errors_dir:
        args.errors_dir.mkdir(parents=True, exist_ok=True)
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"import bench: {args.rows:,} rows, {os.cpu_count()} CPUs, load {load}, work {work}")
    csv_path = args.csv or work / f"leads-{args.rows}.csv"
    held_path = csv_path.with_suffix(".json")
    if csv_path.exists() and held_path.exists():
        held = json.loads(held_path.read_text())
    else:
        started = time.perf_counter()
        held = write_csv(csv_path, args.rows)
        held_path.write_text(json.dumps(held))
        print(f"  wrote {csv_path} in {time.perf_counter() - started:.0f} s")
    size_mb = csv_path.stat().st_size / 1e6
    print(
        f"  file: {held['rows']:,} rows ({size_mb:.0f} MB), {held['bad']:,} bad, "
        f"{held['leads']:,} distinct leads, {held['repeats']:,} repeated addresses"
    )
    runs: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        for backend in backends:
            for mode in modes:
                home = copy_project(work / f"{backend}-{mode}")
                with database(backend, home, args.pg_url) as url:
                    passes = ("first", "again") if args.reimport else ("first",)
                    for which in passes:
                        name = f"errors-{backend}-{mode}-{which}.txt"
                        errors_out = (args.errors_dir or work) / name
                        try:
                            result = probe(csv_path, home, url, mode, errors_out)
                        except RuntimeError as exc:
                            problems.append(f"{backend} {mode} {which}: {exc}")
                            break
                        result.update(backend=backend, mode=mode, which=which)
                        runs.append(result)
                        _show(result)
                        for problem in check(result, held, mode, which == "again"):
                            problems.append(f"{backend} {mode} {which}: {problem}")
    except KeyboardInterrupt:
        problems.append("interrupted; figures so far above")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    digests = {r["errors_sha256"] for r in runs}
    if len(digests) > 1:
        problems.append(f"the runs reported different row errors ({len(digests)} digests)")
    _summary(runs, args.rows)
    for problem in problems:
        print(f"  !! {problem}")
    if args.json:
        args.json.write_text(json.dumps({"file": held, "runs": runs, "problems": problems}))
    return 1 if problems else 0


def _show(r: dict[str, Any]) -> None:
    rate = r["rows"] / r["seconds"]
    peak_mb = r["peak_during_kib"] / 1024
    print(
        f"  {r['backend']:<8} {r['mode']:<8} {r['which']:<5} {rate:>9,.0f} rows/s "
        f"{r['seconds']:>7.1f} s wall {r['cpu_seconds']:>7.1f} s CPU  peak RSS "
        f"{peak_mb:>6.0f} MiB (before {r['rss_before_kib'] / 1024:.0f})  "
        f"{r['created']:,} created {r['updated']:,} updated {r['enrolled']:,} enrolled "
        f"{r['errors']:,} errors  load {r['load_start']:.2f}->{r['load_end']:.2f}"
    )


def _summary(runs: list[dict[str, Any]], rows: int) -> None:
    if not runs:
        return
    print(f"\nacceptance ({rows:,} rows; targets are for 1,000,000):")
    for r in runs:
        rate = r["rows"] / r["seconds"]
        peak_mb = r["peak_during_kib"] * 1024 / 1e6
        target = TARGET_RATE[r["backend"]]
        verdict = "ok" if rate >= target and peak_mb <= TARGET_RSS_MB else "MISSED"
        print(
            f"  {r['backend']:<8} {r['mode']:<8} {r['which']:<5} {rate:>9,.0f} rows/s "
            f"(>= {target:,})  peak {peak_mb:>4.0f} MB (<= {TARGET_RSS_MB})  {verdict}"
        )
    print(f"  row errors SHA-256: {', '.join(sorted({r['errors_sha256'][:16] for r in runs}))}")


if __name__ == "__main__":
    sys.exit(main())
