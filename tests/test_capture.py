"""Lead capture: the public form (``/capture``) and the JSON API (``POST /api/leads``) create a
lead, enroll it in OUTREACH_CAPTURE_SEQUENCE and never leak who is already known."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Select, event, false, func, select
from sqlalchemy.orm import ORMExecuteState
from werkzeug.test import TestResponse

from tests.conftest import make_settings
from tests.web_support import csrf_token, web_app
from worker.errors import ConfigError
from worker.leads import suppressions
from worker.leads.capture import capture_lead, check_fields
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store.models import Enrollment, Event, Lead

KEY = "capture-key-0123456789"
SEQUENCE = "qualification"  # a stage other than the import default (prospecting)
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def settings(project: Path, database_url: str) -> Settings:
    """Capture on (overrides conftest's ``settings``, so ``runtime`` uses these)."""
    return make_settings(
        project,
        database_url,
        capture_sequence=SEQUENCE,
        capture_api_key=KEY,
        capture_form_limit="100 per minute",
        capture_api_limit="100 per minute",
    )


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return web_app(runtime).test_client()


@contextmanager
def other_runtime(runtime: Runtime, **changes: Any) -> Iterator[Runtime]:
    """A runtime on the same database with some settings changed."""
    other = Runtime.from_settings(runtime.settings.with_changes(**changes), runtime.clock)
    try:
        yield other
    finally:
        other.close()


def post_form(client: FlaskClient, **fields: str) -> TestResponse:
    token = csrf_token(client.get("/capture").data)
    return client.post("/capture", data={"csrf_token": token, **fields})


def post_api(client: FlaskClient, body: Any, headers: dict[str, str] | None = None) -> TestResponse:
    return client.post(
        "/api/leads",
        data=json.dumps(body),
        headers=AUTH if headers is None else headers,
        content_type="application/json",
    )


def stored(runtime: Runtime) -> dict[str, Any]:
    """Leads, enrollments and capture events now in the database."""
    with runtime.sessions() as session:
        leads = {lead.email: lead for lead in session.scalars(select(Lead))}
        enrollments = [(e.lead_id, e.sequence) for e in session.scalars(select(Enrollment))]
        captured = [
            (e.lead_id, e.cause, e.detail.get("source"))
            for e in session.scalars(select(Event).where(Event.kind == "captured"))
        ]
        session.expunge_all()
    return {"leads": leads, "enrollments": enrollments, "captured": captured}


def count_leads(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Lead)) or 0)


# --- the form ---------------------------------------------------------------------------


def test_the_form_creates_the_lead_in_the_sequences_stage_and_enrolls_it(
    runtime: Runtime, client: FlaskClient
) -> None:
    page = client.get("/capture")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="csrf_token"' in html
    assert 'name="website"' in html  # the honeypot, hidden
    assert " style=" not in html
    assert "<script" not in html
    assert '<body class="narrow">' in html
    response = post_form(
        client,
        email=" Grace@Example.TEST ",
        first_name="Grace",
        last_name="Hopper",
        company="Navy",
        country="us",
        timezone="America/New_York",
    )
    assert response.status_code == 200
    assert "Thank you" in response.get_data(as_text=True)
    now = stored(runtime)
    lead = now["leads"]["grace@example.test"]
    assert (lead.first_name, lead.last_name, lead.company) == ("Grace", "Hopper", "Navy")
    assert (lead.country, lead.timezone, lead.stage) == ("US", "America/New_York", SEQUENCE)
    assert now["enrollments"] == [(lead.id, SEQUENCE)]
    assert now["captured"] == [(lead.id, "form", "form")]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-address", "is not a valid address"),
        ("email", "", "email is required"),
        ("timezone", "Mars/Olympus", "use an IANA name such as Europe/Berlin"),
        ("country", "Germany", "use two letters such as DE"),
        ("first_name", "x" * 201, "first_name is longer than 200 characters"),
    ],
)
def test_bad_form_fields_are_shown_next_to_the_field_and_nothing_is_stored(
    runtime: Runtime, client: FlaskClient, field: str, value: str, message: str
) -> None:
    fields = {"email": "ok@example.test", "company": "<b>Acme</b>", field: value}
    response = post_form(client, **fields)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'<p class="error" id="{field}-error">' in html
    assert message in html
    assert 'aria-invalid="true"' in html
    assert 'value="&lt;b&gt;Acme&lt;/b&gt;"' in html  # kept, escaped
    assert count_leads(runtime) == 0


