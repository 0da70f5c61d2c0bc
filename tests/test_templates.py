"""Templates: strict fields, defaults, HTML escaping, the sandbox, subjects and safe headers."""

from __future__ import annotations

import shutil
import textwrap
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from worker.authoring.mailboxes import MailboxSpec
from worker.authoring.schema import SequenceSpec
from worker.authoring.templates import RenderedEmail, TemplateRenderer
from worker.delivery.rendering import build_message, render_touch, template_context
from worker.errors import TemplateRenderError
from worker.store.models import Enrollment, Lead

REPO = Path(__file__).resolve().parent.parent
UNSUBSCRIBE = "https://outreach.example.test/u/7.abc"
MAILBOX = MailboxSpec(
    name="sales",
    address="ada.fischer@northwind-analytics.example",
    display_name="Ada Fischer",
    title="Account Executive",
    company="Northwind Analytics",
    phone="+49 30 5550 1234",
)
SENT_AT = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """A templates folder with the repository's layouts and a few test touches."""
    root = tmp_path / "templates"
    shutil.copytree(REPO / "templates" / "layouts", root / "layouts")
    put(
        root,
        "t/hello.txt.j2",
        """\
        {% extends "layouts/base.txt.j2" %}
        {% block subject %}Hello {{ lead.company }}{% endblock %}
        {% block body %}
        Hi {{ lead.first_name | default("there") }},
        We help {{ lead.company }} sell more.
        {% endblock %}
        """,
    )
    put(
        root,
        "t/hello.html.j2",
        """\
        {% extends "layouts/base.html.j2" %}
        {% block body %}
        <p>Hi {{ lead.first_name | default("there") }},</p>
        <p>We help <b>{{ lead.company }}</b> sell more.</p>
        {% endblock %}
        """,
    )
    put(
        root,
        "t/missing.txt.j2",
        """\
        {% extends "layouts/base.txt.j2" %}
        {% block subject %}About {{ lead.company }}{% endblock %}
        {% block body %}
        Hi {{ lead.first_name | default("there") }},

        How is {{ lead.nickname }} doing?
        {% endblock %}
        """,
    )
    put(
        root,
        "t/nosubject.txt.j2",
        """\
        {% extends "layouts/base.txt.j2" %}
        {% block body %}
        Hello.
        {% endblock %}
        """,
    )
    return root


