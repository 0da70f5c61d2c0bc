"""Optional py-spy sampling of the timed part of a phase (``--py-spy DIR``), with a summary.

py-spy writes "raw" collapsed stacks (``frame;frame;frame COUNT`` per line); ``summarise``
folds them into the share of samples per function (inclusive) and per leaf (self time).
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"


@contextmanager
def py_spy(
    out_dir: Path | None, name: str, pid: int, *, subprocesses: bool = False, rate: int = 100
) -> Iterator[Path | None]:
    """Sample ``pid`` (and its children) while the block runs; yields the raw output path."""
    if out_dir is None:
        yield None
        return
    exe = str(PY_SPY) if PY_SPY.exists() else shutil.which("py-spy")
    if exe is None:
        print("  (py-spy not found: not profiling)", flush=True)
        yield None
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.raw"
    command = [exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw"]
    command += ["--nonblocking", "--output", str(path)]
    if subprocesses:
        command.append("--subprocesses")
    log = (out_dir / f"{name}.py-spy.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    time.sleep(0.5)  # let it attach
    try:
        yield path
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if path.exists():
            (out_dir / f"{name}.txt").write_text(summarise(path))
            print(f"  profile: {path} (summary {out_dir / f'{name}.txt'})", flush=True)


# First match wins: what a sample of the send path is spending its time on.
CATEGORIES = (
    (
        "build MIME message (rendering.build_message)",
        ("build_message (worker/delivery/rendering.py",),
    ),
    ("render templates (rendering.render_touch)", ("render_touch (worker/delivery/rendering.py",)),
    ("SMTP hand-over (transport.send, incl. as_bytes)", ("SmtpTransport.send (",)),
    ("SQLite write lock wait (BEGIN IMMEDIATE)", ("_on_begin (worker/store/db.py",)),
    ("database: SQLAlchemy ORM/Core + driver", ("sqlalchemy/", "psycopg/", "sqlite3")),
)


def category(frames: list[str]) -> str:
    for name, needles in CATEGORIES:
        if any(needle in frame for frame in frames for needle in needles):
            return name
    return "other (engine code, dramatiq, logging, ...)"


def summarise(path: Path, within: str = "send_touches (worker/actors.py", top: int = 45) -> str:
    """Share of the samples under ``within`` per category, function (inclusive) and leaf."""
    inclusive: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    categories: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        if within and not any(within in f for f in frames):
            continue
        n = int(count)
        total += n
        leaf[frames[-1]] += n
        categories[category(frames)] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"{total} samples under {within!r}", "", "by category:"]
    lines += [f"{v / max(total, 1):7.1%}  {k}" for k, v in categories.most_common()]
    lines += ["", "inclusive:"]
    lines += [f"{v / max(total, 1):7.1%}  {k}" for k, v in inclusive.most_common(top)]
    lines += ["", "self (leaf):"]
    lines += [f"{v / max(total, 1):7.1%}  {k}" for k, v in leaf.most_common(25)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else ""))


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class CpuMeter:
    """CPU seconds used by a changing set of processes between ``start`` and ``stop``.

    ``pids`` is called at both ends; a process first seen at the end counts from zero.
    """

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self.pids = pids
        self.before: dict[int, float] = {}
        self.seconds = 0.0

    def start(self) -> CpuMeter:
        self.before = {pid: cpu_seconds(pid) for pid in self.pids()}
        return self

    def stop(self) -> float:
        after = {pid: cpu_seconds(pid) for pid in self.pids()}
        self.seconds = sum(max(0.0, cpu - self.before.get(pid, 0.0)) for pid, cpu in after.items())
        return self.seconds