def test_a_filled_honeypot_gets_thanks_and_stores_nothing(
    runtime: Runtime, client: FlaskClient
) -> None:
    response = post_form(client, email="bot@example.test", website="http://spam.test")
    assert response.status_code == 200
    assert "Thank you" in response.get_data(as_text=True)
    assert count_leads(runtime) == 0


def test_the_form_needs_its_csrf_token(runtime: Runtime, client: FlaskClient) -> None:
    response = client.post("/capture", data={"email": "a@example.test"})
    assert response.status_code == 400
    assert count_leads(runtime) == 0


# --- the API ----------------------------------------------------------------------------


def test_the_api_creates_and_enrolls_the_lead_with_custom_fields(
    runtime: Runtime, client: FlaskClient
) -> None:
    body = {
        "email": "ada@example.test",
        "first_name": "Ada",
        "deal_value": 42500,
        "utm_source": "newsletter",
        "page": "/pricing",
        "note": None,
    }
    response = post_api(client, body)
    assert response.status_code == 201
    assert response.get_json() == {"status": "accepted"}
    now = stored(runtime)
    lead = now["leads"]["ada@example.test"]
    assert (lead.first_name, lead.deal_value, lead.stage) == ("Ada", 42500.0, SEQUENCE)
    # as in a CSV import, the lead's fields hold every column but the email
    assert lead.fields == {"first_name": "Ada", "utm_source": "newsletter", "page": "/pricing"}
    assert now["enrollments"] == [(lead.id, SEQUENCE)]
    assert now["captured"] == [(lead.id, "api", "api")]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": "Bearer "},
    ],
)
def test_a_missing_or_wrong_key_is_401_and_stores_nothing(
    runtime: Runtime, client: FlaskClient, headers: dict[str, str]
) -> None:
    response = post_api(client, {"email": "ada@example.test"}, headers)
    assert response.status_code == 401
    assert response.is_json
    assert "Bearer" in response.get_json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count_leads(runtime) == 0


