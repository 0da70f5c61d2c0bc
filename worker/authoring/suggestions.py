"""Did you mean …? A mistyped name in authored YAML answered with the closest valid one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

_CUTOFF = 0.6


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like ``word`` (case-insensitive), or None when none is close."""
    options = sorted({str(choice) for choice in choices})  # StrEnum members as their text
    lowered = {option.lower(): option for option in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=_CUTOFF)
    return lowered[found[0]] if found else None


def suggestion(word: str, choices: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` for the closest choice, or an empty string."""
    found = closest(word, choices)
    return f" — did you mean {found!r}?" if found else ""


def not_one_of(what: str, value: object, choices: Iterable[str]) -> str:
    """ "<what> 'x' is not one of a, b, c — did you mean 'b'?" for an unknown value."""
    options = list(dict.fromkeys(str(choice) for choice in choices))
    hint = suggestion(str(value), options) if isinstance(value, str) else ""
    return f"{what} {value!r} is not one of: {', '.join(options)}{hint}"


__all__ = ["closest", "not_one_of", "suggestion"]
