"""Rewrite the links of a rendered email to signed ``/c/TOKEN`` redirects, and add the open
pixel: pure functions of the email's text, its HTML and the touch.

Links are the ``http(s)`` URLs of the text part and the ``href`` of every ``<a>``/``<area>``
of the HTML part. The same URL gets the same number (``link``) in both parts, in the order of
first appearance, text first, so "every link of the email" means every distinct URL. Never
rewritten: the unsubscribe link (and anything else under the app's own ``/u/``, ``/c/``,
``/o/``), ``mailto:`` and any other scheme, and URLs that ``safe_url`` refuses.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from worker.authoring.templates import RenderedEmail
from worker.tracking.tokens import click_token, open_token, safe_url

# A URL in plain text ends at whitespace, an angle bracket or a quote; punctuation that ends
# the sentence around it is trimmed (``see https://x.test/a.`` links to ``/a``).
_TEXT_URL = re.compile(r"""https?://[^\s<>"'\[\]{}|\\^`]+""", re.IGNORECASE)
_TRAILING = ".,;:!?*_~"
_ANCHOR = re.compile(r"<(?:a|area)\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(r"""(\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Tracking:
    """What one touch's email is tracked with."""

    secret: bytes
    public_url: str  # the web app's address, without a trailing slash
    touch_id: int
    unsubscribe_url: str
    clicks: bool = True
    opens: bool = False


def track_email(rendered: RenderedEmail, tracking: Tracking) -> RenderedEmail:
    """The email with its links rewritten (``clicks``) and, in HTML, the pixel (``opens``)."""
    text, html = rendered.text, rendered.html
    if tracking.clicks:
        text, html = rewrite_links(text, html, tracking)
    if tracking.opens and html is not None:
        html = add_pixel(html, tracking)
    return replace(rendered, text=text, html=html)


def rewrite_links(text: str, html: str | None, tracking: Tracking) -> tuple[str, str | None]:
    """The text and HTML with every trackable link replaced by its ``/c/TOKEN`` URL."""
    order: dict[str, int] = {}
    for url in _text_urls(text):
        if _trackable(url, tracking):
            order.setdefault(url, len(order))
    if html is not None:
        for url in _html_urls(html):
            if _trackable(url, tracking):
                order.setdefault(url, len(order))
    if not order:
        return text, html
    base, links = f"{tracking.public_url}/c/", len(order)

    def tracked(url: str) -> str | None:
        link = order.get(url)
        if link is None:
            return None
        return base + click_token(tracking.secret, tracking.touch_id, link, links, url)

    return _rewrite_text(text, tracked), None if html is None else _rewrite_html(html, tracked)


def add_pixel(html: str, tracking: Tracking) -> str:
    """``html`` with a 1x1 image of ``/o/TOKEN`` before ``</body>`` (at the end without one)."""
    src = f"{tracking.public_url}/o/{open_token(tracking.secret, tracking.touch_id)}"
    pixel = (
        f'<img src="{html_lib.escape(src)}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px;">'
    )
    ends = list(_BODY_END.finditer(html))
    if not ends:
        return html + pixel
    at = ends[-1].start()
    return html[:at] + pixel + "\n" + html[at:]


def _trackable(url: str, tracking: Tracking) -> bool:
    if url == tracking.unsubscribe_url or not safe_url(url):
        return False
    own = tracking.public_url.lower()
    lowered = url.lower()
    return not any(lowered.startswith(f"{own}{path}") for path in ("/u/", "/c/", "/o/"))


def _trimmed(url: str) -> str:
    """A URL found in text without the sentence's punctuation after it (and a closing
    parenthesis when the URL opens none, as in ``(see https://x.test/a)``)."""
    while url:
        if url[-1] in _TRAILING or (url[-1] == ")" and url.count("(") < url.count(")")):
            url = url[:-1]
            continue
        break
    return url


def _text_urls(text: str) -> list[str]:
    return [_trimmed(match.group(0)) for match in _TEXT_URL.finditer(text)]


def _html_urls(html: str) -> list[str]:
    found = []
    for tag in _ANCHOR.finditer(html):
        for href in _HREF.finditer(tag.group(0)):
            found.append(html_lib.unescape(_href_value(href)).strip())
    return found


def _href_value(match: re.Match[str]) -> str:
    return match.group(2) if match.group(2) is not None else match.group(3)


def _rewrite_text(text: str, tracked: Callable[[str], str | None]) -> str:
    def one(match: re.Match[str]) -> str:
        whole = match.group(0)
        url = _trimmed(whole)
        new = tracked(url)
        return whole if new is None else new + whole[len(url) :]

    return _TEXT_URL.sub(one, text)


def _rewrite_html(html: str, tracked: Callable[[str], str | None]) -> str:
    def href(match: re.Match[str]) -> str:
        new = tracked(html_lib.unescape(_href_value(match)).strip())
        return match.group(0) if new is None else f'{match.group(1)}"{html_lib.escape(new)}"'

    def tag(match: re.Match[str]) -> str:
        return _HREF.sub(href, match.group(0))

    return _ANCHOR.sub(tag, html)


__all__ = ["Tracking", "add_pixel", "rewrite_links", "track_email"]
