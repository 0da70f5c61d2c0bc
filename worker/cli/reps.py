"""Rep accounts for the web app: add, list, change a password, remove."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from worker.cli.common import out, print_json, runtime_of, user_errors
from worker.cli.root import main


@main.group()
def reps() -> None:
    """Accounts that sign in to the web app (review queue, board, reports).

    Passwords are stored as scrypt hashes. Changing a password or removing an account ends
    that rep's open sessions.

    \b
    Examples:
      outreach reps add rita
      printf '%s\\n' "$PASSWORD" | outreach reps add rita --password-stdin
      outreach reps list
    """


def _password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@reps.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
@user_errors
def reps_add(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Create the account NAME (asks for its password).

    \b
    Examples:
      outreach reps add rita
    """
    from worker.review.reps import add_rep, check_name, check_password

    name = check_name(name)
    password = _password(password_stdin)
    check_password(password)
    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        add_rep(session, name, password, at=runtime.clock.now())
    click.echo(f"rep {name!r} added — sign in at {runtime.settings.public_url}/login")


@reps.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
@user_errors
def reps_passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME (their open sessions end).

    \b
    Examples:
      outreach reps passwd rita
    """
    from worker.review.reps import check_password, set_password

    password = _password(password_stdin)
    check_password(password)
    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        set_password(session, name, password, at=runtime.clock.now())
    click.echo(f"password of {name!r} changed")


@reps.command("remove")
@click.argument("name")
@click.pass_context
@user_errors
def reps_remove(ctx: click.Context, name: str) -> None:
    """Delete the account NAME; its open review items become unassigned.

    \b
    Examples:
      outreach reps remove rita
    """
    from worker.review.reps import remove_rep

    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        released = remove_rep(session, name)
    click.echo(f"rep {name!r} removed; {released} open item(s) back in the unassigned queue")


@reps.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def reps_list(ctx: click.Context, as_json: bool) -> None:
    """Accounts with their open assigned review items.

    \b
    Examples:
      outreach reps list --json
    """
    from worker.review.reps import list_reps

    runtime = runtime_of(ctx)
    with runtime.sessions() as session:
        rows = list_reps(session)
    if as_json:
        print_json(rows)
        return
    table = Table("rep", "created (UTC)", "password changed (UTC)", "open items")
    for row in rows:
        table.add_row(
            str(row["name"]),
            str(row["created_at"]),
            str(row["password_changed_at"]),
            str(row["open_items"]),
        )
    out.print(table)
