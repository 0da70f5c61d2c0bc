"""The root ``outreach`` command group."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from worker import __version__
from worker.errors import OutreachError
from worker.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="outreach")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="OUTREACH_HOME",
    help="Project folder with sequences/, templates/ and mailboxes.yaml (default: current).",
)
@click.pass_context
def main(ctx: click.Context, verbose: int, home: Path | None) -> None:
    """Outreach automation worker: multi-touch email sequences, sent exactly once.

    \b
    Examples:
      outreach validate
      outreach leads import examples/leads.csv
      outreach run
      outreach demo
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        ctx.ensure_object(dict)["settings"] = Settings.from_env(home=home)
    except OutreachError as exc:
        raise click.ClickException(str(exc)) from None
