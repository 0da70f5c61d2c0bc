"""HTML mail to plain text, with quoted history marked the way plain-text clients mark it.

Content of ``<blockquote>`` and Gmail's ``gmail_quote`` becomes ``> `` lines; Outlook's
``divRplyFwdMsg`` / ``appendonsend`` (everything after them is the quoted thread) starts with an
``-----Original Message-----`` line; Gmail's ``gmail_signature`` starts with ``-- ``. The quote
stripper then treats HTML and plain-text mail alike.
"""

from __future__ import annotations

import contextlib
import re
from html.parser import HTMLParser

SKIPPED = frozenset({"style", "script", "head", "title", "template", "noscript", "svg"})
BLOCKS = frozenset(
    {
        "p", "div", "blockquote", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4",
        "h5", "h6", "pre", "hr", "section", "article", "header", "footer", "dd", "dt", "center",
    }
)  # fmt: skip
VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"})
QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix")
THREAD_IDS = ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container")
THREAD_MARKER = "-----Original Message-----"
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")


class _Converter(HTMLParser):
    """Collect text lines; remember which ones sit inside quoted history."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._line_quoted = False
        self._skip = 0
        self._pre = 0
        self._stack: list[tuple[str, bool]] = []  # (tag, opened a quote)
        self._quote = 0

    def _newline(self) -> None:
        text = "".join(self._line).strip()
        prefix = "> " if self._line_quoted else ""
        self.lines.append(prefix + text if text else "")
        self._line = []
        self._line_quoted = False

    def _emit_line(self, text: str) -> None:
        if self._line:
            self._newline()
        self.lines.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self._skip += tag not in VOID
            return
        if tag == "br":
            self._newline()
            return
        if tag in BLOCKS and self._line:
            self._newline()
        if tag in VOID:
            return
        values = {name: (value or "") for name, value in attrs}
        classes = values.get("class", "").lower()
        ident = values.get("id", "").lower()
        quotes = tag == "blockquote" or any(name in classes for name in QUOTE_CLASSES)
        if any(ident.startswith(name) for name in THREAD_IDS) and not self._quote:
            self._emit_line(THREAD_MARKER)
        if "gmail_signature" in classes and not self._quote:
            self._emit_line("-- ")
        if tag == "pre":
            self._pre += 1
        self._quote += quotes
        self._stack.append((tag, quotes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and tag not in SKIPPED:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self._skip = max(0, self._skip - 1)
            return
        if tag in VOID:
            return
        if any(open_tag == tag for open_tag, _ in self._stack):
            self._close(tag)
        if tag in BLOCKS:
            self._newline()

    def _close(self, tag: str) -> None:
        while self._stack:  # close up to the matching tag (tolerates sloppy HTML)
            open_tag, quotes = self._stack.pop()
            self._quote -= quotes
            if open_tag == "pre":
                self._pre = max(0, self._pre - 1)
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            pieces = data.split("\n")
            for index, piece in enumerate(pieces):
                if index:
                    self._newline()
                self._add(piece)
            return
        self._add(_SPACES.sub(" ", data))

    def _add(self, text: str) -> None:
        if not text:
            return
        if not self._line and not text.strip():
            return
        self._line.append(text)
        if self._quote and text.strip():
            self._line_quoted = True

    def text(self) -> str:
        if self._line:
            self._newline()
        return re.sub(r"\n{3,}", "\n\n", "\n".join(self.lines)).strip()


def html_to_text(html: str) -> str:
    """Readable text of an HTML body; never raises (broken markup gives what could be read)."""
    converter = _Converter()
    with contextlib.suppress(Exception):  # html.parser is lenient; the rest is dropped
        converter.feed(html)
        converter.close()
    return converter.text()
