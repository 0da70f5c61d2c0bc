"""Data-protection requests: export everything held about a person, erase it, and the
retention of raw inbound mail."""

from __future__ import annotations

from worker.privacy.erase import ErasureReport, address_of, erase
from worker.privacy.export import export
from worker.privacy.holdings import Holdings, find, lead_tables
from worker.privacy.retention import purge_raw

__all__ = [
    "ErasureReport",
    "Holdings",
    "address_of",
    "erase",
    "export",
    "find",
    "lead_tables",
    "purge_raw",
]
