"""Lead commands: import, list, show."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from worker.cli.common import (
    existing_file,
    out,
    print_json,
    print_timeline,
    runtime_of,
    user_errors,
)
from worker.cli.lead_work import COMMANDS as WORK_COMMANDS
from worker.cli.root import main
from worker.cli.scoring_view import print_score


@main.group()
def leads() -> None:
    """Import and inspect leads."""


for _command in WORK_COMMANDS:  # pause, resume, stop, enroll, set, note, call, stage, ...
    leads.add_command(_command)


@leads.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--sequence", help="Enroll into this sequence (default: the sequence of each lead's stage)."
)
@click.option("--no-enroll", is_flag=True, help="Only create or update the leads.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def leads_import(
    ctx: click.Context, file: Path, sequence: str | None, no_enroll: bool, as_json: bool
) -> None:
    """Upsert leads from CSV by normalised email and enroll them; bad rows are reported and skipped.

    \b
    Examples:
      outreach leads import examples/leads.csv
      outreach leads import new.csv --sequence prospecting
    """
    from worker.leads.importing import import_leads
    from worker.scoring.config import scoring_path

    runtime = runtime_of(ctx)
    report = import_leads(
        runtime.sessions,
        existing_file(file, "CSV file"),
        runtime.clock,
        runtime.catalog,
        sequence=sequence,
        enroll=not no_enroll,
        score=scoring_path(runtime.settings.home).exists(),
    )
    for error in report.errors:
        click.echo(str(error), err=True)
    if as_json:
        print_json(report.as_dict())
        return
    skipped = ", ".join(f"{n} {why}" for why, n in report.enrollment.skipped.items()) or "none"
    click.echo(
        f"{report.rows} rows: {report.created} created, {report.updated} updated, "
        f"{len(report.errors)} skipped as invalid; {report.enrollment.enrolled} enrolled "
        f"(not enrolled: {skipped})"
    )


@leads.command("list")
@click.option("--stage", help="Only this stage.")
@click.option("--status", help="Only this status.")
@click.option("--limit", type=int, help="At most this many.")
@click.option(
    "--sort",
    type=click.Choice(["id", "score"]),
    default="id",
    show_default=True,
    help="Order: as imported, or highest score first (unscored last).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def leads_list(
    ctx: click.Context,
    stage: str | None,
    status: str | None,
    limit: int | None,
    sort: str,
    as_json: bool,
) -> None:
    """List leads with stage, status, sequence, step, next due time (UTC) and score.

    \b
    Examples:
      outreach leads list
      outreach leads list --stage prospecting --json
      outreach leads list --sort score --limit 20
    """
    from worker.queries.leads import list_leads

    with runtime_of(ctx).sessions() as session:
        rows = list_leads(session, stage=stage, status=status, limit=limit, sort=sort)
    if as_json:
        print_json(rows)
        return
    table = Table("email", "stage", "status", "sequence", "step", "next due (UTC)", "score")
    for row in rows:
        table.add_row(
            row["email"],
            row["stage"],
            row["status"],
            row["sequence"] or "-",
            str(row["step"] or "-"),
            row["next_due_at"] or "-",
            "-" if row["score"] is None else f"{row['score']:g}",
        )
    out.print(table)


@leads.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def leads_show(ctx: click.Context, email: str, as_json: bool) -> None:
    """Show one lead: fields, touches and the timeline of events.

    \b
    Example:
      outreach leads show ada@northwind.test
    """
    from worker.queries.leads import show_lead

    with runtime_of(ctx).sessions() as session:
        data = show_lead(session, email)
    if as_json:
        print_json(data)
        return
    out.print(
        f"[bold]{data['email']}[/]  stage={data['stage']}  status={data['status']}  "
        f"sequence={data['sequence'] or '-'} step={data['step'] or '-'}  "
        f"next due={data['next_due_at'] or '-'}"
    )
    for key, value in sorted(data["fields"].items()):
        out.print(f"  {key}: {value}")
    print_score(data)
    if data["touches"]:
        touches = Table("touch", "sequence", "step", "kind", "variant", "status", "subject / task")
        for touch in data["touches"]:
            touches.add_row(
                str(touch["id"]),
                touch["sequence"],
                str(touch["step"]),
                touch["kind"],
                touch["variant"] or "",
                touch["status"],
                escape(touch["subject"] or ""),
            )
        out.print(touches)
    unknown = [t for t in data["touches"] if t["delivery_unknown"]]
    for touch in unknown:
        out.print(
            f"[red]touch {touch['id']} (step {touch['step']}): delivery unknown — "
            f"{touch['error']}[/]"
        )
    print_timeline(data["timeline"])