def test_bad_requests_get_json_errors(runtime: Runtime, client: FlaskClient) -> None:
    form = client.post("/api/leads", data={"email": "a@example.test"}, headers=AUTH)
    assert (form.status_code, form.is_json) == (415, True)
    broken = client.post(
        "/api/leads", data='{"email": ', headers=AUTH, content_type="application/json"
    )
    assert (broken.status_code, broken.is_json) == (400, True)
    assert "not valid JSON" in broken.get_json()["error"]
    listed = post_api(client, ["a@example.test"])
    assert (listed.status_code, listed.is_json) == (400, True)
    padding = "x" * (11 * 1024)
    large = post_api(client, {"email": "a@example.test", "note": padding})
    assert (large.status_code, large.is_json) == (413, True)
    assert "10 kB" in large.get_json()["error"]
    deep = client.post("/api/leads", data="[" * 5000, headers=AUTH, content_type="application/json")
    assert (deep.status_code, deep.is_json) == (400, True)
    method = client.get("/api/leads", headers=AUTH)
    assert (method.status_code, method.is_json) == (405, True)
    assert count_leads(runtime) == 0


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"email": "nope"}, "email", "is not a valid address"),
        ({"first_name": "Ada"}, "email", "email is required"),
        ({"email": "a@example.test", "timezone": "Nowhere/Town"}, "timezone", "IANA"),
        ({"email": "a@example.test", "country": "ZZ"}, "country", "ISO 3166"),
        ({"email": "a@example.test", "deal_value": "lots"}, "deal_value", "is not a number"),
        ({"email": "a@example.test", "deal_value": "Infinity"}, "deal_value", "positive"),
        ({"email": "a@example.test", "stage": "won"}, "stage", "cannot be set"),
        ({"email": "a@example.test", "Bad Key": "x"}, "Bad Key", "lower-case letters"),
        ({"email": "a@example.test", "k" * 41: "x"}, "k" * 40, "at most 40"),
        ({"email": "a@example.test", "note": "x" * 501}, "note", "longer than 500"),
        ({"email": "a@example.test", "note": "two\nlines"}, "note", "single line"),
        ({"email": "a@example.test", "tags": ["a"]}, "tags", "text or a number"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(
    runtime: Runtime, client: FlaskClient, body: dict[str, Any], field: str, message: str
) -> None:
    response = post_api(client, body)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert message in errors[field]
    assert count_leads(runtime) == 0


def test_every_invalid_field_is_named_at_once(client: FlaskClient) -> None:
    body = {"email": "nope", "country": "ZZ", "timezone": "X/Y", "stage": "won"}
    errors = post_api(client, body).get_json()["errors"]
    assert set(errors) == {"email", "country", "timezone", "stage"}


def test_more_than_ten_custom_fields_is_422(runtime: Runtime, client: FlaskClient) -> None:
    body = {"email": "a@example.test", **{f"field_{i}": "x" for i in range(11)}}
    response = post_api(client, body)
    assert response.status_code == 422
    assert "at most 10" in response.get_json()["errors"]["fields"]
    ten = {"email": "a@example.test", **{f"field_{i}": "x" for i in range(10)}}
    assert post_api(client, ten).status_code == 201


def test_known_and_suppressed_addresses_get_the_same_answer_and_are_not_changed(
    runtime: Runtime, client: FlaskClient
) -> None:
    at = runtime.clock.now()
    with runtime.sessions.begin() as session:
        suppressions.add(session, "blocked.test", reason="manual", at=at)
    first = post_api(client, {"email": "known@example.test", "first_name": "Kim"})
    again = post_api(client, {"email": "KNOWN@example.test", "first_name": "Changed"})
    blocked = post_api(client, {"email": "someone@blocked.test"})
    assert [r.status_code for r in (first, again, blocked)] == [201, 201, 201]
    assert first.get_json() == again.get_json() == blocked.get_json()
    now = stored(runtime)
    known, hidden = now["leads"]["known@example.test"], now["leads"]["someone@blocked.test"]
    assert known.first_name == "Kim"  # not overwritten
    assert len(now["leads"]) == 2
    assert now["enrollments"] == [(known.id, SEQUENCE)]  # once; the suppressed lead never
    assert now["captured"] == [
        (known.id, "api", "api"),
        (known.id, "existing", "api"),
        (hidden.id, "api", "api"),
    ]
    form = post_form(client, email="other@blocked.test")
    assert form.status_code == 200
    assert "Thank you" in form.get_data(as_text=True)
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == "known@example.test"))
        assert lead is not None
        result = capture_lead(
            session,
            runtime.catalog,
            {"email": "known@example.test"},
            sequence=SEQUENCE,
            at=at,
            source="api",
        )
    assert (result.accepted, result.created, result.enrolled) == (True, False, False)


def test_check_fields_uses_the_csv_import_rules() -> None:
    row, errors = check_fields(
        {"email": " <A@B.Test> ", "deal_value": "42,500.50", "country": "uk"}
    )
    assert errors == {}
    assert (row["email"], row["deal_value"], row["country"]) == ("a@b.test", 42500.5, "GB")


# --- limits and switches ----------------------------------------------------------------


