"""A lead's language, currency and locale: from its own fields, else from its country.

- **Language**: the lead's ``language`` field (a CSV column or a captured form field; ``de``,
  ``DE``, ``de-AT`` all mean ``de``), else ``LANGUAGE_BY_COUNTRY`` for its country, else
  English. German-speaking countries get German; a Swiss lead who prefers French says so
  with ``language: fr``.
- **Currency**: the lead's ``currency`` field, else the sending mailbox's ``currency:``
  (``mailboxes.yaml``), else ``CURRENCY_BY_COUNTRY`` for its country, else the default
  (``OUTREACH_DEFAULT_CURRENCY``, EUR).
- **Currency in the pipeline board and report**: the lead's ``currency`` field, else its
  country's, else the default (``report_currency``). There is no sending mailbox there (a lead
  is counted once, whichever mailbox writes to it), so a mailbox's ``currency:`` does not
  apply: a lead quoted in the mailbox's currency is grouped under it only when its own field
  or its country says so too. A ``currency`` field that is not a currency code counts as
  absent there (the emails to that lead fail to render and say why). Deal values are grouped
  per currency and never added across currencies.
- **Locale**: the language an email is written in plus the lead's country (``de_AT``,
  ``en_GB``), for formatting money, numbers and dates (``worker.authoring.formatting``).

These are read when an email is rendered; nothing is stored besides the lead's fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from babel.numbers import is_currency

from worker.authoring.languages import DEFAULT_LANGUAGE, normalise_language

GERMAN_SPEAKING = ("DE", "AT", "CH", "LI")
LANGUAGE_BY_COUNTRY: dict[str, str] = dict.fromkeys(GERMAN_SPEAKING, "de")
EURO_COUNTRIES = (
    "AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV",
    "MT", "NL", "PT", "SI", "SK",
    "AD", "MC", "SM", "VA", "ME", "XK",  # use the euro without being members
)  # fmt: skip
CURRENCY_BY_COUNTRY: dict[str, str] = {
    **dict.fromkeys(EURO_COUNTRIES, "EUR"),
    "GB": "GBP",
    "US": "USD",
    "SG": "SGD",
    "CH": "CHF",
    "LI": "CHF",
}
DEFAULT_CURRENCY = "EUR"


def language_problem(value: str) -> str | None:
    """Why ``value`` is not a usable ``language`` field, or None when it is."""
    try:
        normalise_language(value)
    except ValueError as exc:
        return str(exc)
    return None


def lead_language(fields: Mapping[str, Any]) -> str:
    """The lead's language code; ValueError naming the value when its ``language`` field
    is not a language code."""
    given = fields.get("language")
    if isinstance(given, str) and given.strip():
        return normalise_language(given)
    country = str(fields.get("country") or "").upper()
    return LANGUAGE_BY_COUNTRY.get(country, DEFAULT_LANGUAGE)


def currency_code(value: str) -> str:
    """``eur`` → ``EUR``; ValueError naming the value when it is not an ISO 4217 code."""
    code = value.strip().upper()
    if not is_currency(code):
        raise ValueError(
            f"currency {value!r} is not a currency code — use three letters such as EUR, GBP or USD"
        )
    return code


def lead_currency(
    fields: Mapping[str, Any], mailbox_currency: str | None = None, default: str | None = None
) -> str:
    """The currency the lead is quoted in (see the module's docstring for the order)."""
    given = fields.get("currency")
    if isinstance(given, str) and given.strip():
        return currency_code(given)
    if mailbox_currency:
        return currency_code(mailbox_currency)
    country = str(fields.get("country") or "").upper()
    return CURRENCY_BY_COUNTRY.get(country) or currency_code(default or DEFAULT_CURRENCY)


def stated_currency(fields: Mapping[str, Any]) -> str | None:
    """The currency the lead's own data names: its ``currency`` field when that is a currency
    code, else its country's; None when neither says (the default applies)."""
    given = fields.get("currency")
    if isinstance(given, str) and given.strip():
        try:
            return currency_code(given)
        except ValueError:
            pass
    return CURRENCY_BY_COUNTRY.get(str(fields.get("country") or "").upper())


def report_currency(fields: Mapping[str, Any], default: str | None = None) -> str:
    """The currency the board and the report group the lead's deal value under: as
    ``lead_currency(fields, None, default)``, but a ``currency`` field that is not a code
    counts as absent instead of failing."""
    return stated_currency(fields) or currency_code(default or DEFAULT_CURRENCY)


def locale_name(language: str, country: str | None) -> str:
    """``de`` + ``AT`` → ``de_AT``; the language alone without a country."""
    return f"{language}_{country.upper()}" if country else language


__all__ = [
    "CURRENCY_BY_COUNTRY",
    "DEFAULT_CURRENCY",
    "EURO_COUNTRIES",
    "GERMAN_SPEAKING",
    "LANGUAGE_BY_COUNTRY",
    "currency_code",
    "language_problem",
    "lead_currency",
    "lead_language",
    "locale_name",
    "report_currency",
    "stated_currency",
]
