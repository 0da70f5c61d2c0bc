"""A tracked link in headless Chromium over real HTTP: the browser lands on the signed URL and
the click is recorded; Chromium's own headless user agent is told from a person's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.browser_support import chromium, live_server
from tests.conftest import make_settings
from tests.tracking_support import add_tracked_sequence, send_first_email
from worker.clock import VirtualClock
from worker.runtime import Runtime, set_runtime
from worker.store.models import Click
from worker.tracking.tokens import click_token

DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def test_a_tracked_link_opened_in_a_browser_lands_on_its_url_and_is_recorded(
    project: Path, sqlite_url: str, clock: VirtualClock, stub_broker: Any
) -> None:
    add_tracked_sequence(project)
    runtime = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    set_runtime(runtime)
    try:
        touch = send_first_email(runtime, project)
        clock.advance(timedelta(minutes=5))
        with live_server(runtime) as base, chromium() as browser:
            target = f"{base}/login?from=email"
            tracked = f"{base}/c/{click_token(runtime.secret, touch.id, 0, 2, target)}"
            person = browser.new_context(user_agent=DESKTOP_CHROME)
            page = person.new_page()
            page.set_default_timeout(10_000)
            page.goto(tracked)
            assert page.url == target
            headless = browser.new_page()  # Chromium's own user agent says HeadlessChrome
            headless.goto(tracked)
            assert headless.url == target
            headless.goto(f"{base}/c/{tracked.rsplit('/c/', 1)[1][:-3]}AAA")
            assert "Link not valid" in headless.content()
        with runtime.sessions() as session:
            clicks = [(c.url, c.counted, c.verdict) for c in session.scalars(select(Click))]
        assert clicks == [(target, True, None), (target, False, "scanner:headless-chrome")]
    finally:
        set_runtime(None)
        runtime.close()
