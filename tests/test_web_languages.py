"""The public pages in the visitor's language: the unsubscribe pages in the lead's, the capture
form in the one its link or the browser asks for, with an ``<html lang>`` that matches."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import make_settings
from tests.web_support import csrf_token, web_app
from worker.leads.importing import import_leads
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store.models import Lead
from worker.store.tokens import lead_token

KLAUS = "k.mueller@brauhaus-logistik.test"
ADA = "ada@northwind.test"


@pytest.fixture
def settings(project: Path, database_url: str) -> Settings:
    return make_settings(
        project, database_url, capture_sequence="qualification", capture_form_limit="100/minute"
    )


@pytest.fixture
def client(runtime: Runtime, project: Path) -> FlaskClient:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    return web_app(runtime).test_client()


def _token(runtime: Runtime, email: str) -> str:
    with runtime.sessions() as session:
        lead_id = session.scalar(select(Lead.id).where(Lead.email == email))
    assert lead_id is not None
    return lead_token(runtime.secret, lead_id)


def test_a_german_lead_confirms_and_is_unsubscribed_in_german(
    runtime: Runtime, client: FlaskClient
) -> None:
    token = _token(runtime, KLAUS)
    page = client.get(f"/u/{token}").get_data(as_text=True)
    assert '<html lang="de">' in page
    assert "<h1>Abmelden?</h1>" in page
    assert "Zum Inhalt springen" in page
    assert "Unsubscribe" not in page
    done = client.post(f"/u/{token}", data={"confirm": "yes"}).get_data(as_text=True)
    assert '<html lang="de">' in done
    assert "Sie sind abgemeldet" in done
    assert "k***@brauhaus-logistik.test ist jetzt abgemeldet." in done
    again = client.get(f"/u/{token}").get_data(as_text=True)
    assert "war bereits abgemeldet" in again


def test_an_english_lead_keeps_the_english_pages(runtime: Runtime, client: FlaskClient) -> None:
    page = client.get(f"/u/{_token(runtime, ADA)}").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "<h1>Unsubscribe?</h1>" in page


def test_the_capture_form_speaks_german_when_asked_and_the_lead_gets_german(
    runtime: Runtime, client: FlaskClient
) -> None:
    form = client.get("/capture?lang=de").get_data(as_text=True)
    assert '<html lang="de">' in form
    assert "<h1>Kontakt aufnehmen</h1>" in form
    bad = client.post(
        "/capture",
        data={"csrf_token": csrf_token(form), "language": "de", "email": "not-an-address"},
    )
    assert bad.status_code == 400
    assert "Bitte prüfen Sie die E-Mail-Adresse." in bad.get_data(as_text=True)
    done = client.post(
        "/capture",
        data={"csrf_token": csrf_token(form), "language": "de", "email": "lena@example.test"},
    )
    assert done.status_code == 200
    assert "Vielen Dank" in done.get_data(as_text=True)
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == "lena@example.test"))
    assert lead is not None
    assert lead.fields["language"] == "de"


def test_the_capture_form_follows_the_browsers_language(client: FlaskClient) -> None:
    german = client.get("/capture", headers={"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"})
    assert '<html lang="de">' in german.get_data(as_text=True)
    english = client.get("/capture", headers={"Accept-Language": "fr-FR,en;q=0.5"})
    assert '<html lang="en">' in english.get_data(as_text=True)
