"""Emails per lead language: which template, layout and subject a lead gets, and the fallback
to the sequence's default language (templates/<x>.de.txt.j2 beside templates/<x>.txt.j2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO
from worker.authoring.languages import normalise_language, subject_in
from worker.authoring.mailboxes import MailboxSpec
from worker.authoring.schema import SequenceSpec
from worker.authoring.templates import RenderedEmail, TemplateRenderer
from worker.delivery.rendering import render_touch, template_context
from worker.errors import TemplateRenderError
from worker.leads.locales import lead_currency, lead_language

URL = "https://outreach.example.test/u/1.sig"
MAILBOX = MailboxSpec(
    name="sales",
    address="ada@sender.example.test",
    display_name="Ada Fischer",
    title="Account Executive",
    company="Northwind",
    phone="+49 30 5550 1234",
)
BASE_TXT = """{% if false %}{% block subject %}{% endblock %}{% endif %}
{% block body %}{% endblock %}

{{ sign_off }} {{ sender.name }}
{{ footer }} {{ unsubscribe_url }}"""


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    root = tmp_path / "templates"
    write(
        root,
        "layouts/base.txt.j2",
        BASE_TXT.replace("{{ sign_off }}", "Best,").replace("{{ footer }}", "Unsubscribe:"),
    )
    write(
        root,
        "layouts/base.de.txt.j2",
        BASE_TXT.replace("{{ sign_off }}", "Viele Grüße").replace("{{ footer }}", "Abmelden:"),
    )
    write(root, "layouts/base.html.j2", '<html lang="en">{% block body %}{% endblock %}</html>')
    write(root, "layouts/base.de.html.j2", '<html lang="de">{% block body %}{% endblock %}</html>')
    intro = '{% extends "layouts/base.txt.j2" %}{% block subject %}SUBJECT{% endblock %}'
    write(
        root,
        "s/intro.txt.j2",
        intro.replace("SUBJECT", "Hello") + "{% block body %}Hi{% endblock %}",
    )
    write(
        root,
        "s/intro.de.txt.j2",
        intro.replace("SUBJECT", "Hallo") + "{% block body %}Guten Tag{% endblock %}",
    )
    write(
        root,
        "s/intro.html.j2",
        '{% extends "layouts/base.html.j2" %}{% block body %}<p>Hi</p>{% endblock %}',
    )
    write(
        root,
        "s/intro.de.html.j2",
        '{% extends "layouts/base.html.j2" %}{% block body %}<p>Guten Tag</p>{% endblock %}',
    )
    write(
        root,
        "s/only_en.txt.j2",
        intro.replace("SUBJECT", "English only") + "{% block body %}Only English{% endblock %}",
    )
    write(
        root,
        "s/text_de.txt.j2",
        intro.replace("SUBJECT", "Text") + "{% block body %}Text{% endblock %}",
    )
    write(
        root,
        "s/text_de.html.j2",
        '{% extends "layouts/base.html.j2" %}{% block body %}<p>HTML</p>{% endblock %}',
    )
    write(
        root,
        "s/text_de.de.txt.j2",
        intro.replace("SUBJECT", "Text") + "{% block body %}Nur Text{% endblock %}",
    )
    return root


def spec(languages: list[str] | None = None, **step: object) -> SequenceSpec:
    data: dict[str, object] = {
        "name": "s",
        "stage": "prospecting",
        "mailbox": "sales",
        "steps": [{"template": "s/intro", **step}],
    }
    if languages is not None:
        data["languages"] = languages
    return SequenceSpec.model_validate(data)


def lead(**fields: str) -> dict[str, str]:
    return {"email": "klaus@brauhaus.test", "company": "Brauhaus", **fields}


def render(templates: Path, sequence: SequenceSpec, **fields: str) -> RenderedEmail:
    return render_touch(TemplateRenderer(templates), lead(**fields), MAILBOX, sequence, 0, URL)


def test_a_german_lead_gets_the_german_template_layout_and_html(templates: Path) -> None:
    rendered = render(templates, spec(["en", "de"]), country="DE")
    assert rendered.subject == "Hallo"
    assert rendered.text.startswith("Guten Tag")
    assert "Viele Grüße Ada Fischer" in rendered.text
    assert f"Abmelden: {URL}" in rendered.text
    assert rendered.html == '<html lang="de"><p>Guten Tag</p></html>'


def test_an_english_lead_gets_the_default_files(templates: Path) -> None:
    rendered = render(templates, spec(["en", "de"]), country="GB")
    assert (rendered.subject, rendered.text.splitlines()[0]) == ("Hello", "Hi")
    assert "Best, Ada Fischer" in rendered.text
    assert rendered.html == '<html lang="en"><p>Hi</p></html>'


def test_the_language_column_wins_over_the_country(templates: Path) -> None:
    assert render(templates, spec(["en", "de"]), country="GB", language="de").subject == "Hallo"
    assert render(templates, spec(["en", "de"]), country="CH", language="EN").subject == "Hello"


@pytest.mark.parametrize("country", ["DE", "AT", "CH", "LI"])
def test_german_speaking_countries_mean_german(country: str) -> None:
    assert lead_language({"country": country}) == "de"


@pytest.mark.parametrize("fields", [{"country": "FR"}, {"country": "GB"}, {}])
def test_other_countries_mean_english(fields: dict[str, str]) -> None:
    assert lead_language(fields) == "en"


def test_a_language_the_sequence_does_not_declare_falls_back_to_its_default(
    templates: Path,
) -> None:
    assert render(templates, spec(["en", "de"]), language="fr").subject == "Hello"
    assert render(templates, spec(), country="DE").subject == "Hello"  # no languages: en only


def test_a_step_without_a_german_file_goes_out_entirely_in_the_default_language(
    templates: Path,
) -> None:
    rendered = render(templates, spec(["en", "de"], template="s/only_en"), country="DE")
    assert rendered.subject == "English only"
    assert "Best, Ada Fischer" in rendered.text  # the English layout, never a mix
    assert "Viele Grüße" not in rendered.text


def test_a_german_text_without_german_html_is_sent_as_text_only(templates: Path) -> None:
    rendered = render(templates, spec(["en", "de"], template="s/text_de"), country="DE")
    assert rendered.text.startswith("Nur Text")
    assert rendered.html is None


def test_a_sequence_whose_default_language_is_german_uses_german_layouts(
    templates: Path,
) -> None:
    write(
        templates,
        "s/de_default.txt.j2",
        '{% extends "layouts/base.txt.j2" %}'
        "{% block subject %}Hallo{% endblock %}{% block body %}Guten Tag{% endblock %}",
    )
    rendered = render(templates, spec(["de"], template="s/de_default"), country="GB")
    assert "Viele Grüße" in rendered.text


def test_a_subject_override_per_language_is_chosen_for_the_lead(templates: Path) -> None:
    sequence = spec(["en", "de"], subject={"en": "Quick question", "de": "Kurze Frage"})
    assert render(templates, sequence, country="DE").subject == "Kurze Frage"
    assert render(templates, sequence, country="US").subject == "Quick question"


def test_an_english_only_subject_override_never_lands_on_a_german_email(
    templates: Path,
) -> None:
    sequence = spec(["en", "de"], subject="Quick question")
    assert render(templates, sequence, country="DE").subject == "Hallo"  # its own subject
    assert render(templates, sequence, country="US").subject == "Quick question"
    assert subject_in({"en": "Hi"}, "de", "en") is None


def test_a_variant_subject_per_language(templates: Path) -> None:
    sequence = spec(
        ["en", "de"],
        variants=[
            {"name": "a", "subject": {"en": "A", "de": "A-de"}},
            {"name": "b", "subject": {"en": "B", "de": "B-de"}},
        ],
    )
    renderer = TemplateRenderer(templates)
    for name, expected in (("a", "A-de"), ("b", "B-de")):
        german = render_touch(renderer, lead(country="AT"), MAILBOX, sequence, 0, URL, name)
        assert german.subject == expected


def test_the_context_exposes_the_leads_language_currency_and_locale() -> None:
    context = template_context(lead(country="AT"), MAILBOX, spec(["en", "de"]), 0, URL)
    assert (context["lead"].language, context["lead"].currency) == ("de", "EUR")
    assert context["locale"] == "de_AT"


def test_a_bad_language_field_is_an_error_naming_the_field(templates: Path) -> None:
    with pytest.raises(TemplateRenderError, match=r"field 'language'.*'German'.*did you mean 'de'"):
        render(templates, spec(["en", "de"]), language="German")


@pytest.mark.parametrize(
    ("text", "code"), [("de", "de"), ("DE", "de"), ("de-AT", "de"), ("en_GB", "en")]
)
def test_language_codes_are_normalised(text: str, code: str) -> None:
    assert normalise_language(text) == code


def test_a_set_outside_the_blocks_reaches_the_subject(templates: Path) -> None:
    write(
        templates,
        "s/set.txt.j2",
        '{% extends "layouts/base.txt.j2" %}'
        '{% set greeting = {"en": "Hello", "de": "Hallo"}[lead.language] %}'
        "{% block subject %}{{ greeting }} {{ lead.company }}{% endblock %}"
        "{% block body %}{{ greeting }}{% endblock %}",
    )
    rendered = render(templates, spec(["en", "de"], template="s/set"), country="DE")
    assert rendered.subject == "Hallo Brauhaus"


def test_an_undefined_bare_name_is_not_blamed_on_the_lead(templates: Path) -> None:
    write(
        templates,
        "s/bare.txt.j2",
        '{% extends "layouts/base.txt.j2" %}'
        "{% block subject %}{% if lead.language == de %}x{% endif %}{% endblock %}"
        "{% block body %}Hi{% endblock %}",
    )
    with pytest.raises(TemplateRenderError) as caught:
        render(templates, spec(template="s/bare"))
    message = str(caught.value)
    assert "'de' is undefined" in message
    assert "add the field to the lead" not in message
    assert "quoted ('de')" in message


def test_currency_comes_from_the_field_then_mailbox_then_country_then_default() -> None:
    assert lead_currency({"currency": "chf", "country": "DE"}, "GBP") == "CHF"
    assert lead_currency({"country": "DE"}, "GBP") == "GBP"
    assert lead_currency({"country": "CH"}) == "CHF"
    assert lead_currency({"country": "SE"}, None, "USD") == "USD"
    with pytest.raises(ValueError, match="'EURO' is not a currency code"):
        lead_currency({"currency": "EURO"})


def test_the_shipped_german_layouts_sign_off_and_unsubscribe_in_german() -> None:
    text = (REPO / "templates" / "layouts" / "base.de.txt.j2").read_text(encoding="utf-8")
    html = (REPO / "templates" / "layouts" / "base.de.html.j2").read_text(encoding="utf-8")
    assert "Viele Grüße" in text
    assert "Abmelden: {{ unsubscribe_url }}" in text
    assert '<html lang="de">' in html
    assert "Abmelden</a>" in html
