"""Running the ``outreach`` command line in-process for tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from worker.cli import main
from worker.processes.batch import stop_embedded_workers
from worker.runtime import set_runtime

Invoke = Callable[..., Result]
FIXED_NOW = "2027-01-04T09:00:00Z"


def make_invoke(project: Path, database_url: str) -> Invoke:
    """The CLI on ``database_url`` for ``project``, at a fixed time, writing to its outbox."""
    runner = CliRunner()
    env = {
        "DATABASE_URL": database_url,
        "OUTREACH_HOME": str(project),
        "OUTREACH_SECRET_KEY": "test-secret",
        "OUTREACH_NOW": FIXED_NOW,
        "OUTREACH_TRANSPORT_URL": f"file://{project / 'outbox'}",
        "REDIS_URL": None,
    }

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), env=env, input=input)

    return run


def reset_cli_runtime() -> None:
    """Forget the runtime and workers a CLI call installed in this process."""
    set_runtime(None)
    stop_embedded_workers()