def put(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def spec(template: str = "t/hello", **step: Any) -> SequenceSpec:
    return SequenceSpec.model_validate(
        {
            "name": "test",
            "stage": "prospecting",
            "mailbox": "sales",
            "steps": [{"template": template, **step}, {"template": template, "same_thread": True}],
        }
    )


def lead(**fields: Any) -> Lead:
    values: dict[str, Any] = {
        "email": "ada@northwind.test",
        "first_name": "Ada",
        "last_name": "Winter",
        "company": "Northwind Traders",
    }
    values.update(fields)
    extra = values.pop("fields", {})
    return Lead(id=7, stage="prospecting", status="active", fields=extra, **values)


def render(
    renderer: TemplateRenderer, the_lead: Lead, template: str = "t/hello", **step: Any
) -> RenderedEmail:
    return render_touch(renderer, the_lead, MAILBOX, spec(template, **step), 0, UNSUBSCRIBE)


def build(rendered: RenderedEmail, the_lead: Lead, *, same_thread: bool = False) -> EmailMessage:
    enrollment = Enrollment(sequence="test", current_step=0)
    if same_thread:
        enrollment.thread_message_id = "<first@northwind-analytics.example>"
        enrollment.thread_subject = "Hello Northwind Traders"
        enrollment.last_message_id = "<first@northwind-analytics.example>"
    built = build_message(
        rendered,
        lead=the_lead,
        mailbox=MAILBOX,
        enrollment=enrollment,
        same_thread=same_thread,
        sent_at=SENT_AT,
        unsubscribe_url=UNSUBSCRIBE,
    )
    return built.message


def parse(message: EmailMessage) -> EmailMessage:
    """What a receiving server would see."""
    parsed = message_from_bytes(message.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


# --- strict fields and defaults ---------------------------------------------------------


def test_a_missing_field_is_an_error_naming_template_file_and_line(templates: Path) -> None:
    renderer = TemplateRenderer(templates)
    with pytest.raises(TemplateRenderError) as raised:
        render(renderer, lead(), "t/missing")
    message = str(raised.value)
    assert message.startswith("templates/t/missing.txt.j2:6: ")
    assert "nickname" in message
    assert "default" in message  # says how to fix it


def test_a_missing_field_in_the_subject_block_names_its_line(templates: Path) -> None:
    put(
        templates,
        "t/subject.txt.j2",
        """\
        {% extends "layouts/base.txt.j2" %}
        {% block subject %}For {{ lead.title }}{% endblock %}
        {% block body %}
        Hello.
        {% endblock %}
        """,
    )
    renderer = TemplateRenderer(templates)
    with pytest.raises(TemplateRenderError, match=r"^templates/t/subject\.txt\.j2:2: .*'title'"):
        render(renderer, lead(), "t/subject")


def test_a_field_present_on_the_lead_renders(templates: Path) -> None:
    rendered = render(TemplateRenderer(templates), lead(fields={"nickname": "Ace"}), "t/missing")
    assert "How is Ace doing?" in rendered.text


def test_default_fills_a_missing_field(templates: Path) -> None:
    rendered = render(TemplateRenderer(templates), lead(first_name=None))
    assert rendered.text.startswith("Hi there,\n")
    with_name = render(TemplateRenderer(templates), lead())
    assert with_name.text.startswith("Hi Ada,\n")


def test_extra_lead_fields_are_template_variables(templates: Path) -> None:
    put(
        templates,
        "t/extra.txt.j2",
        """\
        {% extends "layouts/base.txt.j2" %}
        {% block subject %}{{ lead.industry }} at {{ lead.company }}{% endblock %}
        {% block body %}
        {{ sender.name }} / step {{ step.number }} of {{ step.total }} / {{ sequence.name }}
        {% endblock %}
        """,
    )
    rendered = render(
        TemplateRenderer(templates), lead(fields={"industry": "logistics"}), "t/extra"
    )
    assert rendered.subject == "logistics at Northwind Traders"
    assert rendered.text.startswith("Ada Fischer / step 1 of 2 / test\n")
    assert UNSUBSCRIBE in rendered.text  # the layout's footer
    assert "Account Executive, Northwind Analytics" in rendered.text


def test_a_missing_template_is_a_clear_error(templates: Path) -> None:
    with pytest.raises(TemplateRenderError, match=r"templates/t/nope\.txt\.j2: template not found"):
        render(TemplateRenderer(templates), lead(), "t/nope")


def test_a_template_without_subject_is_an_error_unless_the_step_sets_one(templates: Path) -> None:
    renderer = TemplateRenderer(templates)
    with pytest.raises(TemplateRenderError, match=r"no \{% block subject %\}"):
        render(renderer, lead(), "t/nosubject")
    rendered = render(renderer, lead(), "t/nosubject", subject="Quick one, {{ lead.first_name }}")
    assert rendered.subject == "Quick one, Ada"


def test_a_template_syntax_error_names_file_and_line(templates: Path) -> None:
    put(templates, "t/broken.txt.j2", "{% block subject %}x{% endblock %}\n\n{% if %}\n")
    with pytest.raises(TemplateRenderError, match=r"^templates/t/broken\.txt\.j2:3: syntax error"):
        render(TemplateRenderer(templates), lead(), "t/broken")


def test_a_runtime_error_in_a_template_names_file_and_line(templates: Path) -> None:
    put(templates, "t/div.txt.j2", "{% block subject %}x{% endblock %}\nline\n{{ 1 / 0 }}\n")
    with pytest.raises(TemplateRenderError, match=r"^templates/t/div\.txt\.j2:3: ZeroDivision"):
        render(TemplateRenderer(templates), lead(), "t/div")


# --- HTML escaping ----------------------------------------------------------------------


def test_lead_data_is_escaped_in_html(templates: Path) -> None:
    evil = lead(company='<script>alert("x")</script>', first_name="Tom & Jerry")
    rendered = render(TemplateRenderer(templates), evil)
    assert rendered.html is not None
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in rendered.html
    assert "Tom &amp; Jerry" in rendered.html
    assert "<b>" in rendered.html  # the template's own markup is kept


def test_lead_data_is_not_escaped_in_the_text_body_or_subject(templates: Path) -> None:
    evil = lead(company="<script>A & B</script>")
    rendered = render(TemplateRenderer(templates), evil)
    assert "We help <script>A & B</script> sell more." in rendered.text
    assert "&lt;" not in rendered.text
    assert rendered.subject == "Hello <script>A & B</script>"


def test_html_part_uses_the_layout_with_signature_and_unsubscribe(templates: Path) -> None:
    rendered = render(TemplateRenderer(templates), lead())
    assert rendered.html is not None
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert f'href="{UNSUBSCRIBE}"' in rendered.html
    assert "Ada Fischer" in rendered.html


def test_a_touch_without_html_file_has_no_html(templates: Path) -> None:
    rendered = render(TemplateRenderer(templates), lead(fields={"nickname": "x"}), "t/missing")
    assert rendered.html is None


# --- the sandbox ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__.__mro__",
        "''.__class__.__mro__[1].__subclasses__()",
        "lead.__class__.__init__.__globals__",
        "lead.__dict__",
        "sender.__class__",
        "cycler.__init__.__globals__",
        "'{0.__class__.__mro__}'.format(lead)",
        "'{x.__class__}'.format_map({'x': lead})",
    ],
)
def test_the_sandbox_blocks_python_internals(templates: Path, expression: str) -> None:
    put(
        templates,
        "t/escape.txt.j2",
        "{% block subject %}x{% endblock %}\n{{ " + expression + " }}\n",
    )
    with pytest.raises(TemplateRenderError) as raised:
        render(TemplateRenderer(templates), lead(), "t/escape")
    message = str(raised.value)
    assert message.startswith("templates/t/escape.txt.j2:2: ")
    assert "not allowed in templates" in message


