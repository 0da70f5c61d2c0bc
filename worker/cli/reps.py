"""Rep accounts for the web app: add, change, list, change a password, remove."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from rich.table import Table

from worker.cli.common import out, print_json, runtime_of, user_errors
from worker.cli.root import main


@main.group()
def reps() -> None:
    """Accounts that sign in to the web app (review queue, board, reports).

    Passwords are stored as scrypt hashes. Changing a password or removing an account ends
    that rep's open sessions. Each rep has a role: an admin manages reps, mailbox pauses and
    settings (in the web app too); a rep works leads and the queue. Pages show times in the
    rep's time zone; notifications go to their email address.

    \b
    Examples:
      outreach reps add rita --full-name "Rita Diaz" --email rita@example.com \\
          --timezone Europe/Berlin --role admin
      printf '%s\\n' "$PASSWORD" | outreach reps add sam --password-stdin
      outreach reps set sam --timezone America/New_York
      outreach reps list
    """


def _password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _profile_options(func: Callable[..., None]) -> Callable[..., None]:
    """--full-name, --email, --timezone and --role, shared by ``add`` and ``set``."""
    options = (
        click.option("--full-name", help="The rep's full name, as pages show it."),
        click.option("--email", help="Where the rep's notifications go ('' clears it)."),
        click.option("--timezone", help="IANA time zone pages show times in, e.g. Europe/Berlin."),
        click.option("--role", help="admin (manages reps, mailbox pauses, settings) or rep."),
    )
    for option in reversed(options):
        func = option(func)
    return func


@reps.command("add")
@click.argument("name")
@_profile_options
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
@user_errors
def reps_add(
    ctx: click.Context,
    name: str,
    full_name: str | None,
    email: str | None,
    timezone: str | None,
    role: str | None,
    password_stdin: bool,
) -> None:
    """Create the account NAME (asks for its password).

    Without --role the first account is an admin and later ones are reps; without
    --timezone pages show UTC.

    \b
    Examples:
      outreach reps add rita
      outreach reps add sam --full-name "Sam Lee" --email sam@example.com \\
          --timezone America/New_York --role rep
    """
    from worker.review.reps import (
        add_rep,
        check_email,
        check_name,
        check_password,
        check_role,
        check_timezone,
    )

    name = check_name(name)
    # Check the fields before asking for a password, so a typo costs no typing.
    check_email(email or "")
    check_timezone(timezone or "UTC")
    if role is not None:
        check_role(role)
    password = _password(password_stdin)
    check_password(password)
    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        rep = add_rep(
            session,
            name,
            password,
            at=runtime.clock.now(),
            full_name=full_name or "",
            email=email or "",
            timezone=timezone or "UTC",
            role=role,
        )
        role = rep.role
    click.echo(f"rep {name!r} added as {role} — sign in at {runtime.settings.public_url}/login")


@reps.command("set")
@click.argument("name")
@_profile_options
@click.pass_context
@user_errors
def reps_set(
    ctx: click.Context,
    name: str,
    full_name: str | None,
    email: str | None,
    timezone: str | None,
    role: str | None,
) -> None:
    """Change the full name, email, time zone or role of NAME (what is not given stays).

    \b
    Examples:
      outreach reps set sam --role admin
      outreach reps set rita --timezone Asia/Tokyo --email rita@example.com
    """
    from worker.errors import OutreachError
    from worker.review.reps import update_rep

    if full_name is None and email is None and timezone is None and role is None:
        raise OutreachError("Nothing to change — give --full-name, --email, --timezone or --role.")
    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        rep = update_rep(
            session, name, full_name=full_name, email=email, timezone=timezone, role=role
        )
        summary = f"{rep.role}, {rep.timezone}, {rep.email or 'no email'}"
    click.echo(f"rep {name.strip().lower()!r} changed: {summary}")


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
    """Delete the account NAME; its open review items become unassigned and the leads it
    owned have no owner.

    \b
    Examples:
      outreach reps remove rita
    """
    from worker.review.reps import remove_rep

    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        released = remove_rep(session, name, at=runtime.clock.now())
    click.echo(f"rep {name!r} removed; {released} open item(s) back in the unassigned queue")


@reps.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def reps_list(ctx: click.Context, as_json: bool) -> None:
    """Accounts with their role, time zone, email and open assigned review items.

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
    table = Table("rep", "full name", "role", "time zone", "email", "created (UTC)", "open items")
    for row in rows:
        table.add_row(
            str(row["name"]),
            str(row["full_name"] or ""),
            str(row["role"]),
            str(row["timezone"]),
            str(row["email"] or ""),
            str(row["created_at"]),
            str(row["open_items"]),
        )
    out.print(table)
