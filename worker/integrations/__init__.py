"""The product talking to the rest of the sales stack: outgoing webhooks, notifications to
owners, and API keys for the JSON API."""

from __future__ import annotations

from worker.integrations.api_keys import NewKey, authenticate, create_key, list_keys, revoke_key
from worker.integrations.catalog import NOTIFICATIONS, WEBHOOK_EVENTS
from worker.integrations.config import integrations_for, load_integrations
from worker.integrations.delivery import attempt
from worker.integrations.dispatch import Dispatched, dispatch
from worker.integrations.ledger import forget_lead
from worker.integrations.notifications import send as send_notification
from worker.integrations.signing import signature, verify

__all__ = [
    "NOTIFICATIONS",
    "WEBHOOK_EVENTS",
    "Dispatched",
    "NewKey",
    "attempt",
    "authenticate",
    "create_key",
    "dispatch",
    "forget_lead",
    "integrations_for",
    "list_keys",
    "load_integrations",
    "revoke_key",
    "send_notification",
    "signature",
    "verify",
]
