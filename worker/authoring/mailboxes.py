"""Sending mailboxes from ``mailboxes.yaml``; secrets (transport URLs) come from the environment.

Besides the mailboxes themselves the file may define ``pools`` (a name for a list of
mailboxes, usable wherever a sequence names its ``mailbox:``) and a
``recipient_domain_daily_limit`` shared by every mailbox.

Owner rules: a mailbox's ``owner: rita`` or a pool's ``owners: [rita, sam]`` (a pool written
as ``{mailboxes: [...], owners: [...]}``) name the rep who owns a lead enrolled through it and
not owned yet (``Mailboxes.owner_for``). Names are checked here for their form; that each
is a rep is checked by ``outreach check`` (``owner_refs`` keeps their lines).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from worker.authoring.yaml_source import Loc, YamlSyntaxError, line_for, load_with_lines
from worker.errors import ConfigError, NotFoundError, did_you_mean
from worker.store.models import REP_NAME


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
    # At most this many sends per UTC day (None: no limit).
    daily_limit: int | None = Field(default=None, ge=1)
    # At least this many seconds between two sends ("90 seconds", "2 minutes" in the file).
    min_spacing: int | None = None
    # Multi-line text the layouts print under the email (``sender.signature``).
    signature: str | None = None
    # The currency this mailbox quotes in (``| money``), unless a lead's own ``currency`` says.
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    # The rep who owns the leads enrolled through this mailbox (when they have no owner).
    owner: str | None = None

    @property
    def min_spacing_s(self) -> int:
        """Seconds between two sends of this mailbox (0: no spacing)."""
        return self.min_spacing or 0

    @field_validator("min_spacing", mode="before")
    @classmethod
    def _spacing(cls, value: object) -> int | None:
        return None if value is None else parse_spacing(value)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if "@" not in value or any(ch in value for ch in "\r\n <>"):
            raise ValueError(f"{value!r} is not an email address")
        return value.lower()

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        return None if value is None else rep_name(value)

    @field_validator("display_name", "title", "company", "phone")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        if value is not None and ("\n" in value or "\r" in value):
            raise ValueError("must be a single line")
        return value


_SPACING = re.compile(
    r"^\s*(?P<n>\d+)\s*(?P<unit>seconds?|secs?|s|minutes?|mins?|m|hours?|h)\s*$", re.IGNORECASE
)
_SPACING_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_spacing(value: object) -> int:
    """Seconds from "90 seconds", "2 minutes", "1 hour" (or 90s / 2m / 1h)."""
    match = _SPACING.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"min_spacing {value!r} is not understood — write e.g. '90 seconds' or '2 minutes'"
        )
    return int(match["n"]) * _SPACING_UNITS[match["unit"][0].lower()]


def rep_name(value: str) -> str:
    """A rep's name as stored (lower case); ValueError when it cannot be one."""
    name = value.strip().lower()
    if not REP_NAME.match(name):
        raise ValueError(
            f"{value!r} is not a rep's name — use the name of 'outreach reps list' (e.g. rita)"
        )
    return name


