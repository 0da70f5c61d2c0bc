"""One typed settings object, read from the environment; units in names."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from worker.errors import ConfigError

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"  # the web app run locally; set it in production


@dataclass(frozen=True)
class Settings:
    """Everything the worker needs to know about its surroundings."""

    home: Path
    database_url: str
    redis_url: str | None = None
    transport_url: str = ""
    inbox_url: str | None = None
    public_url: str = DEFAULT_PUBLIC_URL
    secret_key: str | None = None
    now: str | None = None
    send_threads: int = 4
    sqlite_synchronous: str = "normal"
    touches_per_message: int = 50
    tick_batch_size: int = 500
    delivery_lease_s: int = 900
    requeue_after_s: int = 900
    heartbeat_s: int = 5
    heartbeat_timeout_s: int = 30
    heartbeat_forget_s: int = 3600
    sent_grace_s: int = 600
    retry_max_attempts: int = 6
    retry_max_age_s: int = 24 * 3600
    smtp_timeout_s: float = 30.0
    inbox_every_s: int = 60
    min_confidence: float = 0.6
    ooo_fallback_days: int = 7
    later_fallback_days: int = 90
    data_request_deadline_days: int = 30
    # Raw inbound mail is cleared this many days after it was processed (None: kept).
    raw_mail_retention_days: int | None = None
    soft_bounce_limit: int = 3
    soft_bounce_retry_s: int = 4 * 3600
    redis_namespace: str = "outreach"
    mailbox_max_failures_24h: int = 5
    mailbox_max_bounce_rate: float = 0.05
    mailbox_max_complaint_rate: float = 0.003
    mailbox_min_sample: int = 20
    web_session_hours: int = 12
    undo_window_s: int = 120  # how long a rep can undo a review resolution
    web_proxies: int = 0
    capture_sequence: str | None = None
    capture_api_key: str | None = None
    metrics_token: str | None = None
    capture_form_limit: str = "5 per minute;30 per hour"
    capture_api_limit: str = "60 per minute"
    capture_origins: tuple[str, ...] = ()
    # Engagement signals (``worker.tracking``): the key of ``POST /api/events`` and its limit;
    # a click this soon after its email was sent, or every link of an email clicked within
    # ``click_burst_s``, is a scanner's and not counted.
    events_api_key: str | None = None
    events_api_limit: str = "120 per minute"
    # The JSON API (``/api/v1``): requests per API key (``worker.web.api``).
    api_limit: str = "300 per minute"
    click_min_delay_s: int = 10
    click_burst_s: int = 5
    default_currency: str = "EUR"  # a lead's currency when its fields, mailbox, country don't say
    extra: Mapping[str, str] = field(default_factory=dict)
    # Where mailboxes' secrets (``transport_env``, ``inbox_env``) are looked up: the process
    # environment, read when a mailbox needs its URL (never stored in a file).
    environ: Mapping[str, str] = field(
        default_factory=lambda: os.environ, repr=False, compare=False
    )

    @property
    def sequences_dir(self) -> Path:
        return self.home / "sequences"

    @property
    def templates_dir(self) -> Path:
        return self.home / "templates"

    @property
    def mailboxes_file(self) -> Path:
        return self.home / "mailboxes.yaml"

    @property
    def schedules_file(self) -> Path:
        return self.home / "schedules.yaml"

    @property
    def sample_leads_file(self) -> Path:
        return self.home / "examples" / "leads.csv"

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url)

    def with_changes(self, **changes: object) -> Settings:
        """A copy with some fields replaced."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, home: Path | None = None) -> Settings:
        """Read settings from ``env`` (default: ``os.environ``)."""
        env = os.environ if env is None else env
        base = (home or Path(env.get("OUTREACH_HOME") or Path.cwd())).resolve()
        return cls(
            home=base,
            database_url=normalise_database_url(
                env.get("DATABASE_URL") or f"sqlite:///{base / 'outreach.db'}"
            ),
            redis_url=env.get("REDIS_URL") or None,
            transport_url=env.get("OUTREACH_TRANSPORT_URL") or f"file://{base / 'outbox'}",
            inbox_url=env.get("OUTREACH_INBOX_URL") or None,
            public_url=(env.get("OUTREACH_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/"),
            secret_key=env.get("OUTREACH_SECRET_KEY") or None,
            now=env.get("OUTREACH_NOW") or None,
            send_threads=_int(env, "OUTREACH_SEND_THREADS", 4),
            sqlite_synchronous=_one_of(env, "OUTREACH_SQLITE_SYNCHRONOUS", ("normal", "full")),
            touches_per_message=_int(env, "OUTREACH_TOUCHES_PER_MESSAGE", 50),
            tick_batch_size=_int(env, "OUTREACH_TICK_BATCH_SIZE", 500),
            delivery_lease_s=_int(env, "OUTREACH_DELIVERY_LEASE_S", 900),
            requeue_after_s=_int(env, "OUTREACH_REQUEUE_AFTER_S", 900),
            heartbeat_s=max(1, _int(env, "OUTREACH_HEARTBEAT_S", 5)),
            heartbeat_timeout_s=max(2, _int(env, "OUTREACH_HEARTBEAT_TIMEOUT_S", 30)),
            heartbeat_forget_s=max(60, _int(env, "OUTREACH_HEARTBEAT_FORGET_S", 3600)),
            sent_grace_s=_int(env, "OUTREACH_SENT_GRACE_S", 600),
            retry_max_attempts=_int(env, "OUTREACH_RETRY_MAX_ATTEMPTS", 6),
            retry_max_age_s=_int(env, "OUTREACH_RETRY_MAX_AGE_S", 24 * 3600),
            inbox_every_s=max(1, _int(env, "OUTREACH_INBOX_EVERY_S", 60)),
            undo_window_s=max(0, _int(env, "OUTREACH_UNDO_WINDOW_S", 120)),
            min_confidence=_fraction(env, "OUTREACH_MIN_CONFIDENCE", 0.6),
            ooo_fallback_days=_int(env, "OUTREACH_OOO_FALLBACK_DAYS", 7),
            later_fallback_days=max(1, _int(env, "OUTREACH_LATER_FALLBACK_DAYS", 90)),
            data_request_deadline_days=max(1, _int(env, "OUTREACH_DATA_REQUEST_DAYS", 30)),
            raw_mail_retention_days=_optional_days(env, "OUTREACH_RAW_MAIL_RETENTION_DAYS"),
            soft_bounce_limit=max(1, _int(env, "OUTREACH_SOFT_BOUNCE_LIMIT", 3)),
            soft_bounce_retry_s=_int(env, "OUTREACH_SOFT_BOUNCE_RETRY_S", 4 * 3600),
            redis_namespace=env.get("OUTREACH_REDIS_NAMESPACE") or "outreach",
            mailbox_max_failures_24h=_int(env, "OUTREACH_MAILBOX_MAX_FAILURES_24H", 5),
            mailbox_max_bounce_rate=_fraction(env, "OUTREACH_MAILBOX_MAX_BOUNCE_RATE", 0.05),
            mailbox_max_complaint_rate=_fraction(env, "OUTREACH_MAILBOX_MAX_COMPLAINT_RATE", 0.003),
            mailbox_min_sample=_int(env, "OUTREACH_MAILBOX_MIN_SAMPLE", 20),
            web_session_hours=max(1, _int(env, "OUTREACH_WEB_SESSION_HOURS", 12)),
            web_proxies=max(0, _int(env, "OUTREACH_WEB_PROXIES", 0)),
            capture_sequence=(env.get("OUTREACH_CAPTURE_SEQUENCE") or "").strip() or None,
            capture_api_key=env.get("OUTREACH_CAPTURE_API_KEY") or None,
            metrics_token=env.get("OUTREACH_METRICS_TOKEN") or None,
            capture_form_limit=_rate_limit(
                env, "OUTREACH_CAPTURE_FORM_LIMIT", "5 per minute;30 per hour"
            ),
            capture_api_limit=_rate_limit(env, "OUTREACH_CAPTURE_API_LIMIT", "60 per minute"),
            capture_origins=_origins(env, "OUTREACH_CAPTURE_ORIGINS"),
            events_api_key=env.get("OUTREACH_EVENTS_API_KEY") or None,
            events_api_limit=_rate_limit(env, "OUTREACH_EVENTS_API_LIMIT", "120 per minute"),
            api_limit=_rate_limit(env, "OUTREACH_API_LIMIT", "300 per minute"),
            click_min_delay_s=_int(env, "OUTREACH_CLICK_MIN_DELAY_S", 10),
            click_burst_s=_int(env, "OUTREACH_CLICK_BURST_S", 5),
            default_currency=_currency(env, "OUTREACH_DEFAULT_CURRENCY"),
        )


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgres://`` / ``postgresql://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not a whole number — set it to e.g. {default}."
        ) from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative.")
    return value


