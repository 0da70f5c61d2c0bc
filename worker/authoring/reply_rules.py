"""What to do with each kind of reply: the ``on_reply`` vocabulary and its defaults.

A sequence's ``on_reply`` maps an intent to one action or a list of them; intents it does not
name keep the default. Two promises are not configurable: a person's reply never lets the
sequence go on (``continue`` is refused for human intents), and an unsubscribe always
suppresses the address.
"""

from __future__ import annotations

from collections.abc import Mapping

from worker.understanding import HUMAN_INTENTS, INTENTS, Intent

ACTIONS: dict[str, str] = {
    "advance": "move the lead to the next pipeline stage (stops this sequence)",
    "enroll_next": "enroll the lead in the sequence of its (new) stage",
    "flag": "pause the sequence and put the lead in the review queue",
    "flag_hot": "put the lead at the top of the review queue as a hot lead",
    "pause": "pause the sequence without flagging (a rep resumes it)",
    "stop": "stop the sequence",
    "lost": "move the lead to 'lost' and stop",
    "won": "move the lead to 'won' and stop",
    "suppress": "suppress the address for every sequence, for good",
    "bounce": "suppress the address and mark the lead bounced",
    "complain": "suppress the address for good, unsubscribe the lead, and count a spam complaint "
    "against the mailbox that sent it",
    "retry": "send the bounced touch again later; bounced after repeated soft bounces",
    "wait_for_return": "pause and resume at the same step on the return date",
    "defer": "pause until the day a 'later' reply names (else a fallback), with a rep task then",
    "continue": "ignore the message; the sequence goes on",
}
ENROLL_PREFIX = "enroll:"

DEFAULT_RULES: Mapping[Intent, tuple[str, ...]] = {
    "positive": ("advance", "flag_hot"),
    "negative": ("lost",),
    "unsubscribe": ("suppress",),
    "ooo": ("wait_for_return",),
    "bounce_hard": ("bounce",),
    "bounce_soft": ("retry",),
    "complaint": ("complain",),
    "referral": ("flag",),
    "question": ("flag",),
    "unknown": ("flag",),
    "auto_reply": ("continue",),
    # A deferral resumes on the day it names, with a task for a rep that day; a data-protection
    # request goes to a person with its legal deadline (never a sale signal); a departure stops
    # the old address and offers the one it names as a referral.
    "later": ("defer",),
    "data_request": ("flag",),
    "left_company": ("stop", "flag"),
}
_ONLY_FOR: Mapping[str, str] = {
    "retry": "bounce_soft",
    "wait_for_return": "ooo",
    "defer": "later",
    "complain": "complaint",
}


def parse_rule(intent: str, value: object) -> tuple[str, ...]:
    """Validate one ``on_reply`` entry; ValueError naming what is wrong and what to write."""
    if intent not in INTENTS:
        raise ValueError(f"unknown intent {intent!r} — use one of {', '.join(INTENTS)}")
    raw = [value] if isinstance(value, str) else value
    if not isinstance(raw, list) or not raw or not all(isinstance(a, str) for a in raw):
        raise ValueError("write an action or a list of actions")
    actions = tuple(a.strip() for a in raw)
    for action in actions:
        if action not in ACTIONS and not (action.startswith(ENROLL_PREFIX) and len(action) > 7):
            raise ValueError(
                f"unknown action {action!r} — use one of {', '.join(ACTIONS)} or enroll:SEQUENCE"
            )
        only = _ONLY_FOR.get(action)
        if only is not None and only != intent:
            raise ValueError(f"{action!r} applies only to {only!r}")
    if intent in HUMAN_INTENTS and "continue" in actions:
        raise ValueError(
            "a person replied, so the sequence cannot continue — "
            "use flag, pause, stop or another action"
        )
    if intent == "unsubscribe" and "suppress" not in actions:
        raise ValueError("must include 'suppress': an unsubscribe is always honoured")
    if intent == "complaint" and "complain" not in actions:
        raise ValueError("must include 'complain': a spam complaint is always honoured")
    if "continue" in actions and len(actions) > 1:
        raise ValueError("'continue' cannot be combined with other actions")
    return actions


def rules_for(overrides: Mapping[str, tuple[str, ...]] | None) -> dict[Intent, tuple[str, ...]]:
    """The defaults with a sequence's overrides applied."""
    rules = dict(DEFAULT_RULES)
    for intent, actions in (overrides or {}).items():
        if intent in rules:
            rules[intent] = actions
    return rules


def enroll_targets(actions: tuple[str, ...]) -> list[str]:
    """Sequences named by ``enroll:SEQUENCE`` actions."""
    return [a[len(ENROLL_PREFIX) :] for a in actions if a.startswith(ENROLL_PREFIX)]
