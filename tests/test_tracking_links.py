"""Tracked links at render time: signed tokens that cannot be forged or pointed elsewhere,
links rewritten in text and HTML (never unsubscribe or mailto), the open pixel in HTML only,
and an email of a sequence without tracking byte-identical to what it was before."""

from __future__ import annotations

import base64
import html
import random
from pathlib import Path
from typing import Any

import pytest
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
from worker.authoring.templates import RenderedEmail
from worker.delivery import claiming, rendering
from worker.runtime import Runtime
from worker.store.models import Enrollment, Lead, Touch
from worker.tracking import links as links_module
from worker.tracking.links import Tracking, track_email
from worker.tracking.tokens import (
    click_token,
    open_token,
    read_click_token,
    read_open_token,
    safe_url,
)

SECRET = b"test-secret"
BASE = "https://out.example.test"
UNSUBSCRIBE = f"{BASE}/u/7.{'a' * 32}"
TRACKING = Tracking(secret=SECRET, public_url=BASE, touch_id=42, unsubscribe_url=UNSUBSCRIBE)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# --- tokens -----------------------------------------------------------------------------


def test_a_click_token_reads_back_as_its_touch_link_and_url() -> None:
    token = click_token(SECRET, 42, 1, 2, PRICING)
    link = read_click_token(SECRET, token)
    assert link is not None
    assert (link.touch_id, link.link, link.links, link.url) == (42, 1, 2, PRICING)


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
        lambda t: "43" + t[2:],  # another touch
        lambda t: t.replace(".1.2.", ".0.2.", 1),  # another link
        lambda t: t.replace(_b64(PRICING), _b64("https://evil.example/phish")),  # foreign URL
        lambda t: t.split(".", 1)[1],  # a part missing
        lambda t: t + ".x",  # a part too many
        lambda t: "",
        lambda t: "x" * 5000,
    ],
)
def test_a_forged_or_altered_click_token_is_refused(forge: Any) -> None:
    assert read_click_token(SECRET, forge(click_token(SECRET, 42, 1, 2, PRICING))) is None


def test_a_token_signed_with_another_secret_is_refused() -> None:
    assert read_click_token(SECRET, click_token(b"other", 42, 0, 1, PRICING)) is None
    assert read_open_token(SECRET, open_token(b"other", 42)) is None
    assert read_open_token(SECRET, open_token(SECRET, 42)) == 42


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/",
        "https:///no-host",
        "https://evil.example/\\@good.example",
        "https://good.example/a b",
        "ftp://files.example/x",
        "mailto:a@b.example",
    ],
)
def test_only_http_urls_with_a_host_are_ever_redirected_to_even_when_signed(url: str) -> None:
    assert not safe_url(url)
    assert read_click_token(SECRET, click_token(SECRET, 1, 0, 1, url)) is None


# --- rewriting --------------------------------------------------------------------------


def test_links_are_rewritten_in_text_and_html_with_one_number_per_url() -> None:
    rendered = RenderedEmail(
        subject="s",
        text=f"Prices: {PRICING}.\n(see {GUIDE})\nAgain {PRICING}\nStop: {UNSUBSCRIBE}\n",
        html=(
            f'<p><a href="{html.escape(PRICING)}">prices</a> '
            f"<a class='x' href='{GUIDE}'>guide</a> "
            '<a href="mailto:sales@example.test">mail</a> '
            f'<a href="{UNSUBSCRIBE}">Unsubscribe</a></p>'
        ),
    )
    tracked = track_email(rendered, TRACKING)
    text_links = TRACKED_LINK.findall(tracked.text)
    assert len(text_links) == 3
    assert tracked.text.endswith(f"Stop: {UNSUBSCRIBE}\n")  # never the unsubscribe link
    assert f"Prices: {text_links[0]}.\n(see {text_links[1]})\n" in tracked.text
    assert tracked.html is not None
    html_links = [html.unescape(u) for u in TRACKED_LINK.findall(tracked.html)]
    assert html_links == text_links[:2]  # the same URL, the same token in both parts
    assert 'href="mailto:sales@example.test"' in tracked.html
    assert f'href="{UNSUBSCRIBE}"' in tracked.html
    found = [read_click_token(SECRET, u.rsplit("/c/", 1)[1]) for u in text_links]
    assert [(f.link, f.links, f.url) for f in found if f] == [
        (0, 2, PRICING),
        (1, 2, GUIDE),
        (0, 2, PRICING),
    ]