def _optional_days(env: Mapping[str, str], name: str) -> int | None:
    """A number of days, or None when unset, empty or ``off``."""
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "off", "none"):
        return None
    value = _int(env, name, 0)
    if value < 1:
        raise ConfigError(f"{name}={env.get(name)!r} must be at least 1 day, or off.")
    return value


def _one_of(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """The value of ``name`` among ``choices`` (any case); the first choice when unset."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return choices[0]
    if raw not in choices:
        raise ConfigError(f"{name}={env.get(name)!r} is not one of {', '.join(choices)}.")
    return raw


def _fraction(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name}={raw!r} must be a number from 0 to 1, e.g. {default}.")
    return value


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Web origins (``https://www.example.com``), separated by commas or spaces."""
    found = []
    for raw in (env.get(name) or "").replace(",", " ").split():
        origin = raw.rstrip("/").lower()
        if not _ORIGIN.match(origin):
            raise ConfigError(
                f"{name}: {raw!r} is not a web origin — write scheme and host (and port), "
                "e.g. https://www.example.com, separated by commas."
            )
        found.append(origin)
    return tuple(found)


_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$")


def _currency(env: Mapping[str, str], name: str) -> str:
    """An ISO 4217 currency code (``eur`` → ``EUR``); EUR when unset."""
    raw = (env.get(name) or "EUR").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", raw):
        raise ConfigError(f"{name}: {raw!r} is not a currency code — write e.g. EUR, GBP or USD.")
    return raw


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> str:
    """A rate limit such as ``"5 per minute;30 per hour"`` (checked, so a typo fails at start)."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not a rate limit — write e.g. {default!r} "
            "(N per second/minute/hour/day, several separated by ';')."
        ) from None
    return raw
