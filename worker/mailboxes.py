"""Sending mailboxes from ``mailboxes.yaml``; secrets (transport URLs) come from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .authoring.yaml_source import YamlSyntaxError, line_for, load_with_lines
from .errors import ConfigError, NotFoundError, did_you_mean


class MailboxSpec(BaseModel):
    """One sending mailbox as written in ``mailboxes.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(min_length=1)
    address: str = Field(min_length=3)
    display_name: str | None = None
    title: str | None = None
    company: str | None = None
    phone: str | None = None
    transport_env: str | None = None
    inbox_env: str | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if "@" not in value or any(ch in value for ch in "\r\n <>"):
            raise ValueError(f"{value!r} is not an email address")
        return value.lower()

    @field_validator("display_name", "title", "company", "phone")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        if value is not None and ("\n" in value or "\r" in value):
            raise ValueError("must be a single line")
        return value


class _MailboxFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mailboxes: list[MailboxSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Mailboxes:
    """All configured mailboxes by name."""

    by_name: Mapping[str, MailboxSpec]
    source: str

    def get(self, name: str) -> MailboxSpec:
        mailbox = self.by_name.get(name)
        if mailbox is None:
            raise NotFoundError(
                f"No mailbox named {name!r} in {self.source}{did_you_mean(name, set(self.by_name))}"
                " — add it there or fix the sequence's 'mailbox:'."
            )
        return mailbox

    def transport_url(self, name: str, default: str, env: Mapping[str, str] | None = None) -> str:
        """The mailbox's own transport URL (from its environment variable) or ``default``."""
        variable = self.get(name).transport_env
        if not variable:
            return default
        return _from_env(
            env,
            variable,
            f"Mailbox {name!r} reads its transport URL from ${variable}, which is "
            f"not set — export {variable}=smtp+starttls://user:password@host:587.",
        )

    def inbox_url(self, name: str, env: Mapping[str, str] | None = None) -> str | None:
        """The mailbox's IMAP URL or path (from its ``inbox_env`` variable), or None."""
        variable = self.get(name).inbox_env
        if not variable:
            return None
        return _from_env(
            env,
            variable,
            f"Mailbox {name!r} reads its inbox URL from ${variable}, which is not "
            f"set — export {variable}=imaps://user:password@host/INBOX, or remove 'inbox_env' "
            "from the mailbox.",
        )


def _from_env(env: Mapping[str, str] | None, variable: str, missing: str) -> str:
    value = (os.environ if env is None else env).get(variable)
    if not value:
        raise ConfigError(missing)
    return value


def load_mailboxes(path: Path) -> Mailboxes:
    """Read ``mailboxes.yaml``; ConfigError naming file and line when it is invalid."""
    if not path.is_file():
        raise ConfigError(
            f"{path}: mailbox file not found — create it with a 'mailboxes:' list "
            "(name, address, display_name)."
        )
    try:
        data, lines = load_with_lines(path)
    except YamlSyntaxError as exc:
        raise ConfigError(f"{path}:{exc.line}: {exc.message}") from None
    try:
        parsed = _MailboxFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        where = ".".join(str(p) for p in loc)
        raise ConfigError(
            f"{path}:{line_for(lines, loc)}: {where}: {first['msg'].removeprefix('Value error, ')}"
        ) from None
    by_name: dict[str, MailboxSpec] = {}
    for index, mailbox in enumerate(parsed.mailboxes):
        if mailbox.name in by_name:
            line = line_for(lines, ("mailboxes", index, "name"))
            raise ConfigError(f"{path}:{line}: mailbox name {mailbox.name!r} is used twice.")
        by_name[mailbox.name] = mailbox
    return Mailboxes(by_name=by_name, source=str(path.name))
