"""The processes an operator runs: one cron batch (``outreach run``), the APScheduler loop that
only enqueues, and ``outreach check``. The dramatiq broker and actors sit beside ``worker``.
"""

from __future__ import annotations

from worker.processes.batch import BatchSummary, run_batch
from worker.processes.health import run_checks
from worker.processes.scheduler import build_scheduler, run_scheduler

__all__ = ["BatchSummary", "build_scheduler", "run_batch", "run_checks", "run_scheduler"]
