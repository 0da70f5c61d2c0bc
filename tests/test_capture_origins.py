"""A lead form on the company's own website posts straight to /capture when its origin is
allowed; every other post needs the token of this app's own form page."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import make_settings
from tests.web_support import csrf_token, web_app
from worker.errors import ConfigError
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store.models import Enrollment, Lead

SITE = "https://www.northwind-analytics.example"
FORM = {"email": "lena@example.com", "first_name": "Lena", "company": "Example GmbH"}


@pytest.fixture
def settings(project: Path, database_url: str) -> Settings:
    return make_settings(
        project,
        database_url,
        capture_sequence="prospecting",
        capture_form_limit="100 per minute",
        capture_origins=(SITE,),
    )


def _leads(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Lead)) or 0)


def test_the_companys_website_posts_without_our_token(runtime: Runtime) -> None:
    client = web_app(runtime).test_client()
    response = client.post("/capture", data=FORM, headers={"Origin": SITE + "/"})
    assert response.status_code == 200
    assert b"Thank you" in response.data
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == "lena@example.com"))
        assert lead is not None
        assert session.scalars(
            select(Enrollment.sequence).where(Enrollment.lead_id == lead.id)
        ).all() == ["prospecting"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": "https://evil.example"}, {"Origin": "null"}, {"Origin": SITE + ".evil.test"}],
)
def test_other_sites_and_tokenless_posts_are_refused(
    runtime: Runtime, headers: dict[str, str]
) -> None:
    client = web_app(runtime).test_client()
    response = client.post("/capture", data=FORM, headers=headers)
    assert response.status_code == 400
    assert b"Form expired" in response.data
    assert _leads(runtime) == 0


def test_our_own_form_page_still_works_with_its_token(runtime: Runtime) -> None:
    client = web_app(runtime).test_client()
    token = csrf_token(client.get("/capture").data)
    response = client.post("/capture", data={**FORM, "csrf_token": token})
    assert response.status_code == 200
    assert _leads(runtime) == 1


def test_allowed_origins_are_checked_at_start(project: Path) -> None:
    env = {"DATABASE_URL": "sqlite://", "OUTREACH_CAPTURE_ORIGINS": f"{SITE}, www.example.com"}
    with pytest.raises(ConfigError, match=r"'www\.example\.com' is not a web origin"):
        Settings.from_env(env, home=project)
    env["OUTREACH_CAPTURE_ORIGINS"] = f"{SITE}/, HTTPS://Shop.Example.com:8443"
    assert Settings.from_env(env, home=project).capture_origins == (
        SITE,
        "https://shop.example.com:8443",
    )
