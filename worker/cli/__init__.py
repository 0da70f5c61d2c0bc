"""The ``outreach`` command line: parse, call a service, print (tables or --json)."""

from __future__ import annotations

from worker.cli import (  # noqa: F401  (register the commands)
    acceptance,
    api_keys,
    authoring,
    events,
    lead_replies,
    leads,
    mailboxes,
    planning,
    privacy,
    replies,
    reports,
    reps,
    running,
    scoring,
    scoring_model,
    scoring_rules,
    send_test,
    suppressions,
    teaching,
    understanding,
    variants,
    web,
    webhooks,
)
from worker.cli.root import main

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    main()
