"""Lead capture: a warm prospect from the website (form or JSON API) becomes a lead enrolled in
the configured sequence.

Fields are checked by the same rules as a CSV import (``worker.leads.validate_row``), plus
what a public endpoint needs: only the lead fields and a few short custom fields, one line of
text each. An address that is already a lead is never duplicated or overwritten, and the
answer is the same whether it was new, known, enrolled or suppressed, so the endpoints cannot
be used to find out who is on the list. The address of a person erased on request is never
stored again (``CaptureResult.erased``), with that same answer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.authoring.sequences import Catalog
from worker.leads.addresses import erased_values
from worker.leads.enrollment import enroll_leads
from worker.leads.importing import validate_row
from worker.leads.locales import language_problem
from worker.store import events
from worker.store.dialect import dialect_insert
from worker.store.marks import mark
from worker.store.models import LEAD_COLUMNS, Lead
from worker.vocabulary import EventKind, LeadStatus

LEAD_FIELDS = ("email", "first_name", "last_name", "company", "timezone", "country", "deal_value")
MAX_CUSTOM_FIELDS = 10
MAX_CUSTOM_KEY_CHARS = 40
MAX_CUSTOM_VALUE_CHARS = 500
_CUSTOM_KEY = re.compile(rf"^[a-z0-9_]{{1,{MAX_CUSTOM_KEY_CHARS}}}$")
_RESERVED = frozenset({"stage", "status", "id", "fields", "created_at", "updated_at"})
SOURCES = ("form", "api", "referral")


@dataclass(frozen=True)
class CaptureResult:
    """What a capture did: ``errors`` (field → message) when nothing was stored."""

    errors: dict[str, str] = field(default_factory=dict)
    lead_id: int | None = None
    created: bool = False
    enrolled: bool = False
    erased: bool = False  # refused: the person was erased on request; nothing was stored

    @property
    def accepted(self) -> bool:
        return not self.errors


def text_fields(data: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Values of a JSON object as text: numbers become text, null is left out; anything else
    (objects, lists, true/false) is an error for its field."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            errors[str(key)[:MAX_CUSTOM_KEY_CHARS]] = (
                f"{str(key)[:MAX_CUSTOM_KEY_CHARS]} must be text or a number"
            )
        else:
            values[str(key)] = str(value)
    return values, errors


def check_fields(data: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The parsed lead row (as ``validate_row`` returns it) and a message per invalid field."""
    errors: dict[str, str] = {}
    custom = [key for key in data if key not in LEAD_FIELDS]
    for key in custom:
        shown = key[:MAX_CUSTOM_KEY_CHARS]
        if not _CUSTOM_KEY.match(key):
            errors[shown] = (
                f"field name {shown!r} is not allowed — use at most {MAX_CUSTOM_KEY_CHARS} "
                "lower-case letters, digits and _"
            )
        elif key in _RESERVED:
            errors[key] = f"{key} cannot be set — leave it out"
    if len(custom) > MAX_CUSTOM_FIELDS:
        errors["fields"] = (
            f"{len(custom)} custom fields — send at most {MAX_CUSTOM_FIELDS} besides "
            f"{', '.join(LEAD_FIELDS)}"
        )
    for key, value in data.items():
        if key in errors:
            continue
        limit = _max_chars(key)
        if len(value.strip()) > limit:
            errors[key] = f"{key} is longer than {limit} characters — shorten it"
        elif any(unicodedata.category(c) == "Cc" for c in value):
            errors[key] = f"{key} must be a single line of text without control characters"
    if not (data.get("email") or "").strip():
        errors.setdefault("email", "email is required — enter an email address")
    language = (data.get("language") or "").strip()
    problem = language_problem(language) if language and "language" not in errors else None
    if problem:
        errors["language"] = problem
    usable = {k: v for k, v in data.items() if k not in errors}
    usable.setdefault("email", "placeholder@example.com")  # to check the other fields
    row, more = validate_row(usable)
    if "email" in more and "—" not in more["email"]:
        more["email"] += " — check it for typos"
    errors.update((k, v) for k, v in more.items() if k not in errors)
    return ({}, errors) if errors else (row, {})


def capture_lead(
    session: Session,
    catalog: Catalog,
    data: Mapping[str, str],
    *,
    sequence: str,
    at: datetime,
    source: str,
) -> CaptureResult:
    """Create (or find) the lead ``data`` describes and enroll it in ``sequence``.

    A new lead starts in the sequence's stage. An existing lead keeps its fields; it is
    enrolled too unless it is suppressed, won or lost, or already in a sequence. Either way an
    event ``captured`` is recorded (cause: the source, or "existing"). The address of a
    person erased on request stores nothing (``erased``). Raises NotFoundError when
    ``sequence`` does not exist.
    """
    spec = catalog.get(sequence)
    row, errors = check_fields(data)
    if errors:
        return CaptureResult(errors=errors)
    email = row["email"]
    lead = session.scalar(select(Lead).where(Lead.email == email))
    created = False
    if lead is None and erased_values(session, [email]):
        return CaptureResult(erased=True)
    if lead is None:
        stmt = (
            dialect_insert(session, Lead)
            .values(
                email=email,
                stage=spec.stage,
                status=LeadStatus.ACTIVE,
                fields=row["fields"],
                created_at=at,
                updated_at=at,
                **{column: row.get(column) for column in LEAD_COLUMNS},
            )
            .on_conflict_do_nothing(index_elements=["email"])
            .returning(Lead.id)
        )
        new_id = session.scalar(stmt)
        created = new_id is not None
        if created:
            events.record(session, EventKind.LEAD_CREATED, at=at, lead_id=new_id, cause="capture")
        lead = session.scalar(select(Lead).where(Lead.email == email))
        assert lead is not None  # inserted now or by a concurrent capture
    enrolled = enroll_leads(
        session, [lead], spec, at=at, cause="capture", schedules=catalog.schedules
    ).enrolled
    events.record(
        session,
        EventKind.CAPTURED,
        at=at,
        lead_id=lead.id,
        sequence=spec.name,
        cause=source if created else "existing",
        source=source,
        enrolled=bool(enrolled),
    )
    mark(session, [lead.id], at)  # a capture (and the fields it brought) may score
    return CaptureResult(lead_id=lead.id, created=created, enrolled=bool(enrolled))


def _max_chars(key: str) -> int:
    """The longest value ``key`` takes: the column's length for names, else the custom field
    limit (the other lead fields have formats of their own)."""
    if key in ("first_name", "last_name", "company"):
        length = getattr(Lead.__table__.c[key].type, "length", None)
        if isinstance(length, int):
            return length
    return MAX_CUSTOM_VALUE_CHARS
