"""Helpers for the engagement tests: a project whose ``tracked`` sequence sends an email with
two links (text and HTML), an unsubscribe link and a mailto link, and the sent email's links."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.runtime import Runtime
from worker.store.models import Touch

ADA = "ada@northwind.test"
PRICING = "https://northwind-analytics.example/pricing?plan=team&utm_source=email"
GUIDE = "https://northwind-analytics.example/guide"
# A token ends with its signature (base64url), never with the sentence's full stop.
TRACKED_LINK = re.compile(r"https?://[^\s\"'<>]+/c/[A-Za-z0-9_.-]*[A-Za-z0-9_-]")
PIXEL = re.compile(r"https?://[^\s\"'<>]+/o/[A-Za-z0-9_.-]*[A-Za-z0-9_-]")

SEQUENCE = """\
name: tracked
stage: prospecting
mailbox: sales
steps:
  - template: tracked/01_links
    wait: 0 days
  - template: tracked/02_plain
    wait: 2 days
"""
TEXT = """\
{% extends "layouts/base.txt.j2" %}
{% block subject %}Two links for {{ lead.company }}{% endblock %}
{% block body %}
Hi {{ lead.first_name | default("there") }},

Our prices: PRICING.
The guide (GUIDE) is short; write to mailto:sales@northwind-analytics.example instead.
{% endblock %}
"""
HTML = """\
{% extends "layouts/base.html.j2" %}
{% block body %}
<p>Hi {{ lead.first_name | default("there") }},</p>
<p>Our <a href="PRICING_HTML" style="color:#1a5fb4;">prices</a> and
<a href='GUIDE'>the guide</a>; or <a href="mailto:sales@northwind-analytics.example">write</a>.</p>
{% endblock %}
"""
PLAIN = """\
{% extends "layouts/base.txt.j2" %}
{% block subject %}Still there?{% endblock %}
{% block body %}
Hi {{ lead.first_name | default("there") }}, see GUIDE again.
{% endblock %}
"""


def add_tracked_sequence(project: Path, *, clicks: bool = True, opens: bool = False) -> None:
    """Write the ``tracked`` sequence and its templates into ``project``."""
    options = ("track_clicks: true\n" if clicks else "") + ("track_opens: true\n" if opens else "")
    (project / "sequences" / "tracked.yaml").write_text(SEQUENCE + options, encoding="utf-8")
    folder = project / "templates" / "tracked"
    folder.mkdir(exist_ok=True)
    fill = {"PRICING_HTML": PRICING.replace("&", "&amp;"), "PRICING": PRICING, "GUIDE": GUIDE}
    for name, source in (("01_links.txt.j2", TEXT), ("01_links.html.j2", HTML)):
        filled = source
        for key, value in fill.items():
            filled = filled.replace(key, value)
        (folder / name).write_text(filled, encoding="utf-8")
    (folder / "02_plain.txt.j2").write_text(PLAIN.replace("GUIDE", GUIDE), encoding="utf-8")


def send_first_email(runtime: Runtime, project: Path) -> Touch:
    """Enroll Ada in ``tracked``, run one batch; her first touch (sent)."""
    leads = project / "ada.csv"
    leads.write_text(
        "email,first_name,company,timezone,country\n"
        f"{ADA},Ada,Northwind Traders,Europe/London,GB\n",
        encoding="utf-8",
    )
    import_leads(runtime.sessions, leads, runtime.clock, runtime.catalog, sequence="tracked")
    run_batch(runtime)
    with runtime.sessions() as session:
        touch = session.scalar(select(Touch).where(Touch.sequence == "tracked"))
        assert touch is not None
        assert touch.status == "sent", touch.last_error
        session.expunge(touch)
        return touch


def sent_email(project: Path) -> EmailMessage:
    """The one email in the outbox."""
    [path] = sorted((project / "outbox").rglob("*.eml"))
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(message: EmailMessage) -> tuple[str, str | None]:
    """The text part and the HTML part (None without one) of ``message``."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    return text.get_content(), html.get_content() if html is not None else None
