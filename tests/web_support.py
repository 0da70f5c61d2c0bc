"""Helpers for web app tests: a test client of the real app, CSRF tokens, signed-in reps."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from worker.review.reps import add_rep
from worker.runtime import Runtime
from worker.web import create_app

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str | bytes) -> str:
    """The CSRF token of the first form on a page."""
    text = html.decode() if isinstance(html, bytes) else html
    found = _CSRF.search(text)
    assert found, "no CSRF token on the page"
    return found.group(1)


def add_test_rep(runtime: Runtime, name: str = "rita", password: str = PASSWORD) -> str:
    with runtime.sessions.begin() as session:
        add_rep(session, name, password, at=runtime.clock.now())
    return name


def web_app(runtime: Runtime) -> Flask:
    app = create_app(runtime)
    app.testing = True
    return app


def sign_in(client: FlaskClient, name: str = "rita", password: str = PASSWORD) -> str:
    """Sign ``name`` in through the form; return a CSRF token valid for the session."""
    token = csrf_token(client.get("/login").data)
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.data[:500]
    return csrf_token(client.get("/login").data)  # signing in starts a new session


def signed_in_client(runtime: Runtime, name: str = "rita") -> tuple[FlaskClient, str]:
    """A client of a new app with ``name`` (created when missing) signed in, and its token."""
    from sqlalchemy import select

    from worker.store.models import Rep

    with runtime.sessions() as session:
        exists = session.scalar(select(Rep.id).where(Rep.name == name)) is not None
    if not exists:
        add_test_rep(runtime, name)
    client = web_app(runtime).test_client()
    return client, sign_in(client, name)
