"""The money, number and date filters format in the email's locale (Babel/CLDR), and the
proposal template uses them instead of hand-written currency logic."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.conftest import REPO
from worker.authoring.mailboxes import load_mailboxes
from worker.authoring.sequences import load_catalog
from worker.authoring.templates import TemplateRenderer, make_environment
from worker.delivery.rendering import render_touch


def fmt(source: str, locale: str, currency: str = "EUR", **values: object) -> str:
    env = make_environment(Path("."))
    lead = type("Lead", (), {"currency": currency})()
    return env.from_string(source).render(locale=locale, lead=lead, **values)


@pytest.mark.parametrize(
    ("locale", "currency", "value", "shown"),
    [
        ("de_DE", "EUR", 24000, "24.000\xa0€"),
        ("de_DE", "EUR", 42500.5, "42.500,50\xa0€"),
        ("de_AT", "EUR", 24000, "€\xa024.000"),
        ("de_CH", "CHF", 1200, "CHF\xa01'200"),
        ("en_GB", "GBP", 24000, "£24,000"),
        ("en_US", "USD", 42500.5, "$42,500.50"),
        ("en_SG", "SGD", "29500", "$29,500"),
        ("en_GB", "EUR", "24,000.00", "€24,000"),
    ],
)
def test_money_is_formatted_in_the_locale(
    locale: str, currency: str, value: object, shown: str
) -> None:
    assert fmt("{{ v | money }}", locale, currency, v=value) == shown


def test_money_takes_a_currency_of_its_own() -> None:
    assert fmt('{{ 1200 | money("USD") }}', "de_DE") == "1.200\xa0$"


def test_numbers_and_dates_follow_the_locale() -> None:
    assert fmt("{{ 1234567.5 | number }}", "de_DE") == "1.234.567,5"
    assert fmt("{{ 1234567.5 | number }}", "en_US") == "1,234,567.5"
    assert fmt("{{ d | date }}", "de_DE", d=date(2026, 3, 5)) == "5. März 2026"
    assert fmt("{{ d | date }}", "en_GB", d="2026-03-05") == "5 March 2026"
    assert fmt('{{ d | date("short") }}', "en_US", d="2026-03-05") == "3/5/26"


def test_a_value_that_is_not_a_number_or_date_names_the_filter() -> None:
    with pytest.raises(ValueError, match="money: 'lots' is not a number"):
        fmt("{{ 'lots' | money }}", "de_DE")
    with pytest.raises(ValueError, match="date: 'soon' is not a date"):
        fmt("{{ 'soon' | date }}", "de_DE")
    with pytest.raises(ValueError, match="currency 'XXX1' is unknown"):
        fmt("{{ 1 | money('XXX1') }}", "de_DE")


def test_the_proposal_shows_the_deal_value_in_the_leads_currency_and_locale() -> None:
    catalog, _ = load_catalog(REPO / "sequences", REPO)
    spec = catalog.get("decision")
    mailbox = load_mailboxes(REPO / "mailboxes.yaml").get(spec.mailbox)
    renderer = TemplateRenderer(REPO / "templates")
    url = "https://outreach.example.test/u/1.sig"

    def text(**fields: object) -> str:
        lead = {"email": "x@example.test", "company": "Acme", "deal_value": 24000.0, **fields}
        return render_touch(renderer, lead, mailbox, spec, 0, url).text

    assert "Jahresabonnement: 24.000\xa0€," in text(country="DE")
    assert "Jahresabonnement: €\xa024.000," in text(country="AT")
    assert "Jahresabonnement: CHF\xa024'000," in text(country="CH")
    assert "Annual subscription: £24,000," in text(country="GB")
    assert "Annual subscription: $24,000," in text(country="US")
    # Sweden: the default currency (EUR), written as CLDR says English in Sweden writes it
    assert "Annual subscription: 24\xa0000\xa0€," in text(country="SE")
    assert "Annual subscription: CHF24,000," in text(country="GB", currency="CHF")
    assert "Annual subscription: £42,500.50," in text(country="GB", deal_value=42500.5)
    for name in ("01_proposal_followup.txt.j2", "01_proposal_followup.html.j2"):
        source = (REPO / "templates" / "decision" / name).read_text(encoding="utf-8")
        assert "| money" in source
        assert "{:,.2f}" not in source