def test_an_email_without_links_is_left_as_it_is_and_the_pixel_goes_in_html_only() -> None:
    rendered = RenderedEmail(subject="s", text="No links.\n", html=None)
    both = Tracking(
        secret=SECRET, public_url=BASE, touch_id=9, unsubscribe_url=UNSUBSCRIBE, opens=True
    )
    assert track_email(rendered, both) == rendered
    with_html = RenderedEmail(subject="s", text="t\n", html="<html><body><p>x</p></body></html>")
    tracked = track_email(with_html, both)
    assert tracked.html is not None
    [pixel] = PIXEL.findall(tracked.html)
    assert read_open_token(SECRET, pixel.rsplit("/o/", 1)[1]) == 9
    assert tracked.html.index(pixel) < tracked.html.index("</body>")
    assert tracked.text == "t\n"


# --- the email as sent ------------------------------------------------------------------


@pytest.fixture
def tracked_project(project: Path) -> Path:
    add_tracked_sequence(project, clicks=True, opens=True)
    return project


def test_a_sent_email_of_a_tracking_sequence_has_its_links_rewritten(
    tracked_project: Path, runtime: Runtime
) -> None:
    touch = send_first_email(runtime, tracked_project)
    text, body = parts(sent_email(tracked_project))
    assert PRICING not in text
    assert GUIDE not in text
    assert runtime.unsubscribe_url(touch.lead_id) in text
    assert "mailto:sales@northwind-analytics.example" in text
    links = TRACKED_LINK.findall(text)
    assert len(links) == 2
    assert all(u.startswith(runtime.settings.public_url + "/c/") for u in links)
    for url, original in zip(links, (PRICING, GUIDE), strict=True):
        found = read_click_token(runtime.secret, url.rsplit("/c/", 1)[1])
        assert found is not None
        assert (found.touch_id, found.url) == (touch.id, original)
    assert body is not None
    assert len(PIXEL.findall(body)) == 1
    assert sorted(html.unescape(u) for u in TRACKED_LINK.findall(body)) == sorted(links)
    # The timeline keeps the links as written: a rep reading it never clicks as the lead.
    with runtime.sessions() as session:
        stored = session.scalar(select(Touch.body_text).where(Touch.id == touch.id))
    assert stored is not None
    assert PRICING in stored
    assert "/c/" not in stored


def test_an_email_of_a_sequence_without_tracking_is_byte_identical_to_before(
    project: Path, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_tracked_sequence(project, clicks=False, opens=False)

    def no_tracking(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("tracking must cost nothing when it is off")

    monkeypatch.setattr(claiming, "track_email", no_tracking)
    monkeypatch.setattr(links_module, "track_email", no_tracking)
    monkeypatch.setattr(rendering, "new_message_id", lambda domain: f"<fixed@{domain}>")
    touch = send_first_email(runtime, project)
    text, _ = parts(sent_email(project))
    assert PRICING in text
    assert "/c/" not in text
    with runtime.sessions() as session:
        row = session.get(Touch, touch.id)
        lead = session.get(Lead, touch.lead_id)
        enrollment = session.get(Enrollment, touch.enrollment_id)
        assert row is not None
        assert lead is not None
        assert enrollment is not None
        now = runtime.clock.now()
        random.seed(15)  # the same MIME boundary for both
        prepared = claiming._prepare(runtime, touch.id, row, lead, enrollment, now)
        spec = runtime.versions.spec(row.sequence, row.version)
        url = runtime.unsubscribe_url(lead.id)
        mailbox = runtime.mailboxes.get(spec.mailbox)
        random.seed(15)
        before = rendering.build_message(
            rendering.render_touch(runtime.renderer, lead, mailbox, spec, 0, url),
            lead=lead,
            mailbox=mailbox,
            enrollment=enrollment,
            same_thread=False,
            sent_at=now,
            unsubscribe_url=url,
        )
    assert prepared.built.data == before.data
    assert prepared.built.text == before.text