def test_the_fourth_request_in_a_minute_is_429(runtime: Runtime) -> None:
    with other_runtime(
        runtime, capture_api_limit="3 per minute", capture_form_limit="3 per minute"
    ) as limited:
        client = web_app(limited).test_client()
        codes = [post_api(client, {"email": f"r{i}@example.test"}).status_code for i in range(4)]
        assert codes == [201, 201, 201, 429]
        refused = post_api(client, {"email": "r9@example.test"})
        assert refused.is_json
        assert "Too many requests" in refused.get_json()["error"]
        forms = [post_form(client, email=f"f{i}@example.test").status_code for i in range(4)]
        assert forms == [200, 200, 200, 429]
    assert count_leads(runtime) == 6


def test_capture_is_off_without_a_sequence(runtime: Runtime) -> None:
    with other_runtime(runtime, capture_sequence=None) as off:
        client = web_app(off).test_client()
        assert client.get("/capture").status_code == 404
        assert client.post("/capture", data={"email": "a@example.test"}).status_code in (400, 404)
        response = post_api(client, {"email": "a@example.test"})
        assert (response.status_code, response.is_json) == (404, True)
    with other_runtime(runtime, capture_sequence="no-such-sequence") as broken:
        assert web_app(broken).test_client().get("/capture").status_code == 404
    assert count_leads(runtime) == 0


def test_the_api_is_off_without_a_key_while_the_form_works(runtime: Runtime) -> None:
    with other_runtime(runtime, capture_api_key=None) as formonly:
        client = web_app(formonly).test_client()
        assert post_api(client, {"email": "a@example.test"}).status_code == 404
        assert client.get("/capture").status_code == 200


def test_capture_settings_come_from_the_environment(tmp_path: Path) -> None:
    env = {
        "OUTREACH_CAPTURE_SEQUENCE": " qualification ",
        "OUTREACH_CAPTURE_API_KEY": KEY,
        "OUTREACH_CAPTURE_FORM_LIMIT": "2 per minute",
    }
    settings = Settings.from_env(env, home=tmp_path)
    assert (settings.capture_sequence, settings.capture_api_key) == (SEQUENCE, KEY)
    assert settings.capture_form_limit == "2 per minute"
    assert settings.capture_api_limit == "60 per minute"
    off = Settings.from_env({}, home=tmp_path)
    assert (off.capture_sequence, off.capture_api_key) == (None, None)
    assert off.capture_form_limit == "5 per minute;30 per hour"
    with pytest.raises(ConfigError, match="OUTREACH_CAPTURE_API_LIMIT='lots' is not a rate limit"):
        Settings.from_env({"OUTREACH_CAPTURE_API_LIMIT": "lots"}, home=tmp_path)


def test_a_capture_racing_another_for_a_new_address_makes_one_lead_and_one_enrollment(
    runtime: Runtime,
) -> None:
    """Another capture stores the address between this one's lookup and its insert: the
    insert yields to it, and the lead is neither duplicated nor enrolled twice."""
    at = runtime.clock.now()
    data = {"email": "race@example.test", "first_name": "First"}

    def capture(session: Any, values: dict[str, str]) -> Any:
        return capture_lead(
            session, runtime.catalog, values, sequence=SEQUENCE, at=at, source="api"
        )

    with runtime.sessions.begin() as session:
        missed: list[bool] = []

        @event.listens_for(session, "do_orm_execute")
        def _other_capture_in_between(state: ORMExecuteState) -> Any:
            statement = state.statement
            if missed or not isinstance(statement, Select):
                return None
            if [d.get("entity") for d in statement.column_descriptions] != [Lead]:
                return None
            missed.append(True)
            with runtime.sessions.begin() as other:
                assert capture(other, data).created
            return state.invoke_statement(statement=statement.where(false()))

        result = capture(session, {**data, "first_name": "Second"})
    assert missed == [True]
    assert (result.accepted, result.created, result.enrolled) == (True, False, False)
    now = stored(runtime)
    lead = now["leads"]["race@example.test"]
    assert lead.first_name == "First"
    assert now["enrollments"] == [(lead.id, SEQUENCE)]
    assert now["captured"] == [(lead.id, "api", "api"), (lead.id, "existing", "api")]
