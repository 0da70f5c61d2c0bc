"""`outreach send-test SEQUENCE --step N --lead EMAIL --to ADDRESS`: one real email to your own
inbox, marked [TEST], that changes nothing: no touch, no event, no mailbox usage, no lead."""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from tests.cli_support import FIXED_NOW, reset_cli_runtime
from tests.conftest import SmtpSink
from worker.cli import main
from worker.leads.importing import import_leads
from worker.runtime import Runtime
from worker.store.models import Base

ADA = "ada@northwind.test"
TESTER = "marketing-lead@example.test"


def everything(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what a test send must leave exactly as it was."""
    with runtime.sessions() as session:
        return {
            table.name: sorted((tuple(row) for row in session.execute(sa.select(table))), key=repr)
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture
def send(project: Path, database_url: str) -> Callable[..., Result]:
    """The CLI on the test database, sending through ``transport_url``."""

    def run(*args: str, transport_url: str) -> Result:
        env = {
            "DATABASE_URL": database_url,
            "OUTREACH_HOME": str(project),
            "OUTREACH_SECRET_KEY": "test-secret",
            "OUTREACH_NOW": FIXED_NOW,
            "OUTREACH_TRANSPORT_URL": transport_url,
            "REDIS_URL": None,
        }
        try:
            return CliRunner().invoke(main, ["send-test", *args], env=env)
        finally:
            reset_cli_runtime()

    return run


@pytest.fixture
def imported(runtime: Runtime, project: Path) -> Runtime:
    """The sample leads imported and enrolled, nothing sent yet."""
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    return runtime


def test_send_test_reaches_the_smtp_server_marked_test_and_changes_nothing(
    imported: Runtime, send: Callable[..., Result], smtp_sink: SmtpSink
) -> None:
    before = everything(imported)
    assert before["touches"] == []
    assert before["events"]  # the import's own events: the test adds none

    result = send(
        "prospecting", "--step", "3", "--lead", ADA, "--to", TESTER, transport_url=smtp_sink.url
    )

    assert result.exit_code == 0, result.output
    assert len(smtp_sink.messages) == 1
    message: Message = smtp_sink.messages[0]
    assert smtp_sink.recipients() == [TESTER]  # the envelope: never the lead
    assert message["To"] == TESTER
    assert message["Subject"] == "[TEST] How Kessler Logistik cut forecast error to 6%"
    assert message["From"] == "Ada Fischer <ada.fischer@northwind-analytics.example>"
    assert message.get_content_type() == "multipart/alternative"  # text and HTML, as sent
    text = message.get_payload()[0].get_payload(decode=True).decode()  # type: ignore[index,union-attr]
    assert text.startswith("Hi Ada,")  # rendered for the lead
    assert f"to {TESTER}" in result.output
    assert "[TEST]" in result.output
    assert everything(imported) == before  # no touch, no event, no usage, lead untouched


def test_send_test_of_a_thread_reply_has_no_thread_headers(
    imported: Runtime, send: Callable[..., Result], smtp_sink: SmtpSink
) -> None:
    result = send(
        "prospecting", "--step", "2", "--lead", ADA, "--to", TESTER, transport_url=smtp_sink.url
    )
    assert result.exit_code == 0, result.output
    message = smtp_sink.messages[0]
    assert message["Subject"] == "[TEST] Re: Forecast accuracy at Northwind Traders"
    assert message["In-Reply-To"] is None
    assert message["References"] is None


def test_the_unsubscribe_link_of_a_test_belongs_to_no_lead(
    imported: Runtime, send: Callable[..., Result], smtp_sink: SmtpSink
) -> None:
    with imported.sessions() as session:
        ada_id = session.scalar(sa.text("select id from leads where email = :e"), {"e": ADA})
    result = send("prospecting", "--lead", ADA, "--to", TESTER, transport_url=smtp_sink.url)
    assert result.exit_code == 0, result.output
    header = smtp_sink.messages[0]["List-Unsubscribe"]
    assert imported.unsubscribe_url(0) in header
    assert imported.unsubscribe_url(ada_id) not in header
    assert imported.unsubscribe_url(ada_id) not in str(smtp_sink.messages[0])


@pytest.mark.parametrize("to", ["not-an-address", "me@", "", "a b@example.test"])
def test_a_to_that_is_not_an_address_is_refused_and_nothing_is_sent(
    imported: Runtime, send: Callable[..., Result], smtp_sink: SmtpSink, to: str
) -> None:
    result = send("prospecting", "--lead", ADA, "--to", to, transport_url=smtp_sink.url)
    assert result.exit_code == 1
    assert "is not a valid email address" in result.output
    assert "Traceback" not in result.output
    assert smtp_sink.messages == []


def test_send_test_writes_to_the_outbox_folder_when_that_is_the_transport(
    imported: Runtime, send: Callable[..., Result], project: Path
) -> None:
    before = everything(imported)
    outbox = project / "outbox"
    result = send("qualification", "--lead", ADA, "--to", TESTER, transport_url=f"file://{outbox}")
    assert result.exit_code == 0, result.output
    (written,) = outbox.iterdir()
    data = written.read_bytes()
    assert b"Subject: [TEST] " in data
    assert f"To: {TESTER}".encode() in data
    assert str(outbox) in result.output
    assert written.name.startswith("test-")
    assert written.name in result.output
    again = send("qualification", "--lead", ADA, "--to", TESTER, transport_url=f"file://{outbox}")
    assert again.exit_code == 0, again.output
    assert len(list(outbox.iterdir())) == 2  # a second test send never replaces the first
    assert everything(imported) == before


def test_a_manual_step_has_nothing_to_send(
    imported: Runtime, send: Callable[..., Result], smtp_sink: SmtpSink
) -> None:
    result = send(
        "qualification", "--step", "4", "--lead", ADA, "--to", TESTER, transport_url=smtp_sink.url
    )
    assert result.exit_code == 1
    assert "call task, not an email" in result.output
    assert smtp_sink.messages == []
