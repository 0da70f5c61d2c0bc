"""The root ``outreach`` command group."""

from __future__ import annotations

import os
from pathlib import Path

import click

from worker import __version__
from worker.cli.logs import configure_logging
from worker.errors import OutreachError
from worker.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="outreach")
@click.option("-v", "--verbose", count=True, help="Libraries' log lines too (-v info, -vv debug).")
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
    configure_logging(verbose, os.environ.get("OUTREACH_LOG_FORMAT"), ctx.invoked_subcommand)
    try:
        ctx.ensure_object(dict)["settings"] = Settings.from_env(home=home)
    except OutreachError as exc:
        raise click.ClickException(str(exc)) from None