class _PoolSpec(BaseModel):
    """A pool written as a mapping: its mailboxes and the reps who own its leads in turn."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mailboxes: list[str]
    owners: list[str] = Field(default_factory=list)

    @field_validator("owners")
    @classmethod
    def _owners(cls, value: list[str]) -> list[str]:
        return [rep_name(name) for name in value]


class _MailboxFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mailboxes: list[MailboxSpec] = Field(min_length=1)
    pools: dict[str, _PoolSpec] = Field(default_factory=dict)
    recipient_domain_daily_limit: int | None = Field(default=None, ge=1)

    @field_validator("pools", mode="before")
    @classmethod
    def _short_pools(cls, value: object) -> object:
        """A pool written as a plain list is its mailboxes."""
        if not isinstance(value, dict):
            return value
        return {
            pool: {"mailboxes": spec} if isinstance(spec, list) else spec
            for pool, spec in value.items()
        }


@dataclass(frozen=True)
class Mailboxes:
    """All configured mailboxes by name, the pools, and the per-recipient-domain daily cap."""

    by_name: Mapping[str, MailboxSpec]
    source: str
    pools: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    recipient_domain_daily_limit: int | None = None
    # A pool's owners, given its leads in turn by lead id.
    pool_owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Every owner the file names, with its line: (name, line).
    owner_refs: tuple[tuple[str, int], ...] = ()

    def get(self, name: str) -> MailboxSpec:
        mailbox = self.by_name.get(name)
        if mailbox is None:
            known = set(self.by_name) | set(self.pools)
            hint = (
                f" ({name!r} is a pool: a touch is sent from one of its mailboxes)"
                if name in self.pools
                else did_you_mean(name, known)
            )
            raise NotFoundError(
                f"No mailbox named {name!r} in {self.source}{hint}"
                " — add it there or fix the sequence's 'mailbox:'."
            )
        return mailbox

    def is_pool(self, name: str) -> bool:
        return name in self.pools

    def members(self, name: str) -> tuple[str, ...]:
        """The mailboxes ``name`` stands for: a pool's members, or the mailbox itself."""
        return self.pools.get(name) or (name,)

    def owner_for(self, sequence_mailbox: str, mailbox: str | None, lead_id: int) -> str | None:
        """Who owns a lead enrolled into a sequence whose ``mailbox:`` is
        ``sequence_mailbox``, sent from ``mailbox`` (a pool's chosen member): the pool's
        owners in turn by lead id (the same rep for a lead every time), else the mailbox's
        ``owner``; None when the file names nobody."""
        owners = self.pool_owners.get(sequence_mailbox)
        if owners:
            return owners[lead_id % len(owners)]
        spec = self.by_name.get(mailbox or sequence_mailbox)
        return spec.owner if spec is not None else None

    def sender_for(self, name: str) -> MailboxSpec:
        """The mailbox itself, or a pool's first mailbox (for previews and checks)."""
        return self.get(self.members(name)[0])

    def pools_of(self, mailbox: str) -> list[str]:
        """The pools ``mailbox`` belongs to."""
        return sorted(pool for pool, members in self.pools.items() if mailbox in members)

    def transport_url(self, name: str, default: str, env: Mapping[str, str]) -> str:
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

    def inbox_url(self, name: str, env: Mapping[str, str]) -> str | None:
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


def _from_env(env: Mapping[str, str], variable: str, missing: str) -> str:
    value = env.get(variable)
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
    members = {pool: spec.mailboxes for pool, spec in parsed.pools.items()}
    owners = {pool: tuple(spec.owners) for pool, spec in parsed.pools.items() if spec.owners}
    refs = [
        (mailbox.owner, line_for(lines, ("mailboxes", index, "owner")))
        for index, mailbox in enumerate(parsed.mailboxes)
        if mailbox.owner
    ]
    refs += [
        (name, line_for(lines, ("pools", pool, "owners", index)))
        for pool, names in owners.items()
        for index, name in enumerate(names)
    ]
    return Mailboxes(
        by_name=by_name,
        source=str(path.name),
        pools=_pools(path, members, by_name, lines, nested=_mappings(lines)),
        recipient_domain_daily_limit=parsed.recipient_domain_daily_limit,
        pool_owners=owners,
        owner_refs=tuple(refs),
    )


def _mappings(lines: dict[Loc, int]) -> set[str]:
    """The pools written as mappings (their mailboxes' lines are one level deeper)."""
    return {
        str(loc[1]) for loc in lines if len(loc) > 2 and loc[0] == "pools" and loc[2] == "mailboxes"
    }


def _pools(
    path: Path,
    pools: dict[str, list[str]],
    by_name: Mapping[str, MailboxSpec],
    lines: dict[Loc, int],
    *,
    nested: Collection[str] = (),
) -> dict[str, tuple[str, ...]]:
    """Check every pool: a new name, at least one mailbox, each a known mailbox once."""
    checked: dict[str, tuple[str, ...]] = {}
    for pool, members in pools.items():
        where = f"{path}:{line_for(lines, ('pools', pool))}"
        at: Loc = ("pools", pool, "mailboxes") if pool in nested else ("pools", pool)
        if pool in by_name:
            raise ConfigError(
                f"{where}: pool {pool!r} has the name of a mailbox — give the pool its own name."
            )
        if not members:
            raise ConfigError(f"{where}: pool {pool!r} lists no mailboxes — name at least one.")
        for index, member in enumerate(members):
            if member not in by_name:
                raise ConfigError(
                    f"{path}:{line_for(lines, (*at, index))}: pool {pool!r} names "
                    f"unknown mailbox {member!r}"
                    + (did_you_mean(member, set(by_name)) or " — add it under 'mailboxes:'.")
                )
            if member in members[:index]:
                raise ConfigError(
                    f"{path}:{line_for(lines, (*at, index))}: pool {pool!r} lists "
                    f"mailbox {member!r} twice."
                )
        checked[pool] = tuple(members)
    return checked
