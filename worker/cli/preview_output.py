"""How ``outreach preview`` shows a touch: headers and text, the decoded HTML, every step with
its due date, or files written for a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from worker.authoring.schema import SequenceSpec
from worker.errors import OutreachError
from worker.rehearsal.preview import (
    preview_language,
    preview_lead,
    preview_task,
    preview_touch,
    preview_variant,
)
from worker.rehearsal.preview_files import (
    html_of,
    open_in_browser,
    preview_folder,
    text_of,
    write_files,
)
from worker.rehearsal.step_dates import step_dates


def show_preview(
    runtime: Any,
    spec: SequenceSpec,
    email: str,
    steps: list[int],
    *,
    variant: str | None,
    html: bool,
    open_files: bool,
    with_dates: bool,
) -> None:
    """Print ``steps`` (1-based) of ``spec`` for the lead; with ``open_files`` also write them
    to files (and show the first in a browser where there is a display)."""
    dates = {}
    if with_dates:
        lead = preview_lead(runtime, email)
        now = runtime.clock.now()
        dates = {d.number: d for d in step_dates(runtime.catalog.schedules, spec, lead, now)}
        click.echo(
            f"{spec.name}: {len(spec.steps)} steps for {lead.email} if enrolled now "
            f"({now:%a %Y-%m-%d %H:%M} UTC) and nobody replies; mailbox limits can move a "
            "send later ('outreach simulate' plans them).",
        )
    folder = preview_folder() if open_files else None
    written: list[Path] = []
    for number in steps:
        step = spec.steps[number - 1]
        if with_dates:
            click.echo("")
            due = dates[number].describe()
            click.echo(f"=== Step {number} of {len(spec.steps)} ({step.type}), due {due} ===")
        if not step.is_email:
            text = _show_task(runtime, spec, email, number)
            if folder is not None:
                path = folder / f"{spec.name}-step{number}-task.txt"
                path.write_text(text + "\n", encoding="utf-8")
                written.append(path)
            continue
        built = preview_touch(runtime, spec.name, email, number, variant)
        _show_variant(runtime, spec.name, email, number, variant)
        _show_language(runtime, spec, email, number, variant)
        if html:
            _show_html(built, number)
        else:
            click.echo(text_of(built))
            if html_of(built) is not None:
                click.echo("[+ HTML part: use --html to see it, or --open to view it]")
        if folder is not None:
            written += write_files(folder, f"{spec.name}-step{number}", built)
    if folder is not None:
        _announce(folder, written)


def _show_task(runtime: Any, spec: SequenceSpec, email: str, number: int) -> str:
    step = spec.steps[number - 1]
    text = preview_task(runtime, spec.name, email, number)
    click.echo(
        f"Task ({step.type}) for a rep"
        + (f", closed by itself after {step.timeout} if still open" if step.timeout else "")
    )
    click.echo("")
    click.echo(text)
    return str(text)


def _show_variant(
    runtime: Any, sequence: str, email: str, number: int, variant: str | None
) -> None:
    own = preview_variant(runtime, sequence, email, number)
    if own is not None:
        shown = variant or own
        click.echo(
            f"Variant: {shown}" + (" (this lead's own)" if shown == own else f" (lead gets {own})"),
            err=True,
        )


def _show_language(
    runtime: Any, spec: SequenceSpec, email: str, number: int, variant: str | None
) -> None:
    """Which language the email is in, when the sequence has more than one or the lead's
    own is not the one used."""
    written, own = preview_language(runtime, spec.name, email, number, variant)
    if written == own and len(spec.languages) < 2:
        return
    if written == own:
        why = "the lead's"
    elif own not in spec.languages:
        why = f"the lead's is {own}, which this sequence does not declare"
    else:
        why = f"the lead's is {own}, but this step has no {own} text"
    click.echo(f"Language: {written} ({why})", err=True)


def _show_html(built: Any, number: int) -> None:
    """The headers, then the HTML part as written (decoded, not quoted-printable)."""
    page = html_of(built)
    head = text_of(built).partition("\n\n")[0]
    click.echo(head)
    click.echo("")
    if page is None:
        click.echo(f"(step {number} has no HTML part: it is sent as text only)", err=True)
        click.echo(text_of(built).partition("\n\n")[2])
        return
    click.echo(page)


def _announce(folder: Path, written: list[Path]) -> None:
    click.echo("")
    click.echo(f"Preview files written to {folder}/:")
    for path in written:
        click.echo(f"  {path}")
    pages = [p for p in written if p.suffix == ".html"] or written
    if pages and open_in_browser(pages[0]):
        click.echo(f"Opened {pages[0].name} in your browser.")
    elif pages:
        click.echo("No display here: open the files above in a browser or editor.")


def check_preview_options(all_steps: bool, step_given: bool, variant: str | None) -> None:
    """--all shows every step as the lead gets it; --step and --variant pick one."""
    if all_steps and (step_given or variant):
        raise OutreachError(
            "--all shows every step as this lead gets it — leave out --step and --variant, "
            "or drop --all to see one step."
        )


__all__ = ["check_preview_options", "show_preview"]
