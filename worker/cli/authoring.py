"""Authoring commands: validate, sequences, preview."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from worker.cli.common import err, out, print_json, runtime_of, settings_of, user_errors
from worker.cli.root import main
from worker.errors import NotFoundError


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
@user_errors
def validate(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Check sequences and templates; print every problem as path:line: message.

    \b
    Examples:
      outreach validate
      outreach validate sequences/prospecting.yaml
    """
    from worker.rehearsal.validation import validate as run_validation

    for path in paths:
        if not path.exists():
            raise NotFoundError(
                f"{path}: no such file or folder — give a sequence .yaml, a template or a folder."
            )
    problems = run_validation(settings_of(ctx), list(paths) or None)
    errors = [p for p in problems if p.severity == "error"]
    for problem in problems:
        click.echo(str(problem), err=problem.severity == "error")
    if errors:
        click.echo(f"{len(errors)} error(s) — nothing is sent from an invalid sequence.", err=True)
        ctx.exit(1)
    warnings = len(problems) - len(errors)
    click.echo(f"ok: sequences and templates are valid ({warnings} warning(s))")


@main.group()
def sequences() -> None:
    """Inspect sequences."""


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
@click.option("--html", is_flag=True, help="Print the whole MIME message including the HTML part.")
@click.option("--variant", help="An A/B variant of the step (default: the one this lead gets).")
@click.pass_context
@user_errors
def preview(
    ctx: click.Context, sequence: str, email: str, step: int, html: bool, variant: str | None
) -> None:
    """Print a touch exactly as it would be sent: headers and text.

    A call or LinkedIn step prints the rep's task text instead.

    \b
    Examples:
      outreach preview prospecting --lead ada@northwind.test
      outreach preview prospecting --lead ada@northwind.test --step 2
      outreach preview prospecting --lead ada@northwind.test --step 4 --variant question
    """
    from worker.rehearsal.preview import preview_task, preview_touch, preview_variant

    runtime = runtime_of(ctx)
    spec = runtime.catalog.get(sequence)
    if 1 <= step <= len(spec.steps) and not spec.steps[step - 1].is_email:
        kind = spec.steps[step - 1].type
        timeout = spec.steps[step - 1].timeout
        text = preview_task(runtime, sequence, email, step)
        click.echo(
            f"Task ({kind}) for a rep"
            + (f", closed by itself after {timeout} if still open" if timeout else "")
        )
        click.echo("")
        click.echo(text)
        return
    built = preview_touch(runtime, sequence, email, step, variant)
    own = preview_variant(runtime, sequence, email, step)
    if own is not None:
        shown = variant or own
        click.echo(
            f"Variant: {shown}" + (" (this lead's own)" if shown == own else f" (lead gets {own})"),
            err=True,
        )
    message = built.message
    if html:
        click.echo(message.as_string())
        return
    for header in (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "In-Reply-To",
        "References",
        "List-Unsubscribe",
    ):
        if message[header]:
            click.echo(f"{header}: {message[header]}")
    body = message.get_body(preferencelist=("plain",))
    click.echo("")
    click.echo(body.get_content() if body is not None else "")
    if message.get_body(preferencelist=("html",)) is not None:
        click.echo("[+ HTML part: use --html to see the full MIME message]")
