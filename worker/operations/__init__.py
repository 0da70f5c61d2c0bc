"""What operators watch: each process's heartbeat and the recovery it allows
(``heartbeats``), the scheduler's and workers' Prometheus metrics (``process_metrics``), the
log line format (``log_format``), and the boot of a worker process (``worker_process``).

Nothing is imported here: ``log_format`` must load before anything that logs while loading.
"""

from __future__ import annotations

__all__ = ["heartbeats", "log_format", "process_metrics", "worker_process"]
