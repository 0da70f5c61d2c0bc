"""``/c/TOKEN`` and ``/o/TOKEN`` through the real web app: forged tokens and foreign URLs are
a 404 and never a redirect; scanners' clicks (their user agents, HEAD, seconds after sending,
every link at once) are recorded as not counted, a person's click counts and marks the lead
for scoring; opens are recorded as unreliable."""

from __future__ import annotations

import base64
import html
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.tracking_support import (
    GUIDE,
    PIXEL,
    PRICING,
    TRACKED_LINK,
    add_tracked_sequence,
    parts,
    send_first_email,
    sent_email,
)
from tests.web_support import web_app
from worker.clock import VirtualClock
from worker.runtime import Runtime
from worker.store.models import Click, Event, ScoreMark, Touch
from worker.tracking.tokens import click_token

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture
def sent(project: Path, runtime: Runtime) -> tuple[Touch, list[str], str]:
    """Ada's tracked email, sent: its touch, its two tracked links, its pixel's path."""
    add_tracked_sequence(project, clicks=True, opens=True)
    touch = send_first_email(runtime, project)
    text, body = parts(sent_email(project))
    links = TRACKED_LINK.findall(text)
    assert body is not None
    [pixel] = PIXEL.findall(html.unescape(body))
    base = runtime.settings.public_url
    return touch, [u.removeprefix(base) for u in links], pixel.removeprefix(base)


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return web_app(runtime).test_client()


def _clicks(runtime: Runtime) -> list[tuple[int, str, bool, str | None]]:
    with runtime.sessions() as session:
        rows = session.scalars(select(Click).order_by(Click.id))
        return [(c.link, c.method, c.counted, c.verdict) for c in rows]


def _events(runtime: Runtime, kind: str) -> list[Event]:
    with runtime.sessions() as session:
        found = list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))
        session.expunge_all()
        return found


def _marked(runtime: Runtime, lead_id: int) -> bool:
    with runtime.sessions() as session:
        return session.get(ScoreMark, lead_id) is not None


def _clear_marks(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        session.query(ScoreMark).delete()


def _get(client: FlaskClient, path: str, agent: str = CHROME, method: str = "GET") -> Any:
    return client.open(path, method=method, headers={"User-Agent": agent})


def test_a_persons_click_redirects_to_the_url_counts_and_marks_the_lead(
    sent: Any, runtime: Runtime, clock: VirtualClock, client: FlaskClient
) -> None:
    touch, links, _ = sent
    _clear_marks(runtime)
    clock.advance(timedelta(minutes=3))
    response = _get(client, links[0])
    assert response.status_code == 302
    assert response.headers["Location"] == PRICING
    assert "no-store" in response.headers["Cache-Control"]
    assert _clicks(runtime) == [(0, "GET", True, None)]
    [event] = _events(runtime, "link_clicked")
    assert (event.lead_id, event.touch_id, event.sequence) == (touch.lead_id, touch.id, "tracked")
    assert event.detail["url"] == PRICING
    assert event.detail["link"] == 0
    assert event.detail["counted"] is True
    assert event.detail["verdict"] is None
    assert _marked(runtime, touch.lead_id)


@pytest.mark.parametrize(
    "path",
    [
        "/c/",
        "/c/nonsense",
        "/c/1.0.1.aHR0cHM6Ly9ldmlsLmV4YW1wbGUv.AAAAAAAAAAAAAAAAAAAAAA",
        "/c/" + click_token(b"not-the-secret", 1, 0, 1, "https://evil.example/"),
    ],
)
def test_a_forged_token_is_a_404_page_and_never_a_redirect(
    sent: Any, runtime: Runtime, client: FlaskClient, path: str
) -> None:
    response = _get(client, path)
    assert response.status_code == 404
    assert "Location" not in response.headers
    assert "not valid" in response.get_data(as_text=True)
    assert _clicks(runtime) == []


def test_a_token_with_a_foreign_url_put_in_is_refused(
    sent: Any, runtime: Runtime, client: FlaskClient
) -> None:
    _, links, _ = sent
    original = base64.urlsafe_b64encode(PRICING.encode()).decode().rstrip("=")
    evil = base64.urlsafe_b64encode(b"https://evil.example/login").decode().rstrip("=")
    assert original in links[0]
    response = _get(client, links[0].replace(original, evil))
    assert response.status_code == 404
    assert "Location" not in response.headers
    script = "/c/" + click_token(runtime.secret, 1, 0, 1, "javascript:alert(document.cookie)")
    assert _get(client, script).status_code == 404  # signed, still never a redirect
    assert _clicks(runtime) == []


@pytest.mark.parametrize(
    ("agent", "verdict"),
    [
        ("Mozilla/5.0 (compatible; Barracuda Sentinel)", "scanner:barracuda"),
        ("Mozilla/4.0 (compatible; ms-office; MSOffice 16)", "scanner:microsoft-office-discovery"),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "scanner:slackbot"),
        ("python-requests/2.32.3", "scanner:python-requests"),
        ("curl/8.5.0", "scanner:curl"),
        ("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0", "scanner:headless-chrome"),
        ("", "scanner:no-user-agent"),
    ],
)
def test_a_scanners_click_is_redirected_and_recorded_as_not_counted(
    sent: Any, runtime: Runtime, clock: VirtualClock, client: FlaskClient, agent: str, verdict: str
) -> None:
    _, links, _ = sent
    clock.advance(timedelta(minutes=3))
    response = _get(client, links[1], agent=agent)
    assert response.status_code == 302
    assert response.headers["Location"] == GUIDE
    assert _clicks(runtime) == [(1, "GET", False, verdict)]
    [event] = _events(runtime, "link_clicked")
    assert (event.detail["counted"], event.detail["verdict"]) == (False, verdict)


