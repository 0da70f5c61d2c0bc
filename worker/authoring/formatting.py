"""Template filters that format money, numbers and dates in the email's locale (Babel).

``{{ lead.deal_value | money }}`` is ``24.000 €`` in an email to a German lead and ``€24,000``
to a British one; ``{{ lead.team_size | number }}`` and ``{{ lead.renewal | date }}`` follow
the same locale. The locale is the context's ``locale`` (the email's language and the lead's
country, e.g. ``de_DE``, ``en_GB``; see ``worker.leads.locales``), the currency the lead's
``currency`` unless the template names one: ``{{ 1200 | money("CHF") }}``.

CSV values arrive as text, so each filter also takes ``"42500.50"`` or ``"2026-03-31"``; a
value it cannot read is an error naming the filter and the value (the touch is not sent).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal, is_currency
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from worker.authoring.languages import DEFAULT_LANGUAGE

DATE_FORMATS = ("short", "medium", "long", "full")
_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")  # 42,500.50 as a spreadsheet writes it


@lru_cache(maxsize=256)
def babel_locale(name: str) -> Locale:
    """The Babel locale for ``de_DE`` / ``en`` (the language alone when CLDR lacks the pair)."""
    try:
        return Locale.parse(name)
    except (UnknownLocaleError, ValueError):
        language = name.split("_", maxsplit=1)[0]
        try:
            return Locale.parse(language)
        except (UnknownLocaleError, ValueError):
            return Locale.parse(DEFAULT_LANGUAGE)


def _locale_of(context: Context) -> Locale:
    name = context.get("locale")
    return babel_locale(name if isinstance(name, str) and name else DEFAULT_LANGUAGE)


def _amount(value: Any, filter_name: str) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{filter_name}: {value!r} is not a number")
    text = str(value).strip().replace("_", "")
    if _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    try:
        found = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{filter_name}: {value!r} is not a number") from None
    if not found.is_finite():
        raise ValueError(f"{filter_name}: {value!r} is not a number")
    return found


@pass_context
def money(context: Context, value: Any, currency: str | None = None) -> str:
    """``value`` as an amount of ``currency`` (default: the lead's), in the email's locale;
    whole amounts without cents (``24.000 €``), others with them (``42.500,50 €``)."""
    code = currency or getattr(context.get("lead"), "currency", None)
    if not isinstance(code, str) or not is_currency(code.upper()):
        raise ValueError(
            f"money: currency {code!r} is unknown — write a code such as EUR, GBP or USD"
        )
    return money_text(_amount(value, "money"), code, _locale_of(context))


def money_text(amount: Decimal | float, currency: str, locale: Locale | str = "en") -> str:
    """``amount`` of ``currency`` in ``locale`` (``€24,000``, ``42.500,50 €``): whole amounts
    without cents, others with them. Also the board's and the report's money."""
    where = babel_locale(locale) if isinstance(locale, str) else locale
    number = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    pattern = where.currency_formats["standard"]
    if number == number.to_integral_value():
        pattern = copy.copy(pattern)
        pattern.frac_prec = (0, 0)
    return str(pattern.apply(number, where, currency=currency.upper(), currency_digits=False))


def amounts_text(
    amounts: Mapping[str, float], currencies: Sequence[str] = (), locale: Locale | str = "en"
) -> str:
    """Amounts in several currencies, never added together: ``€970,502.25 · £12,000``.
    Nothing is zero in the one currency of ``currencies`` (``€0``), else ``0``."""
    if not amounts:
        return money_text(0, currencies[0], locale) if len(currencies) == 1 else "0"
    return " · ".join(money_text(amount, code, locale) for code, amount in sorted(amounts.items()))


@pass_context
def number(context: Context, value: Any) -> str:
    """``value`` with the locale's grouping and decimal mark (``1.250`` / ``1,250``)."""
    return str(format_decimal(_amount(value, "number"), locale=_locale_of(context)))


@pass_context
def date_filter(context: Context, value: Any, style: str = "long") -> str:
    """A date (or ISO text such as ``2026-03-31``) in the locale: ``long`` (default,
    ``31. März 2026`` / ``31 March 2026``), ``medium``, ``short`` or ``full``."""
    if style not in DATE_FORMATS:
        raise ValueError(f"date: style {style!r} is unknown — use {', '.join(DATE_FORMATS)}")
    day: date
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise ValueError(
                f"date: {value!r} is not a date — write it as YYYY-MM-DD, e.g. 2026-03-31"
            ) from None
    return str(format_date(day, style, locale=_locale_of(context)))


def install_filters(environment: Environment) -> None:
    """Add ``money``, ``number`` and ``date`` to ``environment``."""
    environment.filters["money"] = money
    environment.filters["number"] = number
    environment.filters["date"] = date_filter


__all__ = [
    "DATE_FORMATS",
    "amounts_text",
    "babel_locale",
    "date_filter",
    "install_filters",
    "money",
    "money_text",
    "number",
]
