"""Take the README's screenshots: the review queue, the pipeline board and the funnel report.

Runs the demo (simulated weeks on the embedded default) into a temporary folder, adds a rep,
serves the web app on a free loopback port and photographs the pages in headless Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

from worker.clock import VirtualClock
from worker.rehearsal.demo import run_demo
from worker.review.reps import add_rep
from worker.runtime import Runtime, set_runtime
from worker.settings import Settings
from worker.web import create_app, make_server, stop_server

REPO = Path(__file__).resolve().parent.parent
PASSWORD = secrets.token_urlsafe(16)  # this run only
PAGES = (
    ("queue", "/queue"),
    ("board", "/board"),
    ("funnel", "/reports#funnel"),
    ("timeline", "/leads?q=ada%40northwind.test"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_demo(Settings.from_env(home=REPO), folder=Path(tmp) / "demo", weeks=4)
        settings = Settings.from_env(home=REPO).with_changes(
            database_url=result.database_url, redis_url=None
        )
        # The pages' clock stands where the simulated weeks ended, so ages read as in use.
        runtime = Runtime.from_settings(settings, VirtualClock(result.days[-1].when))
        set_runtime(runtime)
        with runtime.sessions.begin() as session:
            add_rep(session, "rita", PASSWORD, at=runtime.clock.now())
        server = make_server(create_app(runtime), "127.0.0.1", 0)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.effective_port}"
        try:
            _photograph(base, args.out, args.chromium)
        finally:
            stop_server(server)
            thread.join(10)
            runtime.close()


def _photograph(base: str, out: Path, chromium: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1360, "height": 900}, color_scheme="light")
        page.goto(f"{base}/login")
        page.fill("#name", "rita")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        for name, path in PAGES:
            page.goto(base + path)
            if name == "timeline":  # the lead's own page, from the search result
                page.get_by_role("link", name="ada@northwind.test").first.click()
            page.wait_for_load_state("networkidle")
            target = out / f"{name}.png"
            if "#" in path:
                page.locator("#" + path.split("#", 1)[1]).scroll_into_view_if_needed()
                page.screenshot(path=str(target))
            else:
                page.screenshot(path=str(target), full_page=True)
            print(f"wrote {target}")
        browser.close()


if __name__ == "__main__":
    main()
