"""What the project's optional YAML settings files (``scoring.yaml``, ``integrations.yaml``)
share: reading one as a mapping with its lines, turning pydantic's errors into
``path:line: message`` problems, and keeping what was read while the file is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from worker.authoring.problems import Problem
from worker.authoring.yaml_source import Loc, YamlSyntaxError, line_for, load_with_lines
from worker.errors import did_you_mean

T = TypeVar("T")


def read_mapping(
    path: Path, shown: str, not_a_mapping: str
) -> tuple[dict[str, Any], dict[Loc, int]] | Problem:
    """The file's mapping (an empty file: an empty one) and the line of every key path, or
    the one problem that stops it being read (``not_a_mapping`` when it is a list or a
    scalar)."""
    try:
        data, lines = load_with_lines(path)
    except YamlSyntaxError as exc:
        return Problem(shown, exc.line, exc.message)
    except (OSError, UnicodeDecodeError) as exc:
        return Problem(shown, 1, f"cannot read file: {exc}")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return Problem(shown, 1, not_a_mapping)
    return data, lines


def field_problem(
    shown: str,
    lines: Mapping[Loc, int],
    error: Any,
    known: Mapping[tuple[str, ...], list[str]],
) -> Problem:
    """One pydantic error as a problem on its line: an unknown key with "did you mean" (or
    the keys ``known`` allows there), a missing key on its parent's line, else the message
    with the key path. Loc parts pydantic adds for a union's branch are left out."""
    loc: Loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
    where = ".".join(str(part) for part in loc)
    if error["type"] == "extra_forbidden":
        allowed = known.get(tuple(str(p) for p in loc[:-1] if not isinstance(p, int)), [])
        hint = did_you_mean(str(loc[-1]), set(allowed)) or f" (allowed: {', '.join(allowed)})"
        return Problem(shown, line_for(dict(lines), loc), f"unknown key {where!r}{hint}")
    if error["type"] == "missing":
        within = ".".join(str(part) for part in loc[:-1]) or "the file"
        return Problem(
            shown,
            line_for(dict(lines), loc[:-1]),
            f"missing required key {str(loc[-1])!r} in {within}",
        )
    message = str(error["msg"]).removeprefix("Value error, ")
    return Problem(shown, line_for(dict(lines), loc), f"{where}: {message}" if where else message)


class ReadWhileUnchanged(Generic[T]):
    """What ``read(home)`` made of a project's file (at ``path_of(home)``), kept while the
    file's modification time and size stay the same: one ``stat`` per call, so a loop may ask
    every pass and an edited file takes effect at the next. ``missing`` without a file."""

    def __init__(self, path_of: Callable[[Path], Path], read: Callable[[Path], T], missing: T):
        self._path_of, self._read, self._missing = path_of, read, missing
        self._lock = threading.Lock()
        self._found: dict[Path, tuple[tuple[int, int], T]] = {}

    def get(self, home: Path) -> T:
        path = self._path_of(home)
        try:
            stat = path.stat()
        except OSError:
            return self._missing
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._found.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        value = self._read(home)
        with self._lock:
            self._found[path] = (key, value)
        return value


__all__ = ["ReadWhileUnchanged", "field_problem", "read_mapping"]
