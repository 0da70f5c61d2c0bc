"""``outreach preview --open``: the rendered email written to files a browser can show.

Files go to a new folder under the system's temporary directory and their paths are printed.
A browser is started only where there is a display to show it on; on a server (no
``DISPLAY``) nothing is launched and the paths are all there is.
"""

from __future__ import annotations

import os
import sys
import tempfile
import webbrowser
from pathlib import Path

from worker.transports.message import BuiltMessage

HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "List-Unsubscribe",
)


def preview_folder() -> Path:
    """A new, private folder for this preview's files."""
    return Path(tempfile.mkdtemp(prefix="outreach-preview-"))


def text_of(built: BuiltMessage) -> str:
    """The headers a reader sees, a blank line, and the text part."""
    message = built.message
    lines = [f"{name}: {message[name]}" for name in HEADERS if message[name]]
    body = message.get_body(preferencelist=("plain",))
    return "\n".join(lines) + "\n\n" + (body.get_content() if body is not None else "")


def html_of(built: BuiltMessage) -> str | None:
    """The HTML part, decoded (None for a text-only email)."""
    part = built.message.get_body(preferencelist=("html",))
    return None if part is None else str(part.get_content())


def write_files(folder: Path, stem: str, built: BuiltMessage) -> list[Path]:
    """``<stem>.txt`` (headers and text) and, when the email has one, ``<stem>.html``."""
    written = []
    html = html_of(built)
    if html is not None:
        page = folder / f"{stem}.html"
        page.write_text(html, encoding="utf-8")
        written.append(page)
    text = folder / f"{stem}.txt"
    text.write_text(text_of(built), encoding="utf-8")
    written.append(text)
    return written


def has_display() -> bool:
    """Whether a browser started now would have a screen to show on."""
    if sys.platform == "darwin" or os.name == "nt":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_in_browser(path: Path) -> bool:
    """Show ``path`` in the user's browser when there is a display; True when started."""
    if not has_display():
        return False
    try:
        return bool(webbrowser.open(path.resolve().as_uri()))
    except webbrowser.Error:
        return False


__all__ = ["has_display", "html_of", "open_in_browser", "preview_folder", "text_of", "write_files"]
