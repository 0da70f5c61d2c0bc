"""Authoring commands: validate, sequences, preview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.table import Table

from worker.cli.common import (
    err,
    existing_file,
    out,
    print_json,
    runtime_of,
    settings_of,
    user_errors,
)
from worker.cli.root import main
from worker.errors import NotFoundError


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--leads",
    "leads_file",
    type=click.Path(path_type=Path),
    help="Check the templates against this leads CSV (every row) instead of the sample leads.",
)
@click.pass_context
@user_errors
def validate(ctx: click.Context, paths: tuple[Path, ...], leads_file: Path | None) -> None:
    """Check sequences and templates; print every problem as path:line: message.

    With --leads, every row of a real leads file is checked: a field a template uses
    without a default that the row does not have is reported as FILE.csv:ROW.

    \b
    Examples:
      outreach validate
      outreach validate sequences/prospecting.yaml
      outreach validate --leads new-leads.csv
      outreach validate sequences/prospecting.yaml --leads new-leads.csv
    """
    from worker.rehearsal.validation import validate as run_validation

    for path in paths:
        if not path.exists():
            raise NotFoundError(
                f"{path}: no such file or folder — give a sequence .yaml, a template or a folder."
            )
    if leads_file is not None:
        existing_file(leads_file, "leads file")
    problems = run_validation(settings_of(ctx), list(paths) or None, leads_file)
    errors = [p for p in problems if p.severity == "error"]
    for problem in problems:
        click.echo(str(problem), err=problem.severity == "error")
    if errors:
        click.echo(f"{len(errors)} error(s) — nothing is sent from an invalid sequence.", err=True)
        ctx.exit(1)
    warnings = len(problems) - len(errors)
    checked = f" for every lead in {leads_file}" if leads_file is not None else ""
    click.echo(f"ok: sequences and templates are valid{checked} ({warnings} warning(s))")
    note = _in_flight_note(ctx)
    if note:
        click.echo(note)


def _in_flight_note(ctx: click.Context) -> str | None:
    """``sequences plan`` in one line, when an existing database has leads the files would
    move (validation itself never needs a database: any problem reaching it is ignored)."""
    from sqlalchemy.engine import make_url

    from worker.rehearsal.change_plan import plan, summary

    settings = settings_of(ctx)
    try:
        url = make_url(settings.database_url)
        if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
            return None
        return summary(plan(runtime_of(ctx)))
    except Exception:
        return None


@main.group()
def sequences() -> None:
    """Inspect sequences."""


@sequences.command("plan")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def sequences_plan(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Show what the sequence files would do to leads in flight, before the next run applies it.

    For each sequence changed since its leads were last scheduled: how many leads move, from
    which step to which (by step id), which emails they will now never get, and the new steps
    placed before their position (not sent to them), under the sequence's on_change policy.
    Nothing is changed.

    \b
    Examples:
      outreach sequences plan
      outreach sequences plan prospecting --json
    """
    from worker.rehearsal.change_plan import plan

    runtime = runtime_of(ctx)
    for name in names:
        runtime.catalog.get(name)  # a clear error for an unknown or invalid sequence
    plans = plan(runtime, list(names) or None)
    if as_json:
        print_json([found.as_json() for found in plans])
        return
    for found in plans:
        _print_plan(found)


