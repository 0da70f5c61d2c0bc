"""Keys of the JSON API (``/api/v1``): create (the secret shown once), list, revoke."""

from __future__ import annotations

import click
from rich.table import Table

from worker.cli.common import acting_user, out, print_json, runtime_of, user_errors
from worker.cli.root import main


@main.group("api-keys")
def api_keys() -> None:
    """Keys for the JSON API at /api/v1 (integrations: a CRM, a data warehouse, scripts).

    A key is shown once, when it is created; only a hash of it is stored. Send it as
    'Authorization: Bearer ok_…'. Scope 'read' reads leads, events and review items;
    'write' also creates and changes leads. See docs/api.md.

    \b
    Examples:
      outreach api-keys create crm-sync --scope write
      outreach api-keys list
      outreach api-keys revoke crm-sync
    """


@api_keys.command("create")
@click.argument("name")
@click.option(
    "--scope",
    type=click.Choice(["read", "write"]),
    default="read",
    show_default=True,
    help="What the key may do ('write' implies 'read').",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the key under 'key').")
@click.pass_context
@user_errors
def create(ctx: click.Context, name: str, scope: str, as_json: bool) -> None:
    """Create the key NAME and print it — the only time it is shown.

    \b
    Examples:
      outreach api-keys create crm-sync --scope write
      outreach api-keys create warehouse --scope read --json
    """
    from worker.integrations.api_keys import create_key

    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        new = create_key(session, name, scope, at=runtime.clock.now(), by=acting_user(None))
    if as_json:
        print_json({"name": new.name, "prefix": new.prefix, "scope": new.scope, "key": new.secret})
        return
    click.echo(new.secret)
    click.echo(
        f"API key {new.name!r} ({new.scope}) created — copy it now, it is not shown again; "
        f"lists show it as {new.prefix}…",
        err=True,
    )


@api_keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def list_(ctx: click.Context, as_json: bool) -> None:
    """Every key with its prefix, scope and last use (never the secret).

    \b
    Examples:
      outreach api-keys list
      outreach api-keys list --json
    """
    from worker.integrations.api_keys import list_keys

    runtime = runtime_of(ctx)
    with runtime.sessions() as session:
        rows = list_keys(session)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no API keys — create one with 'outreach api-keys create NAME'")
        return
    table = Table("name", "prefix", "scope", "created (UTC)", "by", "last used (UTC)", "revoked")
    for row in rows:
        table.add_row(
            row["name"],
            f"{row['prefix']}…",
            row["scope"],
            _minute(row["created_at"]),
            row["created_by"] or "",
            _minute(row["last_used_at"]) or "never",
            _minute(row["revoked_at"]),
        )
    out.print(table)


def _minute(iso: str | None) -> str:
    """``2027-01-04T09:00:12.5Z`` → ``2027-01-04 09:00`` ('' for None)."""
    return iso[:16].replace("T", " ") if iso else ""


@api_keys.command("revoke")
@click.argument("name_or_prefix", metavar="NAME|PREFIX")
@click.pass_context
@user_errors
def revoke(ctx: click.Context, name_or_prefix: str) -> None:
    """Revoke a key by its name or prefix: requests with it get 401 from then on.

    \b
    Examples:
      outreach api-keys revoke crm-sync
      outreach api-keys revoke ok_3xAmPl3k
    """
    from worker.integrations.api_keys import revoke_key

    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        key = revoke_key(session, name_or_prefix, at=runtime.clock.now())
        name = key.name
    click.echo(f"API key {name!r} revoked")
