"""What validation finds: a problem at ``path:line``, and how paths are shown to authors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One finding of validation, printable as ``path:line: message``."""

    path: str
    line: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}: {prefix}{self.message}"


def display_path(path: Path, home: Path | None = None) -> str:
    """A path relative to the project home where possible."""
    if home is not None:
        try:
            return str(path.resolve().relative_to(home.resolve()))
        except ValueError:
            pass
    return str(path)


__all__ = ["Problem", "display_path"]
