"""Reading a user's CSV file: the header, then every row with the line it starts on.

A row that cannot be read (a broken quote, bytes that are not UTF-8) becomes a ``RowError``
for that row alone; the rows after it are still read, so nothing is silently lost. What makes
the whole file unusable (cannot open, empty, unreadable header) raises the caller's error.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

NOT_UTF8 = "not UTF-8 text — save the file as 'CSV UTF-8' and import it again"
_UNDECODABLE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class RowError:
    """A row that was skipped, printable as ``FILE.csv:ROW: message``."""

    file: str
    row: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: {self.message}"


def is_utf8(cells: list[str]) -> bool:
    """False when a cell holds bytes that could not be decoded (kept as lone surrogates)."""
    return _UNDECODABLE.search("".join(cells)) is None


def csv_rows(
    path: Path, error: Callable[[str], Exception], what: str, needed: str
) -> Iterator[tuple[int, list[str] | RowError]]:
    """Yield ``(1, header)`` first, then ``(line, cells or RowError)`` for every non-blank row.

    ``error`` builds the exception for a file that cannot be used; ``what`` names the file in
    it ("the leads file") and ``needed`` the column the header must have.
    """
    shown = path.name
    try:
        handle = path.open(newline="", encoding="utf-8-sig", errors="surrogateescape")
    except OSError as exc:
        raise error(f"{path}: cannot open {what} ({exc.strerror}).") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise error(
                f"{shown}:1: the file is empty — it needs a header row with '{needed}'."
            ) from None
        except csv.Error as exc:
            raise error(f"{shown}:1: cannot read the header: {exc}") from None
        if not is_utf8(header):
            raise error(f"{shown}:1: {NOT_UTF8}")
        yield 1, header
        while True:
            line = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield line, RowError(shown, line, f"unreadable row: {exc}")
                continue
            if not "".join(cells).strip():
                continue
            yield line, cells if is_utf8(cells) else RowError(shown, line, NOT_UTF8)
