"""Headless Chromium (Debian's package, driven by Playwright) against the app on waitress."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from worker.runtime import Runtime
from worker.web import create_app, make_server, stop_server

CHROMIUM = Path(os.environ.get("OUTREACH_CHROMIUM", "/usr/bin/chromium"))


@contextmanager
def live_server(runtime: Runtime) -> Iterator[str]:
    """The real app served by waitress on a free loopback port; yields its base URL."""
    server = make_server(create_app(runtime), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, name="web", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop_server(server)
        thread.join(10)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser; fails (never skips) when it is not installed."""
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing — run 'make test' (scripts/services.sh installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
