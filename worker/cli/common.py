"""Shared pieces of the command line: settings, the runtime, error handling, output."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from redis.exceptions import RedisError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from worker.errors import NotFoundError, OutreachError
from worker.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
# Piped output (a file, a pager, cron mail) gets wide tables instead of 80 wrapped columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def settings_of(ctx: click.Context) -> Settings:
    return ctx.ensure_object(dict)["settings"]  # type: ignore[no-any-return]


def runtime_of(ctx: click.Context) -> Any:
    from worker.runtime import Runtime, set_runtime

    obj = ctx.ensure_object(dict)
    if "runtime" not in obj:
        obj["runtime"] = Runtime.from_settings(settings_of(ctx))
        set_runtime(obj["runtime"])
        ctx.call_on_close(obj["runtime"].close)
    return obj["runtime"]


def user_errors(func: F) -> F:
    """Turn OutreachError into one clear line and exit status 1 (no traceback)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OutreachError as exc:
            raise click.ClickException(str(exc)) from None
        except SQLAlchemyError as exc:
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise click.ClickException(
                f"database error: {detail} — check DATABASE_URL and that the database is running."
            ) from None
        except RedisError as exc:
            raise click.ClickException(
                f"Redis error: {exc} — check REDIS_URL and that Redis is running."
            ) from None

    return wrapper  # type: ignore[return-value]


def existing_file(path: Path, what: str = "file") -> Path:
    """``path`` when it is a file; else one clear error (not click's usage text, exit 2)."""
    if path.is_dir():
        raise NotFoundError(f"{path}: is a folder — give the {what} itself.")
    if not path.exists():
        raise NotFoundError(f"{path}: no such {what} — check the name and the folder you are in.")
    return path


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def print_file_report(errors: list[Any], data: dict[str, Any], summary: str, as_json: bool) -> None:
    """A CSV import's outcome: each bad row's error on stderr, then JSON or one summary line."""
    for error in errors:
        click.echo(str(error), err=True)
    if as_json:
        print_json(data)
    else:
        click.echo(summary)


def print_timeline(timeline: list[dict[str, Any]]) -> None:
    """A lead's events as a table, oldest first (each kind as a rep reads it)."""
    from worker.queries.labels import event_label

    table = Table("at (UTC)", "event", "sequence", "step", "cause", "details")
    for event in timeline:
        table.add_row(
            event["at"],
            event_label(event["kind"]),
            event["sequence"] or "",
            str(event["step"] or ""),
            event["cause"] or "",
            _details(event.get("detail") or {}),
        )
    out.print(table)


_SHOWN_DETAILS = (
    "previous",
    "stage",
    "confidence",
    "return_date",
    "referral_email",
    "resume_at",
    "actions",
    "note",
    "reason",
    "outcome",
    "owner",
)


def _details(detail: dict[str, Any]) -> str:
    parts = []
    for key in _SHOWN_DETAILS:
        value = detail.get(key)
        if value in (None, "", [], False):
            continue
        if isinstance(value, list):
            value = "+".join(str(v) for v in value)
        parts.append(f"{key}={value}")
    return escape(" ".join(parts))


def acting_user(by: str | None) -> str | None:
    """Who does what a command changes, as the timeline names them: ``--as REP``, else the
    system user's name, else None (a bare container without one)."""
    if by and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