def test_the_sandbox_blocks_internals_in_a_subject_override(templates: Path) -> None:
    with pytest.raises(TemplateRenderError, match="not allowed in templates"):
        render(TemplateRenderer(templates), lead(), subject="{{ ''.__class__.__mro__ }}")


def test_templates_cannot_change_the_context(templates: Path) -> None:
    put(
        templates,
        "t/mutate.txt.j2",
        "{% block subject %}x{% endblock %}\n{{ step.__setattr__('number', 99) }}\n",
    )
    with pytest.raises(TemplateRenderError):
        render(TemplateRenderer(templates), lead(), "t/mutate")


# --- subject overrides ------------------------------------------------------------------


def test_subject_override_is_rendered_with_lead_data(templates: Path) -> None:
    rendered = render(
        TemplateRenderer(templates), lead(), subject="{{ lead.company }} + a 31% faster close"
    )
    assert rendered.subject == "Northwind Traders + a 31% faster close"
    assert "Northwind Traders" in rendered.text  # the body is the template's


def test_subject_override_is_not_html_escaped(templates: Path) -> None:
    rendered = render(
        TemplateRenderer(templates), lead(company="A&B <Ltd>"), subject="{{ lead.company }}"
    )
    assert rendered.subject == "A&B <Ltd>"


def test_subject_override_missing_field_names_the_subject_not_the_file(templates: Path) -> None:
    with pytest.raises(TemplateRenderError) as raised:
        render(TemplateRenderer(templates), lead(), subject="Hi {{ lead.nickname }}")
    message = str(raised.value)
    assert message.startswith("step subject 'Hi {{ lead.nickname }}': ")
    assert "nickname" in message
    assert "hello.txt.j2" not in message


def test_subject_override_syntax_error_names_the_subject(templates: Path) -> None:
    with pytest.raises(TemplateRenderError, match=r"^step subject '\{% if %\}': syntax error"):
        render(TemplateRenderer(templates), lead(), subject="{% if %}")


def test_subject_rendering_empty_is_an_error(templates: Path) -> None:
    with pytest.raises(TemplateRenderError, match="rendered empty"):
        render(TemplateRenderer(templates), lead(company=" "), subject="{{ lead.company }}")


def test_subject_whitespace_is_collapsed_to_one_line(templates: Path) -> None:
    rendered = render(
        TemplateRenderer(templates),
        lead(company="North\r\nwind\tTraders"),
        subject="{{ lead.company }}",
    )
    assert rendered.subject == "North wind Traders"


def test_compiled_subject_overrides_are_reused(templates: Path) -> None:
    renderer = TemplateRenderer(templates)
    render(renderer, lead(), subject="{{ lead.company }}!")
    first = renderer._subjects["{{ lead.company }}!"]
    second = render(renderer, lead(company="Other"), subject="{{ lead.company }}!")
    assert renderer._subjects["{{ lead.company }}!"] is first
    assert second.subject == "Other!"


# --- building the message: headers cannot be injected -----------------------------------