def test_a_head_request_and_a_click_seconds_after_sending_are_not_counted(
    sent: Any, runtime: Runtime, clock: VirtualClock, client: FlaskClient
) -> None:
    _, links, _ = sent
    clock.advance(timedelta(seconds=2))
    assert _get(client, links[0]).status_code == 302  # 2 s after sending: nobody reads that fast
    clock.advance(timedelta(minutes=5))
    head = _get(client, links[0], method="HEAD")
    assert head.status_code == 302
    assert head.data == b""
    assert _clicks(runtime) == [(0, "GET", False, "too_soon"), (0, "HEAD", False, "head")]


def test_every_link_clicked_at_once_is_a_scanner_and_a_later_click_counts(
    sent: Any, runtime: Runtime, clock: VirtualClock, client: FlaskClient
) -> None:
    touch, links, _ = sent
    clock.advance(timedelta(minutes=10))
    _get(client, links[0])
    assert _clicks(runtime) == [(0, "GET", True, None)]  # alone, it looks like a person
    clock.advance(timedelta(seconds=1))
    _get(client, links[1])
    # The second link a second later: both were a scanner opening every link.
    assert _clicks(runtime) == [(0, "GET", False, "every_link"), (1, "GET", False, "every_link")]
    details = [
        (e.detail["link"], e.detail["counted"], e.detail["verdict"])
        for e in _events(runtime, "link_clicked")
    ]
    assert details == [(0, False, "every_link"), (1, False, "every_link")]
    _clear_marks(runtime)
    clock.advance(timedelta(hours=2))
    _get(client, links[0])  # the person, later
    assert _clicks(runtime)[-1] == (0, "GET", True, None)
    assert _events(runtime, "link_clicked")[-1].detail["counted"] is True
    assert _marked(runtime, touch.lead_id)


def test_an_open_is_recorded_as_unreliable_and_a_forged_pixel_is_a_404(
    sent: Any, runtime: Runtime, clock: VirtualClock, client: FlaskClient
) -> None:
    touch, _, pixel = sent
    clock.advance(timedelta(minutes=1))
    response = _get(client, pixel, agent="Mozilla/5.0 (via ggpht.com GoogleImageProxy)")
    assert response.status_code == 200
    assert response.mimetype == "image/gif"
    [event] = _events(runtime, "email_opened")
    assert event.lead_id == touch.lead_id
    assert event.detail["unreliable"] is True
    assert event.detail["counted"] is False
    assert event.detail["agent"] == "scanner:gmail-image-proxy"
    assert _get(client, pixel[:-2] + "xx").status_code == 404
    assert len(_events(runtime, "email_opened")) == 1
