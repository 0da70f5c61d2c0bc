"""Suppression list commands: list, add, remove, import, export."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from worker.cli.common import out, print_file_report, print_json, runtime_of, user_errors
from worker.cli.root import main


@main.group()
def suppressions() -> None:
    """The suppression list: addresses and domains that are never mailed again."""


def _value(raw: str) -> str:
    from worker.leads.suppressions import normalise_value

    try:
        return normalise_value(raw)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _reason(raw: str | None, default: str) -> str:
    from worker.leads.suppressions import normalise_reason

    try:
        return normalise_reason(raw, default)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@suppressions.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def suppressions_list(ctx: click.Context, as_json: bool) -> None:
    """List every suppressed address and domain with its reason and time (UTC).

    \b
    Examples:
      outreach suppressions list
      outreach suppressions list --json
    """
    from worker.leads.suppressions import entries

    with runtime_of(ctx).sessions() as session:
        rows = list(entries(session))
    if as_json:
        print_json(rows)
        return
    table = Table("value", "kind", "reason", "since (UTC)")
    for row in rows:
        table.add_row(row["value"], row["kind"], row["reason"], row["created_at"])
    out.print(table)
    click.echo(f"{len(rows)} suppressed")


@suppressions.command("add")
@click.argument("value")
@click.option("--reason", help="Why (default: manual; 'unsubscribe' or 'bounce' set lead status).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def suppressions_add(ctx: click.Context, value: str, reason: str | None, as_json: bool) -> None:
    """Never mail an address or a whole domain again; stops the sequences of the leads it covers.

    \b
    Examples:
      outreach suppressions add ada@northwind.test --reason "asked by phone"
      outreach suppressions add northwind.test
      outreach suppressions add @northwind.test --reason competitor
    """
    from worker.leads.suppressions import DEFAULT_REASON, add

    normalised = _value(value)
    why = _reason(reason, DEFAULT_REASON)
    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        done = add(session, normalised, reason=why, at=runtime.clock.now())
    if as_json:
        print_json({"value": done.value, "added": done.added, "stopped_leads": done.stopped_leads})
        return
    state = "suppressed" if done.added else "already suppressed"
    click.echo(f"{done.value}: {state}; {done.stopped_leads} lead(s) stopped")


@suppressions.command("remove")
@click.argument("value")
@click.option("--note", help="Why the entry was a mistake (kept in the event log).")
@click.pass_context
@user_errors
def suppressions_remove(ctx: click.Context, value: str, note: str | None) -> None:
    """Take a mistaken entry off the list (recorded). Stopped leads stay stopped.

    \b
    Example:
      outreach suppressions remove ada@northwind.test --note "typo, meant ada@northwind.example"
    """
    from worker.leads.suppressions import remove

    normalised = _value(value)
    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        removed = remove(session, normalised, at=runtime.clock.now(), note=note)
    click.echo(
        f"removed {', '.join(removed)}; leads it stopped stay stopped "
        "(enroll them again with 'outreach leads import … --sequence NAME')"
    )


@suppressions.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--reason", help="Reason for rows without one (default: import).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def suppressions_import(ctx: click.Context, file: Path, reason: str | None, as_json: bool) -> None:
    """Add every row of a CSV file (columns: value, optional reason); bad rows are reported.

    \b
    Examples:
      outreach suppressions import do-not-contact.csv
      outreach suppressions import bounces.csv --reason bounce --json
    """
    from worker.leads.suppression_csv import import_file

    why = _reason(reason, "import")
    runtime = runtime_of(ctx)
    report = import_file(runtime.sessions, file, runtime.clock, reason=why)
    summary = (
        f"{report.rows} rows: {report.added} added, {report.already} already suppressed, "
        f"{len(report.errors)} skipped as invalid; {report.stopped_leads} lead(s) stopped"
    )
    print_file_report(report.errors, report.as_dict(), summary, as_json)


@suppressions.command("export")
@click.argument("file", required=False, default="-")
@click.pass_context
@user_errors
def suppressions_export(ctx: click.Context, file: str) -> None:
    """Write the list as CSV (value, reason, created_at) to FILE, or to stdout with - .

    \b
    Examples:
      outreach suppressions export suppressions.csv
      outreach suppressions export - > backup.csv
    """
    from worker.leads.suppression_csv import export

    with runtime_of(ctx).sessions() as session:
        if file == "-":
            export(session, sys.stdout)
            return
        path = Path(file)
        try:
            with path.open("w", newline="", encoding="utf-8") as handle:
                count = export(session, handle)
        except OSError as exc:
            raise click.ClickException(f"{path}: cannot write ({exc.strerror}).") from None
    click.echo(f"{count} entries written to {path}")
