"""The JSON API (``/api/v1``) against its OpenAPI document, on SQLite and PostgreSQL: one walk
through every operation per database, each real response validated against the schema the
document declares for its path, method and status; the document and the app's routes list
the same operations; pagination returns each lead once while leads are added; API keys are
stored hashed, revoked keys refused, their use recorded."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select
from werkzeug.test import TestResponse

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.conftest import make_settings
from tests.web_support import add_test_rep, web_app
from worker.clock import VirtualClock
from worker.integrations.api_keys import create_key, digest, revoke_key
from worker.leads import suppressions
from worker.runtime import Runtime
from worker.store.models import ApiKey, ReviewItem
from worker.vocabulary import LeadStatus, Stage
from worker.web.api.openapi import document

DOC_URI = "urn:outreach:openapi"
# The catch-all that answers unknown paths under /api/v1 in JSON: no operation of its own.
NOT_AN_OPERATION = {"api_v1.no_such_path"}


def _absolute_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                DOC_URI + value
                if key == "$ref" and value.startswith("#")
                else _absolute_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_absolute_refs(item) for item in node]
    return node


@dataclass
class Contract:
    """A client of the API that checks every answer against the document and remembers
    which operations (and statuses) it has seen."""

    client: FlaskClient
    doc: dict[str, Any]
    seen: set[tuple[str, str]] = field(default_factory=set)
    statuses: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.resolved = _absolute_refs(self.doc)
        self.registry: Registry = Registry().with_resource(
            DOC_URI, Resource(contents=self.resolved, specification=DRAFT202012)
        )

    def _deref(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            pointer = node["$ref"].removeprefix(DOC_URI + "#/").split("/")
            target: Any = self.resolved
            for part in pointer:
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def check(self, instance: Any, schema: dict[str, Any], what: str) -> None:
        validator = Draft202012Validator(
            schema, registry=self.registry, format_checker=FormatChecker()
        )
        problems = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(instance)
        ]
        assert problems == [], f"{what}: {problems}"

    def call(
        self,
        method: str,
        template: str,
        status: int,
        *,
        key: str | None,
        params: dict[str, Any] | None = None,
        body: Any = None,
        query: dict[str, Any] | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """Call ``method template`` (path parameters from ``params``), expect ``status``, and
        check the body (and headers) against what the document declares for it."""
        path = template.format(**(params or {}))
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response: TestResponse = self.client.open(
            path,
            method=method,
            headers=headers,
            query_string=query,
            data=data,
            content_type=content_type if data is not None else None,
        )
        assert response.status_code == status, (method, path, response.get_data(as_text=True))
        operation = self.doc["paths"][template][method.lower()]
        self.seen.add((template, method.upper()))
        self.statuses.add(status)
        declared = operation["responses"].get(str(status))
        assert declared is not None, f"{method} {template} answered {status}, not in the doc"
        declared = self._deref(_absolute_refs(declared))
        for name in declared.get("headers", {}):
            assert name in response.headers, f"{method} {template} {status}: no {name} header"
        schema = declared["content"]["application/json"]["schema"]
        payload = response.get_json()
        self.check(payload, schema, f"{method} {path} → {status}")
        if body is not None and status < 300:
            request_schema = operation["requestBody"]["content"]["application/json"]["schema"]
            self.check(body, _absolute_refs(request_schema), f"request of {method} {template}")
        return payload


def operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "post", "patch", "put", "delete"}
    return {
        (path, method.upper())
        for path, item in doc["paths"].items()
        for method in item
        if method in methods
    }


def routes(app: Flask) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint in NOT_AN_OPERATION:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                found.add((path, method))
    return found


def _keys(runtime: Runtime) -> tuple[str, str, str]:
    """A read key, a write key and a revoked key."""
    at = runtime.clock.now()
    with runtime.sessions.begin() as session:
        read = create_key(session, "reader", "read", at=at, by="tests").secret
        write = create_key(session, "writer", "write", at=at, by="tests").secret
        revoked = create_key(session, "old", "write", at=at, by="tests").secret
        revoke_key(session, "old", at=at)
    return read, write, revoked


def _add_review_items(runtime: Runtime, lead_id: int) -> tuple[int, int]:
    at = runtime.clock.now()
    with runtime.sessions.begin() as session:
        open_item = ReviewItem(
            lead_id=lead_id, reason="hot_lead", detail="asked for a call", created_at=at
        )
        done = ReviewItem(
            lead_id=lead_id,
            reason="unmatched",
            created_at=at,
            resolved_at=at,
            resolution="stop",
            note="handled",
        )
        session.add_all([open_item, done])
        session.flush()
        return open_item.id, done.id


def test_every_operation_answers_as_its_openapi_document_says(runtime: Runtime) -> None:
    doc = document()
    validate_spec(doc)  # a valid OpenAPI 3.1 document
    app = web_app(runtime)
    assert routes(app) == operations(doc), "the app's routes and the document's differ"
    api = Contract(app.test_client(), doc)
    read, write, revoked = _keys(runtime)
    add_test_rep(runtime, "rita")

    # The document itself, without a key.
    served = api.call("GET", "/api/v1/openapi.json", 200, key=None)
    assert served == doc

    # Keys: none, unknown, revoked → 401; a read key writing → 403.
    for bad in (None, "ok_not-a-key", revoked):
        error = api.call("GET", "/api/v1/leads", 401, key=bad)
        assert error["error"]["code"] == "unauthorized"
    forbidden = api.call("POST", "/api/v1/leads", 403, key=read, body={"email": "nope@example.com"})
    assert forbidden["error"]["code"] == "forbidden"

    # Create leads; an existing address is a conflict, a suppressed one and bad fields 422.
    created = []
    for n in range(5):
        lead = api.call(
            "POST",
            "/api/v1/leads",
            201,
            key=write,
            body={
                "email": f"Lead{n}@Example.com",
                "first_name": f"Ana{n}",
                "company": "Acme",
                "timezone": "Europe/Berlin",
                "deal_value": 1000 + n,
                "fields": {"industry": "logistics", "seats": 12},
            },
        )
        assert lead["email"] == f"lead{n}@example.com"
        assert lead["stage"] == Stage.PROSPECTING
        assert lead["status"] == LeadStatus.ACTIVE
        assert lead["fields"] == {"industry": "logistics", "seats": "12"}
        created.append(lead)
    conflict = api.call(
        "POST", "/api/v1/leads", 409, key=write, body={"email": "lead0@example.com"}
    )
    assert str(created[0]["id"]) in conflict["error"]["message"]
    with runtime.sessions.begin() as session:
        suppressions.add(session, "blocked@example.com", reason="manual", at=runtime.clock.now())
    refused = api.call(
        "POST", "/api/v1/leads", 422, key=write, body={"email": "blocked@example.com"}
    )
    assert [f["field"] for f in refused["error"]["fields"]] == ["email"]
    bad = api.call(
        "POST",
        "/api/v1/leads",
        422,
        key=write,
        body={"email": "not an address", "timezone": "Mars/Base", "colour": "red"},
    )
    assert [f["field"] for f in bad["error"]["fields"]] == ["colour"]  # unknown fields first
    bad = api.call(
        "POST",
        "/api/v1/leads",
        422,
        key=write,
        body={"email": "not an address", "timezone": "Mars/Base", "stage": "dreaming"},
    )
    assert {f["field"] for f in bad["error"]["fields"]} == {"email", "timezone", "stage"}
    api.call("POST", "/api/v1/leads", 415, key=write, raw=b"email=x", content_type="text/plain")
    api.call("POST", "/api/v1/leads", 400, key=write, raw=b"[1, 2]")

    # Read one by id and by address; an unknown one is a 404.
    one = api.call("GET", "/api/v1/leads/{lead}", 200, key=read, params={"lead": created[1]["id"]})
    assert one == created[1]
    by_email = api.call(
        "GET", "/api/v1/leads/{lead}", 200, key=read, params={"lead": "LEAD1@example.com"}
    )
    assert by_email["id"] == created[1]["id"]
    missing = api.call("GET", "/api/v1/leads/{lead}", 404, key=read, params={"lead": "999999"})
    assert missing["error"]["code"] == "not_found"

    # Walk every lead two at a time while leads are added between pages: each once.
    before = {lead["id"] for lead in created}
    walked: list[int] = []
    cursor = None
    extra = 0
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.call("GET", "/api/v1/leads", 200, key=read, query=query)
        walked += [lead["id"] for lead in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        if extra < 3:  # a new lead between pages, as an integration would meet it
            api.call(
                "POST", "/api/v1/leads", 201, key=write, body={"email": f"new{extra}@example.com"}
            )
            extra += 1
    assert len(walked) == len(set(walked)), "a lead was returned twice"
    assert before <= set(walked)
    assert len(walked) == len(before) + extra  # every lead added meanwhile comes at the end

    # Filters, and every bad parameter as a 422 naming it.
    for bad_query, name in (
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"stage": "dreaming"}, "stage"),
        ({"status": "sleeping"}, "status"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"colour": "red"}, "colour"),
    ):
        error = api.call("GET", "/api/v1/leads", 422, key=read, query=bad_query)
        assert [f["field"] for f in error["error"]["fields"]] == [name], bad_query

    # Change a lead: fields, a custom field, its owner, its stage (won needs a reason).
    target = created[2]["id"]
    runtime.clock.advance(timedelta(minutes=5))
    changed = api.call(
        "PATCH",
        "/api/v1/leads/{lead}",
        200,
        key=write,
        params={"lead": target},
        body={
            "company": "Acme GmbH",
            "fields": {"industry": None, "tier": "gold"},
            "owner": "rita",
        },
    )
    assert changed["company"] == "Acme GmbH"
    assert changed["owner"] == "rita"
    assert changed["fields"] == {"seats": "12", "tier": "gold"}
    mine = api.call("GET", "/api/v1/leads", 200, key=read, query={"owner": "rita"})
    assert [lead["id"] for lead in mine["data"]] == [target]
    recent = api.call(
        "GET", "/api/v1/leads", 200, key=read, query={"updated_since": changed["updated_at"]}
    )
    assert [lead["id"] for lead in recent["data"]] == [target]
    for bad_body, name in (
        ({"stage": "dreaming"}, "stage"),
        ({"stage": "won"}, "reason"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"email": "other@example.com"}, "email"),
        ({"owner": "nobody-here"}, "owner"),
    ):
        error = api.call(
            "PATCH", "/api/v1/leads/{lead}", 422, key=write, params={"lead": target}, body=bad_body
        )
        assert [f["field"] for f in error["error"]["fields"]] == [name], bad_body
    won = api.call(
        "PATCH",
        "/api/v1/leads/{lead}",
        200,
        key=write,
        params={"lead": target},
        body={"stage": "won", "reason": "signed the contract"},
    )
    assert won["stage"] == "won"
    api.call("GET", "/api/v1/leads", 200, key=read, query={"stage": "won", "status": "stopped"})

    # Sequences: enroll, pause until a date, resume, stop; refusals as 409 or 422.
    lead = created[3]["id"]
    ref = {"lead": lead}
    enrolled = api.call(
        "POST",
        "/api/v1/leads/{lead}/enroll",
        200,
        key=write,
        params=ref,
        body={"sequence": "prospecting"},
    )
    assert enrolled["changed"]
    assert enrolled["lead"]["sequence"] == "prospecting"
    error = api.call(
        "POST", "/api/v1/leads/{lead}/enroll", 422, key=write, params=ref, body={"sequence": "nope"}
    )
    assert [f["field"] for f in error["error"]["fields"]] == ["sequence"]
    until = (runtime.clock.now() + timedelta(days=7)).isoformat()
    paused = api.call(
        "POST", "/api/v1/leads/{lead}/pause", 200, key=write, params=ref, body={"until": until}
    )
    assert paused["lead"]["status"] == "paused"
    assert paused["lead"]["enrollment_status"] == "paused"
    error = api.call(
        "POST", "/api/v1/leads/{lead}/pause", 422, key=write, params=ref, body={"until": "soon"}
    )
    assert [f["field"] for f in error["error"]["fields"]] == ["until"]
    resumed = api.call("POST", "/api/v1/leads/{lead}/resume", 200, key=write, params=ref)
    assert resumed["changed"]
    assert resumed["lead"]["status"] == "active"
    stopped = api.call(
        "POST",
        "/api/v1/leads/{lead}/stop",
        200,
        key=write,
        params=ref,
        body={"reason": "asked us to"},
    )
    assert stopped["lead"]["status"] == "stopped"
    again = api.call("POST", "/api/v1/leads/{lead}/stop", 200, key=write, params=ref, body={})
    assert again["changed"] is False
    conflict = api.call("POST", "/api/v1/leads/{lead}/pause", 409, key=write, params=ref)
    assert conflict["error"]["code"] == "conflict"
    decided = api.call(
        "POST",
        "/api/v1/leads/{lead}/enroll",
        409,
        key=write,
        params={"lead": target},
        body={"sequence": "prospecting"},
    )
    assert "won" in decided["error"]["message"]
    api.call(
        "POST", "/api/v1/leads/{lead}/resume", 404, key=write, params={"lead": "x@example.com"}
    )
    api.call("POST", "/api/v1/leads/{lead}/stop", 403, key=read, params=ref)

    # The event log: what the walk did, filtered and paginated.
    events = api.call("GET", "/api/v1/events", 200, key=read, query={"lead": lead, "limit": 200})
    kinds = [event["kind"] for event in events["data"]]
    assert kinds[0] == "lead_created"
    assert "enrolled" in kinds
    assert all(event["lead_id"] == lead for event in events["data"])
    causes = {event["cause"] for event in events["data"]}
    assert "rep: api key writer" in causes
    first = api.call("GET", "/api/v1/events", 200, key=read, query={"lead": lead, "limit": 1})
    second = api.call(
        "GET",
        "/api/v1/events",
        200,
        key=read,
        query={"lead": lead, "limit": 1, "cursor": first["next_cursor"]},
    )
    assert [e["id"] for e in first["data"] + second["data"]] == [
        e["id"] for e in events["data"][:2]
    ]
    stage_changes = api.call(
        "GET", "/api/v1/events", 200, key=read, query={"kind": "stage_changed"}
    )
    assert [e["lead_id"] for e in stage_changes["data"]] == [target]
    later = api.call(
        "GET", "/api/v1/events", 200, key=read, query={"since": changed["updated_at"], "lead": lead}
    )
    assert 0 < len(later["data"]) < len(events["data"])
    for bad_query, name in (
        ({"kind": "dreamt"}, "kind"),
        ({"since": "soon"}, "since"),
        ({"lead": "nobody@example.com"}, "lead"),
    ):
        error = api.call("GET", "/api/v1/events", 422, key=read, query=bad_query)
        assert [f["field"] for f in error["error"]["fields"]] == [name]

    # The review queue: open by default, resolved, all; one item; a missing one.
    open_id, done_id = _add_review_items(runtime, lead)
    open_items = api.call("GET", "/api/v1/review-items", 200, key=read)
    assert open_id in [item["id"] for item in open_items["data"]]
    assert done_id not in [item["id"] for item in open_items["data"]]
    resolved = api.call("GET", "/api/v1/review-items", 200, key=read, query={"status": "resolved"})
    assert [item["id"] for item in resolved["data"]] == [done_id]
    everything = api.call(
        "GET", "/api/v1/review-items", 200, key=read, query={"status": "all", "limit": 1}
    )
    assert everything["next_cursor"] is not None
    api.call("GET", "/api/v1/review-items", 422, key=read, query={"status": "closed"})
    item = api.call("GET", "/api/v1/review-items/{item}", 200, key=read, params={"item": done_id})
    assert item["status"] == "resolved"
    assert item["resolution"] == "stop"
    api.call("GET", "/api/v1/review-items/{item}", 404, key=read, params={"item": 999999})

    # A path or method the API lacks: JSON too.
    nowhere = api.client.get("/api/v1/nowhere", headers={"Authorization": f"Bearer {read}"})
    assert nowhere.status_code == 404
    assert nowhere.get_json()["error"]["code"] == "not_found"
    wrong = api.client.delete("/api/v1/leads", headers={"Authorization": f"Bearer {write}"})
    assert wrong.status_code == 405
    assert wrong.get_json()["error"]["code"] == "method_not_allowed"
    assert set(wrong.headers["Allow"].split(", ")) == {"GET", "POST"}
    error_schema = {"$ref": DOC_URI + "#/components/schemas/Error"}
    for answer in (nowhere, wrong):
        api.check(answer.get_json(), error_schema, f"{answer.status_code} outside the doc")

    # Rate limits count per key: a key over its limit gets 429 with Retry-After, another not.
    runtime.settings = runtime.settings.with_changes(api_limit="3 per minute")
    limited = Contract(web_app(runtime).test_client(), doc)
    for _ in range(3):
        limited.call("GET", "/api/v1/review-items", 200, key=read)
    error = limited.call("GET", "/api/v1/review-items", 429, key=read)
    assert error["error"]["code"] == "rate_limited"
    limited.call("GET", "/api/v1/review-items", 200, key=write)
    over = limited.client.get("/api/v1/leads", headers={"Authorization": f"Bearer {read}"})
    assert over.headers["Retry-After"].isdigit()
    limited.call("GET", "/api/v1/leads", 429, key=read)
    limited.call("GET", "/api/v1/leads/{lead}", 429, key=read, params={"lead": lead})
    limited.call("GET", "/api/v1/events", 429, key=read)
    limited.call("GET", "/api/v1/review-items/{item}", 429, key=read, params={"item": open_id})
    for _ in range(3):
        limited.client.get("/api/v1/openapi.json")
    limited.call("GET", "/api/v1/openapi.json", 429, key=None)
    for template, method in sorted(operations(doc)):
        if method != "GET":
            params = {"lead": lead} if "{lead}" in template else {}
            limited.call(method, template, 429, key=read, params=params)

    # Every operation of the document was exercised, and every status each declares.
    exercised = api.seen | limited.seen
    assert operations(doc) - exercised == set()
    assert {401, 403, 404, 409, 415, 422, 429} <= api.statuses | limited.statuses


def test_api_keys_are_stored_hashed_shown_once_revocable_and_record_their_use(
    project: Path, sqlite_url: str, clock: VirtualClock
) -> None:
    invoke = make_invoke(project, sqlite_url)
    try:
        made = invoke("api-keys", "create", "crm-sync", "--scope", "write", "--json")
        assert made.exit_code == 0, made.output
        key = json.loads(made.output)
        secret = key["key"]
        assert secret.startswith("ok_")
        assert secret.startswith(key["prefix"])
        listed = invoke("api-keys", "list", "--json")
        assert listed.exit_code == 0
        assert secret not in listed.output
        (row,) = json.loads(listed.output)
        assert row["name"] == "crm-sync"
        assert row["scope"] == "write"
        assert row["last_used_at"] is None
        dup = invoke("api-keys", "create", "crm-sync")
        assert dup.exit_code == 1
        assert "exists" in dup.output
    finally:
        reset_cli_runtime()

    auth = {"Authorization": f"Bearer {secret}"}
    runtime = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    try:
        with runtime.sessions() as session:
            stored = session.scalar(select(ApiKey).where(ApiKey.name == "crm-sync"))
            assert stored is not None
            assert stored.secret_hash == digest(secret)
            values = [str(getattr(stored, column.key)) for column in ApiKey.__table__.columns]
            assert not any(secret[len(key["prefix"]) :] in value for value in values)
        client = web_app(runtime).test_client()
        assert client.get("/api/v1/leads", headers=auth).status_code == 200
        with runtime.sessions() as session:
            used = session.scalar(select(ApiKey.last_used_at).where(ApiKey.name == "crm-sync"))
        assert used == clock.now()
        almost = secret[:-1] + ("A" if secret[-1] != "A" else "B")
        wrong = client.get("/api/v1/leads", headers={"Authorization": f"Bearer {almost}"})
        assert wrong.status_code == 401
    finally:
        runtime.close()

    invoke = make_invoke(project, sqlite_url)
    try:
        revoked = invoke("api-keys", "revoke", key["prefix"])
        assert revoked.exit_code == 0
        assert "revoked" in revoked.output
        missing = invoke("api-keys", "revoke", "nothing")
        assert missing.exit_code == 1
        assert "No API key" in missing.output
    finally:
        reset_cli_runtime()
    runtime = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    try:
        answer = web_app(runtime).test_client().get("/api/v1/leads", headers=auth)
        assert answer.status_code == 401
        assert answer.get_json()["error"]["code"] == "unauthorized"
    finally:
        runtime.close()
