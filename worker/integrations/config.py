"""``integrations.yaml``: webhook subscriptions and how reps are notified.

Strict (unknown keys are errors) and reported as ``integrations.yaml:LINE: message`` like the
sequences. Secrets (signing keys, chat URLs that embed a token) come from the environment,
never from the file. No file: no webhooks, no notifications.

    webhooks:
      - name: crm
        url: https://crm.example.com/hooks/outreach
        events: [lead.created, lead.stage_changed, lead.replied]
        # secret_env: OUTREACH_WEBHOOK_CRM_SECRET   (the default for "crm")
      - name: sales-chat
        kind: chat                  # posts {"text": "..."} (Slack-compatible)
        url_env: OUTREACH_CHAT_URL
        events: [hot_lead, sql_accepted, task_due]
    notifications:
      mailbox: notifications        # a mailbox of mailboxes.yaml: the system mailbox
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from worker.authoring.config_files import ReadWhileUnchanged, field_problem, read_mapping
from worker.authoring.problems import Problem, display_path
from worker.authoring.yaml_source import Loc, line_for
from worker.errors import ConfigError, did_you_mean
from worker.integrations.catalog import NOTIFICATIONS, WEBHOOK_EVENTS

INTEGRATIONS_FILE = "integrations.yaml"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def default_secret_env(name: str) -> str:
    """``OUTREACH_WEBHOOK_<NAME>_SECRET`` for subscription ``name``."""
    return f"OUTREACH_WEBHOOK_{re.sub(r'[^A-Z0-9]', '_', name.upper())}_SECRET"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Subscription(_Strict):
    """One receiver: where to POST, which events, where its signing secret is."""

    name: str
    kind: Literal["webhook", "chat"] = "webhook"
    url: str | None = None
    url_env: str | None = None
    events: tuple[str, ...] = ()
    secret_env: str | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=30)
    max_attempts: int = Field(default=8, ge=1, le=20)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"{value!r} is not a subscription name — use lowercase letters, digits, '-' "
                "and '_' (e.g. crm, sales-chat)"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _target_and_events(self) -> Subscription:
        if (self.url is None) == (self.url_env is None):
            raise ValueError(
                f"webhook {self.name!r}: give exactly one of 'url' or 'url_env' (an "
                "environment variable holding the URL, for URLs that embed a token)"
            )
        known = NOTIFICATIONS if self.kind == "chat" else WEBHOOK_EVENTS
        if not self.events and self.kind == "webhook":
            raise ValueError(
                f"webhook {self.name!r} lists no events — e.g. events: [lead.created, "
                "lead.replied]; see 'outreach webhooks events'"
            )
        for event in self.events:
            if event not in known:
                what = "chat notification" if self.kind == "chat" else "webhook event"
                raise ValueError(
                    f"unknown {what} {event!r}{did_you_mean(event, set(known))} "
                    f"(known: {', '.join(known)})"
                )
        return self

    @property
    def secret_variable(self) -> str:
        return self.secret_env or default_secret_env(self.name)

    def wants(self, event: str) -> bool:
        """Whether this subscription receives ``event`` (a chat one: every notification
        unless its ``events`` names some)."""
        if self.kind == "chat":
            return event in NOTIFICATIONS and (not self.events or event in self.events)
        return event in self.events

    def target(self, env: Mapping[str, str]) -> str:
        """The URL to POST to; ConfigError when its environment variable is not set."""
        if self.url is not None:
            return self.url
        value = env.get(self.url_env or "")
        if not value:
            raise ConfigError(
                f"webhook {self.name!r} reads its URL from ${self.url_env}, which is not set — "
                f"export {self.url_env}=https://..."
            )
        return value

    def secret(self, env: Mapping[str, str]) -> bytes | None:
        """The signing secret from the environment (None when the variable is not set)."""
        value = env.get(self.secret_variable)
        return value.encode() if value else None


class NotificationSettings(_Strict):
    """How owners are told: the system mailbox their emails come from, and a digest."""

    mailbox: str | None = None
    email: bool = True
    daily_digest: bool = False


class IntegrationsConfig(_Strict):
    """The whole of ``integrations.yaml``."""

    webhooks: tuple[Subscription, ...] = ()
    notifications: NotificationSettings = NotificationSettings()

    @field_validator("webhooks", mode="before")
    @classmethod
    def _none(cls, value: object) -> object:
        return () if value is None else value

    def subscription(self, name: str) -> Subscription:
        for subscription in self.webhooks:
            if subscription.name == name:
                return subscription
        names = {s.name for s in self.webhooks}
        raise ConfigError(
            f"No webhook named {name!r} in {INTEGRATIONS_FILE}{did_you_mean(name, names)}"
            f" (webhooks: {', '.join(sorted(names)) or 'none'})"
        )

    @property
    def chats(self) -> list[Subscription]:
        return [s for s in self.webhooks if s.kind == "chat"]


@dataclass(frozen=True)
class IntegrationsFile:
    """A valid ``integrations.yaml``: the config, the path as shown and its lines."""

    config: IntegrationsConfig
    shown: str
    lines: Mapping[Loc, int] = field(default_factory=dict)

    def line(self, *loc: str | int) -> int:
        return line_for(dict(self.lines), loc)


def integrations_path(home: Path) -> Path:
    return home / INTEGRATIONS_FILE


def load_integrations(
    path: Path, home: Path | None = None
) -> tuple[IntegrationsFile | None, list[Problem]]:
    """Read ``path``: the config (None when there is no file or it is invalid) and every
    problem as ``path:line: message``."""
    shown = display_path(path, home)
    if not path.is_file():
        return None, []
    read = read_mapping(path, shown, "integrations.yaml must be a mapping (webhooks, ...)")
    if isinstance(read, Problem):
        return None, [read]
    data, lines = read
    try:
        config = IntegrationsConfig.model_validate(data)
    except ValidationError as exc:
        problems = {_problem(shown, lines, error) for error in exc.errors()}
        return None, sorted(problems, key=lambda p: (p.line, p.message))
    loaded = IntegrationsFile(config, shown, lines)
    return loaded, _duplicates(loaded)


def check_integrations(
    loaded: IntegrationsFile, mailboxes: set[str], env: Mapping[str, str]
) -> list[Problem]:
    """Problems across files: the system mailbox must exist; missing secrets are warnings."""
    problems: list[Problem] = []
    mailbox = loaded.config.notifications.mailbox
    if mailbox is not None and mailbox not in mailboxes:
        problems.append(
            Problem(
                loaded.shown,
                loaded.line("notifications", "mailbox"),
                f"notifications.mailbox: no mailbox named {mailbox!r} in mailboxes.yaml"
                f"{did_you_mean(mailbox, mailboxes)} (mailboxes: {', '.join(sorted(mailboxes))})",
            )
        )
    for index, subscription in enumerate(loaded.config.webhooks):
        if subscription.kind == "webhook" and subscription.secret(env) is None:
            problems.append(
                Problem(
                    loaded.shown,
                    loaded.line("webhooks", index, "name"),
                    f"webhook {subscription.name!r}: ${subscription.secret_variable} is not "
                    "set — its deliveries will fail until it is (export a long random value "
                    "and give the same to the receiver)",
                    "warning",
                )
            )
    return problems


def integration_problems(home: Path, mailboxes: set[str], env: Mapping[str, str]) -> list[Problem]:
    """Every problem of the project's integrations.yaml (none without one), as
    ``integrations.yaml:LINE: message``; missing secrets are warnings."""
    loaded, problems = load_integrations(integrations_path(home), home)
    if loaded is not None:
        problems = problems + check_integrations(loaded, mailboxes, env)
    return problems


def _duplicates(loaded: IntegrationsFile) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for index, subscription in enumerate(loaded.config.webhooks):
        if subscription.name in seen:
            problems.append(
                Problem(
                    loaded.shown,
                    loaded.line("webhooks", index, "name"),
                    f"webhook name {subscription.name!r} is used twice — give each its own",
                )
            )
        seen.add(subscription.name)
    return problems


_KNOWN: dict[tuple[str, ...], list[str]] = {
    (): list(IntegrationsConfig.model_fields),
    ("webhooks",): list(Subscription.model_fields),
    ("notifications",): list(NotificationSettings.model_fields),
}


def _problem(shown: str, lines: dict[Loc, int], error: Any) -> Problem:
    """A pydantic error as a problem; a subscription-wide check points at the key it names."""
    loc: Loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "value_error" and loc and isinstance(loc[-1], int):
        for key in ("events", "url", "url_env"):
            named = f"'{key}'" in message or (key == "events" and "event" in message)
            if named and (*loc, key) in lines:
                return Problem(shown, lines[(*loc, key)], message)
    return field_problem(shown, lines, error, _KNOWN)


def _read(home: Path) -> IntegrationsConfig | None:
    loaded, problems = load_integrations(integrations_path(home), home)
    errors = [p for p in problems if p.severity == "error"]
    return loaded.config if loaded is not None and not errors else None


_cache: ReadWhileUnchanged[IntegrationsConfig | None] = ReadWhileUnchanged(
    integrations_path, _read, None
)


def integrations_for(home: Path) -> IntegrationsConfig | None:
    """The project's valid ``integrations.yaml`` (None: no file, or one with errors, which
    ``outreach validate`` reports; nothing is delivered until it is fixed)."""
    return _cache.get(home)


def require_integrations(home: Path) -> IntegrationsConfig:
    """The project's ``integrations.yaml``; ConfigError naming every problem otherwise."""
    path = integrations_path(home)
    loaded, problems = load_integrations(path, home)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ConfigError("; ".join(str(p) for p in errors))
    if loaded is None:
        raise ConfigError(
            f"{INTEGRATIONS_FILE} not found in {home} — create it with a 'webhooks:' list "
            "(name, url, events); see docs/integrations.md"
        )
    return loaded.config


__all__ = [
    "INTEGRATIONS_FILE",
    "IntegrationsConfig",
    "IntegrationsFile",
    "NotificationSettings",
    "Subscription",
    "check_integrations",
    "default_secret_env",
    "integration_problems",
    "integrations_for",
    "integrations_path",
    "load_integrations",
    "require_integrations",
]
