"""Outreach automation worker: multi-touch email sequences sent exactly once."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
