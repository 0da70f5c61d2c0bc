"""The ``outreach`` command line: parse, call a service, print (tables or --json)."""

from __future__ import annotations

from . import authoring, leads, replies, running, understanding  # noqa: F401  (register the commands)
from .root import main

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    main()
