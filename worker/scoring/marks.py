"""Leads whose score must be computed again: an event that can change it arrived.

Whoever records such an event (a classified reply, a click, an activity, a logged call, a
stage change, a capture) marks the lead in the same transaction; the scorer computes marked
leads (``worker.scoring.engine.score_marked``) and removes their marks. A mark is one row
per lead, so marking twice is marking once. The function lives in ``worker.store.marks`` so
that ``worker.leads`` (stage changes, captures), below this package, can mark too.
"""

from __future__ import annotations

from worker.store.marks import mark

__all__ = ["mark"]