def test_message_headers_and_text_part(templates: Path) -> None:
    the_lead = lead()
    message = parse(build(render(TemplateRenderer(templates), the_lead), the_lead))
    assert message["Subject"] == "Hello Northwind Traders"
    assert message["From"] == "Ada Fischer <ada.fischer@northwind-analytics.example>"
    assert message["To"] == "Ada Winter <ada@northwind.test>"
    assert message["List-Unsubscribe"].startswith(f"<{UNSUBSCRIBE}>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].endswith("@northwind-analytics.example>")
    assert message["In-Reply-To"] is None


@pytest.mark.parametrize(
    "name",
    [
        "Ada\r\nBcc: victim@evil.test",
        "Ada\nBcc: victim@evil.test",
        "Ada\rBcc: victim@evil.test",
        "Ada\r\n\r\nInjected body",
    ],
)
def test_cr_lf_in_a_leads_name_cannot_inject_headers(templates: Path, name: str) -> None:
    the_lead = lead(first_name=name)
    rendered = render(TemplateRenderer(templates), the_lead, subject="Hi {{ lead.first_name }}")
    message = parse(build(rendered, the_lead))
    assert message.get_all("Bcc") is None
    assert len(message.get_all("Subject")) == 1
    assert len(message.get_all("To")) == 1
    assert "\n" not in message["Subject"]
    assert "\n" not in message["To"]
    assert message["To"].addresses[0].addr_spec == "ada@northwind.test"
    assert sorted(set(message.keys())) == sorted(
        {
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "MIME-Version",
            "Content-Type",
        }
    )


@pytest.mark.parametrize(
    "subject",
    [
        "Hello\r\nBcc: victim@evil.test",
        "Hello\nX-Injected: yes",
        "Hello\r\n\r\nbody takeover",
    ],
)
def test_cr_lf_in_a_subject_cannot_inject_headers(templates: Path, subject: str) -> None:
    the_lead = lead()
    rendered = RenderedEmail(subject=subject, text="Body\n", html=None)
    message = parse(build(rendered, the_lead))
    assert len(message.get_all("Subject")) == 1
    assert message.get_all("Bcc") is None
    assert message.get_all("X-Injected") is None
    assert message["Subject"].startswith("Hello ")
    assert message.get_content().strip() == "Body"


def test_cr_lf_in_a_threaded_subject_cannot_inject_headers(templates: Path) -> None:
    the_lead = lead()
    enrollment = Enrollment(
        sequence="test",
        current_step=1,
        thread_message_id="<first@x.test>",
        thread_subject="Hello\r\nBcc: victim@evil.test",
    )
    built = build_message(
        RenderedEmail(subject="ignored", text="Body\n", html=None),
        lead=the_lead,
        mailbox=MAILBOX,
        enrollment=enrollment,
        same_thread=True,
        sent_at=SENT_AT,
        unsubscribe_url=UNSUBSCRIBE,
    )
    message = parse(built.message)
    assert message.get_all("Bcc") is None
    assert message["Subject"] == "Re: Hello Bcc: victim@evil.test"
    assert built.subject == message["Subject"]


def test_same_thread_replies_with_re_and_threading_headers(templates: Path) -> None:
    the_lead = lead()
    rendered = render(TemplateRenderer(templates), the_lead)
    message = parse(build(rendered, the_lead, same_thread=True))
    assert message["Subject"] == "Re: Hello Northwind Traders"
    assert message["In-Reply-To"] == "<first@northwind-analytics.example>"
    assert message["References"] == "<first@northwind-analytics.example>"


def test_multipart_alternative_when_an_html_template_exists(templates: Path) -> None:
    the_lead = lead(company="<i>Acme</i>")
    message = parse(build(render(TemplateRenderer(templates), the_lead), the_lead))
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert "We help <i>Acme</i> sell more." in text.get_content()
    assert "&lt;i&gt;Acme&lt;/i&gt;" in html.get_content()


def test_text_only_message_when_there_is_no_html_template(templates: Path) -> None:
    the_lead = lead(fields={"nickname": "x"})
    message = parse(build(render(TemplateRenderer(templates), the_lead, "t/missing"), the_lead))
    assert message.get_content_type() == "text/plain"
    assert not message.is_multipart()


def test_non_ascii_names_and_subjects_survive_the_round_trip(templates: Path) -> None:
    the_lead = lead(first_name="Klaus", last_name="Müller", company="Grünstrom Energie GmbH")
    message = parse(build(render(TemplateRenderer(templates), the_lead), the_lead))
    assert message["Subject"] == "Hello Grünstrom Energie GmbH"
    assert message["To"].addresses[0].display_name == "Klaus Müller"
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    assert "Grünstrom" in text.get_content()


def test_context_leaves_absent_fields_out(templates: Path) -> None:
    context = template_context(
        lead(first_name=None, company="", fields={"industry": "x"}), MAILBOX, spec(), 0, UNSUBSCRIBE
    )
    assert not hasattr(context["lead"], "first_name")
    assert not hasattr(context["lead"], "company")
    assert context["lead"].industry == "x"
    assert context["lead"].email == "ada@northwind.test"
    assert context["unsubscribe_url"] == UNSUBSCRIBE


def test_the_shipped_layouts_use_no_lead_fields() -> None:
    for layout in (REPO / "templates" / "layouts").glob("*.j2"):
        assert "lead." not in layout.read_text(encoding="utf-8"), layout.name
