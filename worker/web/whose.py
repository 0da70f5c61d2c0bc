"""The "Mine / Unassigned / Everyone" switch of the review queue and the leads list.

The choice is in the URL (``?who=mine|unassigned|all``, "mine" when absent) so links keep it;
the queue's older ``rep`` filter (a name, ``me`` or ``unassigned``) still works and wins when
given. The switch shows how many items or leads each choice holds (``worker.queries.whose``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from worker.queries.lead_pages import UNOWNED
from worker.queries.whose import ALL, MINE, UNASSIGNED, Count, who_asked

ME = "me"  # the queue's rep filter for the signed-in rep
LABELS = {MINE: "Mine", UNASSIGNED: "Unassigned", ALL: "Everyone"}


def queue_choice(rep_filter: str, who: str | None) -> tuple[str, str]:
    """The queue's rep filter and the switch's position, from the URL's ``rep`` and ``who``."""
    if rep_filter:
        return rep_filter, {ME: MINE, UNASSIGNED: UNASSIGNED}.get(rep_filter, ALL)
    chosen = who_asked(who)
    return {MINE: ME, UNASSIGNED: UNASSIGNED, ALL: ""}[chosen], chosen


def lead_owner(who: str | None, rep: str) -> str | None:
    """The leads list's owner filter (``LeadFilter.owner``) for the URL's or a form's ``who``.

    Only an explicit choice narrows: without ``who`` (a form from elsewhere) every lead
    matches; the leads page itself always puts its choice in its links and forms.
    """
    if who == MINE:
        return rep
    return UNOWNED if who == UNASSIGNED else None


def who_of_owner(owner: str | None, rep: str) -> str:
    """The ``who`` that gives the leads list the owner filter ``owner`` (back from a form)."""
    if owner == UNOWNED:
        return UNASSIGNED
    return MINE if owner is not None and owner == rep else ALL


def narrowed(asked: Mapping[str, str]) -> bool:
    """Whether the queue's filters narrow it beyond the switch (a reason, stage, mailbox, or
    another rep's items)."""
    return any(value for key, value in asked.items() if key != "rep") or asked.get("rep") not in (
        "",
        None,
        ME,
        UNASSIGNED,
    )


def switch(who: str, counts: Mapping[str, Count], url: Callable[[str], str]) -> dict[str, Any]:
    """What ``_whose.html``'s macro shows: a link per choice with its count, the chosen one
    marked."""
    return {
        "who": who,
        "choices": [(choice, LABELS[choice], counts[choice], url(choice)) for choice in LABELS],
    }


__all__ = ["LABELS", "ME", "lead_owner", "narrowed", "queue_choice", "switch", "who_of_owner"]
