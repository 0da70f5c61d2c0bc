"""``outreach webhooks``: subscriptions of integrations.yaml, their deliveries, replay, a
test ping."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from worker.cli.common import out, print_json, runtime_of, user_errors
from worker.cli.root import main


@main.group()
def webhooks() -> None:
    """Outgoing webhooks: signed JSON POSTs to your CRM or chat for every event you
    subscribe to in integrations.yaml (secrets from OUTREACH_WEBHOOK_<NAME>_SECRET).

    Deliveries are made by the workers ('outreach run', the scheduler and the Procfile's
    integrations worker), retried with backoff, and logged with each response.

    \b
    Examples:
      outreach webhooks list
      outreach webhooks events
      outreach webhooks deliveries --status failed
      outreach webhooks show 42
      outreach webhooks replay 42
      outreach webhooks replay --failed
      outreach webhooks test crm
    """


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def webhooks_list(ctx: click.Context, as_json: bool) -> None:
    """The subscriptions of integrations.yaml with their deliveries by status.

    \b
    Example:
      outreach webhooks list --json
    """
    from worker.integrations.config import require_integrations
    from worker.integrations.ledger import Counts, counts

    runtime = runtime_of(ctx)
    config = require_integrations(runtime.settings.home)
    with runtime.sessions() as session:
        found = counts(session)
    env = runtime.settings.environ
    rows = [
        {
            "name": s.name,
            "kind": s.kind,
            "url": s.url or f"${s.url_env}",
            "events": list(s.events),
            "secret_env": s.secret_variable,
            "secret_set": s.secret(env) is not None,
            **vars(found.get(s.name, Counts())),
        }
        for s in config.webhooks
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No webhooks in integrations.yaml — add a 'webhooks:' list (name, url, events).")
        return
    table = Table("name", "kind", "url", "events", "secret", "pending", "delivered", "failed")
    for row in rows:
        table.add_row(
            row["name"],
            row["kind"],
            row["url"],
            ", ".join(row["events"]) or "(all notifications)",
            _secret(row),
            str(row["pending"]),
            str(row["delivered"]),
            str(row["failed"]),
        )
    out.print(table)


@webhooks.command("events")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def webhooks_events(as_json: bool) -> None:
    """The event names a webhook may subscribe to, and a chat channel's notifications.

    \b
    Example:
      outreach webhooks events
    """
    from worker.integrations.catalog import NOTIFICATIONS, WEBHOOK_EVENTS

    if as_json:
        print_json({"events": WEBHOOK_EVENTS, "notifications": NOTIFICATIONS})
        return
    for name, meaning in WEBHOOK_EVENTS.items():
        click.echo(f"{name:<22} {meaning}")
    click.echo("\nchat (kind: chat) notifications:")
    for name, meaning in NOTIFICATIONS.items():
        click.echo(f"{name:<22} {meaning}")


@webhooks.command("deliveries")
@click.option("--status", help="Only pending, delivered or failed deliveries.")
@click.option("--webhook", "subscription", help="Only this subscription's deliveries.")
@click.option("--limit", default=50, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def webhooks_deliveries(
    ctx: click.Context, status: str | None, subscription: str | None, limit: int, as_json: bool
) -> None:
    """Deliveries, newest first, with their last attempt (status code, error).

    \b
    Examples:
      outreach webhooks deliveries --status failed
      outreach webhooks deliveries --webhook crm --json
    """
    from worker.integrations.ledger import deliveries, require_status

    runtime = runtime_of(ctx)
    with runtime.sessions() as session:
        rows = deliveries(
            session,
            status=require_status(status),
            subscription=subscription,
            limit=max(1, limit),
        )
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No deliveries" + (f" with status {status}" if status else "") + ".")
        return
    table = Table("id", "webhook", "event", "status", "attempts", "last answer", "created")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["subscription"],
            row["event"],
            row["status"],
            str(row["attempts"]),
            _answer(row),
            row["created_at"],
        )
    out.print(table)


@webhooks.command("show")
@click.argument("delivery_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def webhooks_show(ctx: click.Context, delivery_id: int, as_json: bool) -> None:
    """One delivery: its body and every attempt with the response.

    \b
    Example:
      outreach webhooks show 42
    """
    from worker.integrations.ledger import delivery

    runtime = runtime_of(ctx)
    with runtime.sessions() as session:
        found = delivery(session, delivery_id)
    if as_json:
        print_json(found)
        return
    click.echo(
        f"delivery {found['id']}: {found['event']} to {found['subscription']} — "
        f"{found['status']} after {found['attempts']} attempt(s)"
    )
    click.echo(f"body: {found['body']}")
    for attempt in found["attempt_log"]:
        click.echo(
            f"  #{attempt['number']} {attempt['at']} {_answer({'last_attempt': attempt})} "
            f"in {attempt['duration_ms']} ms"
            + (f"\n     {attempt['response'][:200]!r}" if attempt["response"] else "")
        )


@webhooks.command("replay")
@click.argument("delivery_ids", type=int, nargs=-1)
@click.option("--failed", is_flag=True, help="Replay every failed delivery.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def webhooks_replay(
    ctx: click.Context, delivery_ids: tuple[int, ...], failed: bool, as_json: bool
) -> None:
    """Send deliveries again now (delivered ones too), each with its original id and body
    and a fresh signature; retried with backoff when they fail again.

    \b
    Examples:
      outreach webhooks replay 42 43
      outreach webhooks replay --failed
    """
    from worker.errors import OutreachError
    from worker.integrations.delivery import attempt
    from worker.integrations.ledger import replay

    if not delivery_ids and not failed:
        raise OutreachError("Name deliveries to replay (outreach webhooks replay 42) or --failed.")
    runtime = runtime_of(ctx)
    with runtime.sessions.begin() as session:
        ids = replay(session, delivery_ids, failed=failed, now=runtime.clock.now())
    results = [attempt(runtime, i) for i in ids]
    _print_attempts(results, as_json)


@webhooks.command("test")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def webhooks_test(ctx: click.Context, name: str, as_json: bool) -> None:
    """Send a signed ``ping`` to the subscription NAME now and print the answer.

    \b
    Example:
      OUTREACH_WEBHOOK_CRM_SECRET=... outreach webhooks test crm
    """
    from worker.integrations.config import require_integrations
    from worker.integrations.delivery import attempt
    from worker.integrations.ledger import ping

    runtime = runtime_of(ctx)
    config = require_integrations(runtime.settings.home)
    with runtime.sessions.begin() as session:
        delivery_id = ping(session, config, name, now=runtime.clock.now())
    result = attempt(runtime, delivery_id)
    _print_attempts([result], as_json)
    if result.result != "delivered":
        ctx.exit(1)


def _print_attempts(results: list[Any], as_json: bool) -> None:
    if as_json:
        print_json([vars(r) for r in results])
        return
    if not results:
        click.echo("Nothing to replay.")
    for r in results:
        answer = f"HTTP {r.status_code}" if r.status_code else (r.error or "no answer")
        later = f", next attempt in {r.retry_in_s} s" if r.retry_in_s else ""
        click.echo(f"delivery {r.delivery_id}: {r.result} ({answer}{later})")


def _secret(row: dict[str, Any]) -> str:
    if row["secret_set"]:
        return "set"
    if row["kind"] == "chat":
        return "none (unsigned)"
    return f"${row['secret_env']} NOT SET"


def _answer(row: dict[str, Any]) -> str:
    last = row.get("last_attempt")
    if not last:
        return "-"
    if last["status_code"]:
        return f"HTTP {last['status_code']}"
    return str(last["error"] or "-")[:60]