def _print_plan(found: Any) -> None:
    head = f"[bold]{found.sequence}[/] version {found.version[:12]}  on_change: {found.policy}"
    out.print(head)
    if not found.changes:
        out.print(f"  no change for the {found.in_flight} lead(s) in flight")
    for group in found.groups:
        where = f"step {group.from_step} ({group.from_id or 'past the last step'}"
        where += ", removed)" if group.removed else ")"
        lands = f"step {group.to_step} ({group.to_id})" if group.to_id else "past the last step"
        version = f"[dim]from {group.from_version}[/]"
        if not group.removed and group.to_id is not None and group.to_id == group.from_id:
            # the same email next; the version changed around it
            moved = "" if group.to_step == group.from_step else f", now step {group.to_step}"
            out.print(f"  {group.leads} lead(s) keep their next email, {where}{moved}  {version}")
            continue
        out.print(f"  {group.leads} lead(s) at {where} → {lands}  {version}")
    if found.finishing:
        out.print(f"  {found.finishing} lead(s) finish the version they started")
    for step_id, leads in sorted(found.never_sent.items()):
        out.print(f"  [red]never sent[/]: {step_id} to {leads} lead(s)")
    for step_id, leads in sorted(found.not_retroactive.items()):
        out.print(f"  not sent retroactively: {step_id} (new, before their place): {leads} lead(s)")
    if found.changes:
        out.print(f"  unchanged: {found.unchanged} lead(s)")
    for problem in found.problems:
        err.print(f"  [yellow]{problem}[/]")


@sequences.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def sequences_list(ctx: click.Context, as_json: bool) -> None:
    """List valid sequences with their stage and number of steps.

    \b
    Example:
      outreach sequences list --json
    """
    from worker.authoring.sequences import load_catalog

    settings = settings_of(ctx)
    catalog, problems = load_catalog(settings.sequences_dir, settings.home)
    rows = [
        {
            "name": name,
            "stage": catalog.get(name).stage,
            "steps": len(catalog.get(name).steps),
            "mailbox": catalog.get(name).mailbox,
        }
        for name in catalog.names()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("name", "stage", "steps", "mailbox")
    for row in rows:
        table.add_row(str(row["name"]), str(row["stage"]), str(row["steps"]), str(row["mailbox"]))
    out.print(table)
    if any(p.severity == "error" for p in problems):
        err.print("[yellow]some sequence files are invalid — run 'outreach validate'[/]")


@main.command()
@click.argument("sequence")
@click.option("--lead", "email", required=True, help="The lead's email (database or sample file).")
@click.option(
    "--step", default=1, show_default=True, type=click.IntRange(min=1), help="Step number."
)
@click.option("--all", "all_steps", is_flag=True, help="Every step, each with its due date.")
@click.option("--html", is_flag=True, help="Print the HTML part (decoded) instead of the text.")
@click.option(
    "--open",
    "open_files",
    is_flag=True,
    help="Also write the HTML and text to files, and show them in a browser if there is a display.",
)
@click.option("--variant", help="An A/B variant of the step (default: the one this lead gets).")
@click.pass_context
@user_errors
def preview(
    ctx: click.Context,
    sequence: str,
    email: str,
    step: int,
    all_steps: bool,
    html: bool,
    open_files: bool,
    variant: str | None,
) -> None:
    """Print a touch exactly as it would be sent: headers and text.

    A call or LinkedIn step prints the rep's task text instead. --all prints every step
    with the date it would go out if the lead were enrolled now.

    \b
    Examples:
      outreach preview prospecting --lead ada@northwind.test
      outreach preview prospecting --lead ada@northwind.test --step 2
      outreach preview prospecting --lead ada@northwind.test --step 4 --variant question
      outreach preview prospecting --lead ada@northwind.test --step 3 --html
      outreach preview prospecting --lead ada@northwind.test --step 3 --open
      outreach preview prospecting --lead ada@northwind.test --all
    """
    from worker.cli.preview_output import check_preview_options, show_preview
    from worker.rehearsal.preview import preview_touch

    step_given = ctx.get_parameter_source("step") == ParameterSource.COMMANDLINE
    check_preview_options(all_steps, step_given, variant)
    runtime = runtime_of(ctx)
    spec = runtime.catalog.get(sequence)
    if not all_steps and not 1 <= step <= len(spec.steps):
        preview_touch(runtime, sequence, email, step)  # the clear "no step N" error
    steps = list(range(1, len(spec.steps) + 1)) if all_steps else [step]
    show_preview(
        runtime,
        spec,
        email,
        steps,
        variant=variant,
        html=html,
        open_files=open_files,
        with_dates=all_steps,
    )
