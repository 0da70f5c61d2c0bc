"""``POST /api/events``: a known lead's activity from the website or a webinar tool, with a
bearer key and a rate limit; every answer is JSON and names what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from tests.conftest import make_settings
from tests.web_support import web_app
from worker.leads.importing import import_leads
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store.models import Event, Lead, ScoreMark

KEY = "events-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
ADA = "ada@northwind.test"


@pytest.fixture
def settings(project: Path, database_url: str) -> Settings:
    return make_settings(project, database_url, events_api_key=KEY, events_api_limit="5/minute")


@pytest.fixture
def client(runtime: Runtime, project: Path) -> FlaskClient:
    import_leads(
        runtime.sessions,
        project / "examples" / "leads.csv",
        runtime.clock,
        runtime.catalog,
        enroll=False,
    )
    return web_app(runtime).test_client()


def post(client: FlaskClient, body: Any, headers: dict[str, str] | None = None) -> TestResponse:
    return client.post(
        "/api/events",
        data=body if isinstance(body, str) else json.dumps(body),
        headers=AUTH if headers is None else headers,
        content_type="application/json",
    )


def activities(runtime: Runtime) -> list[Event]:
    with runtime.sessions() as session:
        found = list(session.scalars(select(Event).where(Event.kind == "activity")))
        session.expunge_all()
        return found


def test_an_activity_of_a_known_lead_is_recorded_and_marks_the_lead(
    runtime: Runtime, client: FlaskClient
) -> None:
    response = post(
        client,
        {
            "email": " Ada@Northwind.test ",
            "type": "webinar_attended",
            "at": "2027-01-03T16:00:00+01:00",
            "detail": {"webinar": "Q1 forecasting", "minutes": 42},
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "recorded"
    [event] = activities(runtime)
    assert event.lead_id == body["lead_id"]
    assert event.cause == "webinar_attended"
    assert event.at.isoformat() == "2027-01-03T15:00:00+00:00"
    assert event.detail == {"source": "api", "data": {"webinar": "Q1 forecasting", "minutes": 42}}
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        assert lead is not None
        assert session.get(ScoreMark, lead.id) is not None
    assert post(client, {"email": ADA, "type": "pricing_page_visit"}).status_code == 201
    assert activities(runtime)[-1].at == runtime.clock.now()  # no time: now


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}]
)
def test_a_missing_or_wrong_key_is_a_401(
    runtime: Runtime, client: FlaskClient, headers: dict[str, str]
) -> None:
    response = post(client, {"email": ADA, "type": "webinar_attended"}, headers=headers)
    assert response.status_code == 401
    assert "Bearer" in response.get_json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert activities(runtime) == []


def test_an_unknown_lead_is_a_404_naming_the_field(runtime: Runtime, client: FlaskClient) -> None:
    response = post(client, {"email": "nobody@example.test", "type": "webinar_attended"})
    assert response.status_code == 404
    body = response.get_json()
    assert body["field"] == "email"
    assert "nobody@example.test" in body["error"]
    assert activities(runtime) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "webinar_attended"}, "email"),
        ({"email": "not an address", "type": "webinar_attended"}, "email"),
        ({"email": ADA}, "type"),
        ({"email": ADA, "type": "Webinar Attended!"}, "type"),
        ({"email": ADA, "type": "call_logged"}, "type"),
        ({"email": ADA, "type": "webinar_attended", "at": "yesterday"}, "at"),
        ({"email": ADA, "type": "webinar_attended", "at": "2031-01-01T00:00:00Z"}, "at"),
        ({"email": ADA, "type": "webinar_attended", "detail": ["a"]}, "detail"),
        ({"email": ADA, "type": "webinar_attended", "typ": "x"}, "typ"),
    ],
)
def test_a_bad_field_is_a_422_naming_it(
    runtime: Runtime, client: FlaskClient, body: dict[str, Any], field: str
) -> None:
    response = post(client, body)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == [field]
    assert activities(runtime) == []


def test_bodies_that_are_not_json_objects_are_refused_in_json(client: FlaskClient) -> None:
    assert post(client, "{not json").status_code == 400
    assert post(client, "[1]").status_code == 400
    wrong_type = client.post("/api/events", data="email=a", headers=AUTH)
    assert wrong_type.status_code == 415
    assert client.get("/api/events", headers=AUTH).status_code == 405
    assert client.get("/api/events").is_json


def test_the_api_is_rate_limited_per_address(client: FlaskClient) -> None:
    codes = [
        post(client, {"email": ADA, "type": "pricing_page_visit"}).status_code for _ in range(7)
    ]
    assert codes == [201] * 5 + [429, 429]
    assert "wait a minute" in post(client, {}).get_json()["error"]


def test_the_api_is_off_without_a_key(project: Path, sqlite_url: str, clock: Any) -> None:
    runtime = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    try:
        response = web_app(runtime).test_client().post("/api/events", json={}, headers=AUTH)
        assert response.status_code == 404
        assert response.is_json
    finally:
        runtime.close()
