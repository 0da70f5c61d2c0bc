"""Sign-in, sessions, CSRF and the public/private split of the web app; rep accounts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.conftest import make_settings
from tests.web_support import PASSWORD, add_test_rep, csrf_token, sign_in, web_app
from worker.review.reps import set_password
from worker.runtime import Runtime
from worker.store.models import Rep

PRIVATE_PAGES = ("/queue", "/board", "/leads", "/reports", "/leads/1", "/")


@pytest.fixture
def client(runtime: Runtime) -> Any:
    add_test_rep(runtime)
    return web_app(runtime).test_client()


@pytest.mark.parametrize("path", PRIVATE_PAGES)
def test_pages_without_a_session_send_to_sign_in(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/login")
    if path != "/":
        assert "next=" + path.replace("/", "%2F") in location or "next=" + path in location


def test_a_post_without_a_session_is_refused_and_changes_nothing(
    client: Any, runtime: Runtime
) -> None:
    token = csrf_token(client.get("/login").data)  # a valid token, but no rep signed in
    response = client.post("/queue/1/resolve", data={"action": "stop", "csrf_token": token})
    assert response.status_code == 401
    assert b"Sign in again" in response.data


def test_public_endpoints_need_no_session(client: Any) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/static/site.css").status_code == 200
    assert client.get("/u/1.00000000000000000000000000000000").status_code == 404


def test_sign_in_with_the_right_password_opens_the_queue(client: Any) -> None:
    sign_in(client)
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/queue"
    page = client.get("/queue")
    assert page.status_code == 200


@pytest.mark.parametrize(
    ("name", "password"),
    [("rita", "wrong password!"), ("nobody", PASSWORD), ("", ""), ("x" * 500, "y")],
)
def test_a_wrong_sign_in_says_so_without_telling_which_part(
    client: Any, name: str, password: str
) -> None:
    token = csrf_token(client.get("/login").data)
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    assert response.status_code == 401
    assert b"Wrong name or password." in response.data
    assert client.get("/queue").status_code == 302


def test_sign_in_returns_to_the_page_asked_for_but_only_on_this_site(client: Any) -> None:
    page = client.get("/login?next=/board%3Fstage%3Ddecision").data
    assert b'name="next" value="/board?stage=decision"' in page
    form = {"name": "rita", "password": PASSWORD, "csrf_token": csrf_token(page)}
    response = client.post("/login", data={**form, "next": "/board?stage=decision"})
    assert response.headers["Location"] == "/board?stage=decision"
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        form["csrf_token"] = csrf_token(client.get("/login").data)
        response = client.post("/login", data={**form, "next": evil})
        assert response.headers["Location"] == "/", evil


def test_sign_in_ignores_a_next_that_browsers_would_read_as_another_site(client: Any) -> None:
    """Browsers drop tabs and line breaks from a URL, so "/\t/evil" means "//evil"."""
    form = {"name": "rita", "password": PASSWORD}
    for evil in ("/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "http:evil"):
        form["csrf_token"] = csrf_token(client.get("/login").data)
        response = client.post("/login", data={**form, "next": evil})
        assert response.headers["Location"] == "/", evil


def test_forms_without_a_csrf_token_are_refused(client: Any) -> None:
    response = client.post("/login", data={"name": "rita", "password": PASSWORD})
    assert response.status_code == 400
    assert b"Form expired" in response.data
    assert client.get("/queue").status_code == 302  # not signed in
    sign_in(client)
    assert client.post("/logout").status_code == 400  # sign-out is a form too
    assert client.get("/queue").status_code == 200
    forged = client.post("/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 400


def test_a_token_from_another_session_is_refused(runtime: Runtime, client: Any) -> None:
    other = web_app(runtime).test_client()
    foreign = csrf_token(other.get("/login").data)
    response = client.post(
        "/login", data={"name": "rita", "password": PASSWORD, "csrf_token": foreign}
    )
    assert response.status_code == 400


def test_sign_out_ends_the_session(client: Any) -> None:
    token = sign_in(client)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/queue").status_code == 302


def test_a_new_password_ends_the_reps_sessions(client: Any, runtime: Runtime) -> None:
    sign_in(client)
    with runtime.sessions.begin() as session:
        set_password(session, "rita", "another long password", at=runtime.clock.now())
    assert client.get("/queue").status_code == 302
    sign_in(client, password="another long password")
    assert client.get("/queue").status_code == 200


def test_the_session_cookie_is_http_only_and_same_site(client: Any) -> None:
    token = csrf_token(client.get("/login").data)
    response = client.post(
        "/login", data={"name": "rita", "password": PASSWORD, "csrf_token": token}
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("outreach_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # served over plain http in this test


def test_the_session_cookie_is_secure_behind_https(
    project: Path, sqlite_url: str, clock: Any, stub_broker: Any
) -> None:
    settings = make_settings(project, sqlite_url, public_url="https://outreach.example.com")
    runtime = Runtime.from_settings(settings, clock)
    try:
        add_test_rep(runtime)
        client = web_app(runtime).test_client()
        token = csrf_token(client.get("/login", base_url="https://localhost").data)
        response = client.post(
            "/login",
            data={"name": "rita", "password": PASSWORD, "csrf_token": token},
            base_url="https://localhost",
            headers={"Referer": "https://localhost/login"},
        )
        assert response.status_code == 302
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        runtime.close()


def test_sign_in_attempts_are_rate_limited(client: Any) -> None:
    token = csrf_token(client.get("/login").data)
    statuses = [
        client.post(
            "/login", data={"name": "rita", "password": "guess number x", "csrf_token": token}
        ).status_code
        for _ in range(11)
    ]
    assert statuses == [401] * 10 + [429]
    assert client.get("/login").status_code == 200  # the page itself is not limited
    response = client.post(
        "/login", data={"name": "rita", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 429  # even the right password waits out the minute


def test_passwords_are_stored_as_hashes(runtime: Runtime) -> None:
    add_test_rep(runtime, "sam")
    with runtime.sessions() as session:
        stored = session.scalar(select(Rep.password_hash).where(Rep.name == "sam"))
    assert stored is not None
    assert PASSWORD not in stored
    assert stored.startswith("scrypt:")


def test_reps_commands(project: Path, sqlite_url: str) -> None:
    invoke = make_invoke(project, sqlite_url)
    try:
        added = invoke("reps", "add", "Rita", "--password-stdin", input=PASSWORD + "\n")
        assert added.exit_code == 0, added.output
        assert "rep 'rita' added" in added.output
        again = invoke("reps", "add", "rita", "--password-stdin", input=PASSWORD + "\n")
        assert again.exit_code == 1
        assert "exists already" in again.output
        short = invoke("reps", "add", "sam", "--password-stdin", input="short\n")
        assert short.exit_code == 1
        assert "at least 10 characters" in short.output
        bad = invoke("reps", "add", "sam smith", "--password-stdin", input=PASSWORD + "\n")
        assert bad.exit_code == 1
        assert "not usable" in bad.output
        listed = invoke("reps", "list", "--json")
        assert [row["name"] for row in json.loads(listed.output)] == ["rita"]
        changed = invoke("reps", "passwd", "rita", "--password-stdin", input="new password 123\n")
        assert changed.exit_code == 0, changed.output
        missing = invoke("reps", "passwd", "nobody", "--password-stdin", input=PASSWORD + "\n")
        assert missing.exit_code == 1
        assert "No rep 'nobody'" in missing.output
        removed = invoke("reps", "remove", "rita")
        assert removed.exit_code == 0
        assert "removed" in removed.output
        assert json.loads(invoke("reps", "list", "--json").output) == []
    finally:
        reset_cli_runtime()


@pytest.mark.redis
def test_sign_in_limits_are_shared_by_every_web_process_through_redis(
    project: Path, sqlite_url: str, clock: Any, stub_broker: Any, redis_namespace: str
) -> None:
    from tests.conftest import REDIS_URL

    settings = make_settings(
        project, sqlite_url, redis_url=REDIS_URL, redis_namespace=redis_namespace
    )
    runtime = Runtime.from_settings(settings, clock)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        add_test_rep(runtime)
        first, second = web_app(runtime).test_client(), web_app(runtime).test_client()

        def guess(web: Any) -> int:
            token = csrf_token(web.get("/login").data)
            form = {"name": "rita", "password": "guess number x", "csrf_token": token}
            return int(web.post("/login", data=form).status_code)

        statuses = [guess(first) for _ in range(6)] + [guess(second) for _ in range(5)]
        assert statuses == [401] * 10 + [429]
        keys = list(client.scan_iter(f"*{redis_namespace}:web-limits*"))
        assert keys  # the counts live in Redis, not in either app
    finally:
        for key in client.scan_iter(f"*{redis_namespace}:web-limits*"):
            client.delete(key)
        runtime.close()
