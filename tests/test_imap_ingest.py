"""IMAP inboxes against a real Dovecot: read incrementally by UID, each message stored raw
with its checkpoint (a crash loses nothing), read-only (flags untouched), one clear error
per failure with the password redacted; configured inboxes read by ``outreach inbox fetch``,
before sending by ``outreach run``, and by the scheduler's inbox job."""

from __future__ import annotations

import json
import mailbox
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.conftest import free_port, make_settings
from tests.imap_support import ImapAccount, message, new_account
from worker.clock import VirtualClock
from worker.errors import ConfigError, OutreachError
from worker.inbound import imap as imap_inbox
from worker.inbound.imap import parse_imap_url
from worker.inbound.ingest import fetch_inboxes, ingest
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.processes.scheduler import build_scheduler, fetch_inboxes_job
from worker.runtime import Runtime, set_runtime
from worker.store.models import AppState, InboundMessage, Lead, Touch

ADA = "ada@northwind.test"
MakeRuntime = Callable[..., Runtime]


@pytest.fixture
def make_runtime(
    project: Path, database_url: str, clock: VirtualClock, stub_broker: Any
) -> Iterator[MakeRuntime]:
    """Runtimes on the test database with settings changed per test (e.g. ``inbox_url``)."""
    made: list[Runtime] = []

    def make(**changes: Any) -> Runtime:
        runtime = Runtime.from_settings(make_settings(project, database_url, **changes), clock)
        set_runtime(runtime)
        made.append(runtime)
        return runtime

    yield make
    reset_cli_runtime()
    for runtime in made:
        runtime.close()


def _inbound(runtime: Runtime) -> list[InboundMessage]:
    with runtime.sessions() as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def _message_ids(runtime: Runtime) -> list[str | None]:
    return [m.message_id for m in _inbound(runtime)]


# --- reading a folder ---------------------------------------------------------------------


def test_new_messages_are_read_incrementally_by_uid(runtime: Runtime, imap: ImapAccount) -> None:
    first_batch = [message(n) for n in range(3)]
    imap.append(*first_batch)
    first = ingest(runtime, imap.url())
    imap.append(message(3), message(4))
    second = ingest(runtime, imap.url("INBOX"))

    assert (first.read, first.stored, first.duplicates) == (3, 3, 0)
    assert (second.read, second.stored, second.duplicates) == (2, 2, 0)
    stored = _inbound(runtime)
    assert len(stored) == 5
    assert len(set(_message_ids(runtime))) == 5
    assert stored[0].source.endswith(";UID=1")
    assert stored[4].source.endswith(";UID=5")
    assert "outreach-test" not in stored[0].source  # no password in what is kept
    assert stored[0].raw.replace(b"\r\n", b"\n") == first_batch[0].replace(b"\r\n", b"\n")
    key = parse_imap_url(imap.url()).state_key
    with runtime.sessions() as session:
        state = json.loads(session.scalar(select(AppState.value).where(AppState.key == key)))
    assert key == f"imap:{imap.user}@127.0.0.1:{imap.port}/INBOX"
    assert state == {"uidvalidity": imap.uidvalidity(), "last_uid": 5}


def test_a_rerun_with_nothing_new_reads_and_stores_nothing(
    runtime: Runtime, imap: ImapAccount
) -> None:
    imap.append(message(1), message(2))
    ingest(runtime, imap.url())

    again = ingest(runtime, imap.url())

    assert (again.read, again.stored, again.duplicates) == (0, 0, 0)
    assert len(_inbound(runtime)) == 2


def test_a_crash_between_messages_loses_nothing_and_the_rerun_stores_the_rest_once(
    runtime: Runtime, imap: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap.append(*(message(n) for n in range(4)))
    real_store = imap_inbox.store
    calls: list[int] = []

    def crash_on_second(*args: Any, **kwargs: Any) -> int | None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed mid-run")
        return real_store(*args, **kwargs)

    monkeypatch.setattr(imap_inbox, "store", crash_on_second)
    with pytest.raises(RuntimeError, match="killed mid-run"):
        ingest(runtime, imap.url())
    assert len(_inbound(runtime)) == 1  # the first message and its checkpoint were committed
    monkeypatch.setattr(imap_inbox, "store", real_store)

    rerun = ingest(runtime, imap.url())

    assert (rerun.read, rerun.stored, rerun.duplicates) == (3, 3, 0)
    assert len(_inbound(runtime)) == 4
    assert len(set(_message_ids(runtime))) == 4


def test_a_new_uidvalidity_reads_the_folder_again_without_duplicates(
    runtime: Runtime, imap: ImapAccount
) -> None:
    old = [message(1), message(2)]
    imap.append(*old, folder="Replies")
    ingest(runtime, imap.url("Replies"))
    before = imap.uidvalidity("Replies")
    imap.recreate("Replies")
    imap.append(*old, message(3), folder="Replies")
    assert imap.uidvalidity("Replies") != before

    after = ingest(runtime, imap.url("Replies"))

    assert (after.read, after.stored, after.duplicates) == (3, 1, 2)
    assert len(_inbound(runtime)) == 3


def test_messages_stay_unread_and_on_the_server(runtime: Runtime, imap: ImapAccount) -> None:
    imap.append(message(1), message(2))

    ingest(runtime, imap.url())

    flags = imap.flags()
    assert len(flags) == 2  # nothing deleted or moved
    assert all(b"\\Seen" not in f and b"\\Deleted" not in f for f in flags.values())


def test_a_message_that_is_not_an_email_is_still_stored_raw(
    runtime: Runtime, imap: ImapAccount
) -> None:
    garbage = b"this is not an email at all\r\n\r\n"
    imap.append(garbage)

    report = ingest(runtime, imap.url())

    assert report.stored == 1
    [stored] = _inbound(runtime)
    assert stored.raw.replace(b"\r\n", b"\n") == garbage.replace(b"\r\n", b"\n")
    assert stored.status != "stored"  # it went on to matching (and the review queue)


def test_a_message_the_server_returns_without_a_body_is_still_stored(
    runtime: Runtime, imap: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap.append(message(1), message(2))
    real_fetch = IMAPClient.fetch

    def first_body_missing(self: IMAPClient, *args: Any, **kwargs: Any) -> Any:
        response = real_fetch(self, *args, **kwargs)
        response[min(response)][b"BODY[]"] = None
        return response

    monkeypatch.setattr(IMAPClient, "fetch", first_body_missing)

    report = ingest(runtime, imap.url())

    assert (report.read, report.stored) == (2, 2)
    assert sorted(len(m.raw) == 0 for m in _inbound(runtime)) == [False, True]


def test_messages_the_server_returns_without_a_body_are_each_kept(
    runtime: Runtime, imap: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap.append(message(1), message(2), message(3))
    real_fetch = IMAPClient.fetch

    def bodies_missing(self: IMAPClient, *args: Any, **kwargs: Any) -> Any:
        response = real_fetch(self, *args, **kwargs)
        for uid in sorted(response)[:2]:
            response[uid][b"BODY[]"] = None
        return response

    monkeypatch.setattr(IMAPClient, "fetch", bodies_missing)

    report = ingest(runtime, imap.url())

    assert (report.read, report.stored, report.duplicates) == (3, 3, 0)
    empty = [m for m in _inbound(runtime) if not m.raw]
    assert len(empty) == 2
    assert len({m.source for m in empty}) == 2  # each names its own UID for the rep


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong password", "IMAP login refused"),
        ("closed port", "IMAP server not reachable"),
        ("missing folder", "no folder 'Nope' on the server"),
        ("no starttls", "does not offer STARTTLS"),
    ],
)
def test_a_failure_is_one_clear_error_with_the_password_redacted(
    project: Path, database_url: str, imap: ImapAccount, case: str, expected: str
) -> None:
    secret = "s3cret-Pa55"
    url = {
        "wrong password": imap.url(password=secret),
        "closed port": imap.url(password=secret, port=free_port()),
        "missing folder": imap.url("Nope"),
        "no starttls": imap.url(scheme="imap+starttls", password=secret),
    }[case]
    shown = parse_imap_url(url).redacted
    invoke = make_invoke(project, database_url)
    try:
        result = invoke("inbox", "ingest", url)
    finally:
        reset_cli_runtime()

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert expected in lines[0]
    assert shown in lines[0]
    assert ":***@" in lines[0]
    assert secret not in result.output
    assert imap.password not in result.output
    assert "Traceback" not in result.output


def test_an_imap_url_is_parsed_with_its_user_and_password_percent_decoded() -> None:
    url = parse_imap_url("imaps://ada%40example.test:p%3Ass%40rd@imap.example.test/Team%20Replies")
    plain = parse_imap_url("imap://ada:pw@127.0.0.1")
    starttls = parse_imap_url("imap+starttls://ada:pw@mail.example.test?verify=false&timeout=5")

    assert (url.user, url.password, url.port, url.folder) == (
        "ada@example.test",
        "p:ss@rd",
        993,
        "Team Replies",
    )
    assert url.redacted == "imaps://ada%40example.test:***@imap.example.test/Team%20Replies"
    assert "p:ss@rd" not in url.state_key
    assert "p:ss@rd" not in repr(url)
    assert (plain.port, plain.folder, plain.verify, plain.timeout_s) == (143, "INBOX", True, 30.0)
    assert (starttls.scheme, starttls.port, starttls.verify, starttls.timeout_s) == (
        "imap+starttls",
        143,
        False,
        5.0,
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("imap://127.0.0.1/INBOX", "has no user:password@"),
        ("imap://ada:pw@127.0.0.1/INBOX?verfy=false", "did you mean 'verify'"),
        ("imap://ada:pw@127.0.0.1:notaport/INBOX", "invalid port"),
        ("imap://ada:pw@127.0.0.1/INBOX?timeout=soon", "invalid timeout"),
    ],
)
def test_an_invalid_imap_url_is_a_config_error_without_its_password(
    url: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected) as caught:
        parse_imap_url(url)
    assert ":pw@" not in str(caught.value)


# --- configured inboxes -------------------------------------------------------------------


def _with_inbox_env(project: Path, mailbox: str, variable: str) -> None:
    """Add ``inbox_env: VARIABLE`` to one mailbox of the project's mailboxes.yaml."""
    path = project / "mailboxes.yaml"
    lines = path.read_text().splitlines()
    at = lines.index(f"  - name: {mailbox}")
    lines.insert(at + 1, f"    inbox_env: {variable}")
    path.write_text("\n".join(lines) + "\n")


def test_inbox_fetch_reads_the_default_inbox_url(
    project: Path,
    database_url: str,
    imap: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imap.append(message(1), message(2))
    monkeypatch.setenv("OUTREACH_INBOX_URL", imap.url())
    invoke = make_invoke(project, database_url)
    try:
        first = invoke("inbox", "fetch", "--json")
        again = invoke("inbox", "fetch", "--json")
    finally:
        reset_cli_runtime()

    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    [inbox] = data["inboxes"]
    assert inbox["inbox"] == "default"
    assert inbox["env"] == "OUTREACH_INBOX_URL"
    assert (inbox["read"], inbox["stored"], inbox["duplicates"], inbox["error"]) == (2, 2, 0, None)
    assert inbox["url"] == parse_imap_url(imap.url()).redacted
    assert imap.password not in first.output
    assert (data["read"], data["stored"], data["failed"]) == (2, 2, 0)
    assert sum(data["statuses"].values()) == 2  # both went on to matching
    assert json.loads(again.output)["stored"] == 0


def test_inbox_fetch_reads_each_mailbox_inbox_and_reports_one_that_fails(
    project: Path,
    database_url: str,
    imap: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sales = new_account()
    try:
        sales.append(message(1), message(2), message(3))
        maildir = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
        maildir.add(message(4))
        imap.append(message(5))
        _with_inbox_env(project, "sales", "OUTREACH_INBOX_SALES")
        _with_inbox_env(project, "success", "OUTREACH_INBOX_SUCCESS")
        monkeypatch.setenv("OUTREACH_INBOX_URL", imap.url(password="wrong"))
        monkeypatch.setenv("OUTREACH_INBOX_SALES", sales.url())
        monkeypatch.setenv("OUTREACH_INBOX_SUCCESS", str(tmp_path / "Maildir"))
        invoke = make_invoke(project, database_url)
        try:
            result = invoke("inbox", "fetch", "--json")
            monkeypatch.delenv("OUTREACH_INBOX_SUCCESS")
            missing = invoke("inbox", "fetch", "--json")
        finally:
            reset_cli_runtime()
    finally:
        sales.clear()

    assert result.exit_code == 1  # one inbox failed; the others were read
    by_name = {i["inbox"]: i for i in json.loads(result.output)["inboxes"]}
    assert set(by_name) == {"default", "sales", "success"}
    assert "IMAP login refused" in by_name["default"]["error"]
    assert "wrong" not in by_name["default"]["url"]
    assert (by_name["sales"]["stored"], by_name["sales"]["error"]) == (3, None)
    assert by_name["sales"]["env"] == "OUTREACH_INBOX_SALES"
    assert (by_name["success"]["stored"], by_name["success"]["error"]) == (1, None)
    assert sales.password not in result.output

    unset = {i["inbox"]: i for i in json.loads(missing.output)["inboxes"]}["success"]
    assert "Mailbox 'success'" in unset["error"]
    assert "$OUTREACH_INBOX_SUCCESS" in unset["error"]


def test_inbox_fetch_without_any_inbox_says_how_to_configure_one(
    project: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OUTREACH_INBOX_URL", raising=False)
    invoke = make_invoke(project, database_url)
    try:
        result = invoke("inbox", "fetch")
    finally:
        reset_cli_runtime()
    assert result.exit_code == 1
    assert "no inbox configured" in result.output
    assert "OUTREACH_INBOX_URL" in result.output


def test_a_mailbox_whose_inbox_env_is_unset_is_a_config_error_naming_it(project: Path) -> None:
    from worker.authoring.mailboxes import load_mailboxes

    _with_inbox_env(project, "sales", "OUTREACH_INBOX_SALES")
    mailboxes = load_mailboxes(project / "mailboxes.yaml")
    with pytest.raises(ConfigError, match=r"Mailbox 'sales' .*\$OUTREACH_INBOX_SALES"):
        mailboxes.inbox_url("sales", env={})
    assert mailboxes.inbox_url("success", env={}) is None


# --- outreach run and the scheduler -------------------------------------------------------


def _sent_touch(runtime: Runtime, project: Path, email: str) -> Touch:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    run_batch(runtime)
    with runtime.sessions() as session:
        touch = session.scalars(
            select(Touch)
            .join(Lead, Lead.id == Touch.lead_id)
            .where(Lead.email == email, Touch.status == "sent")
        ).one()
        session.expunge(touch)
        return touch


def _sent_to(runtime: Runtime, email: str) -> int:
    with runtime.sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Touch)
                .join(Lead, Lead.id == Touch.lead_id)
                .where(Lead.email == email, Touch.status == "sent")
            )
            or 0
        )


def test_a_batch_reads_the_inboxes_before_it_sends(
    make_runtime: MakeRuntime,
    project: Path,
    clock: VirtualClock,
    imap: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = make_runtime(inbox_url=imap.url())
    touch = _sent_touch(runtime, project, ADA)
    imap.append(
        message(
            1,
            sender=f"Ada Lovelace <{ADA}>",
            subject="Re: a question",
            body="Please unsubscribe me and remove me from your mailing list.",
            in_reply_to=touch.message_id,
        )
    )
    clock.advance(timedelta(days=7))  # step 2 is due for everyone
    seen_at_tick: list[int] = []
    import worker.processes.batch as runner

    real_tick = runner.tick

    def probe(rt: Runtime, **kwargs: Any) -> Any:
        seen_at_tick.append(len(_inbound(rt)))
        return real_tick(rt, **kwargs)

    monkeypatch.setattr(runner, "tick", probe)

    summary = run_batch(runtime)

    assert seen_at_tick == [1]  # the reply was in before anything was scheduled
    assert summary.inbox is not None
    assert (summary.inbox["read"], summary.inbox["stored"]) == (1, 1)
    assert summary.as_dict()["inbox"]["inboxes"][0]["error"] is None
    assert summary.warnings == []
    [inbound] = _inbound(runtime)
    assert inbound.lead_id == touch.lead_id
    assert _sent_to(runtime, ADA) == 1  # her reply stopped the touch due in this batch
    assert summary.totals().get("sent", 0) >= 20  # the others got theirs


def test_outreach_run_json_reports_the_inbox_and_an_unreachable_one_does_not_stop_sending(
    project: Path,
    database_url: str,
    imap: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imap.append(message(1), message(2))
    invoke = make_invoke(project, database_url)
    try:
        assert invoke("leads", "import", str(project / "examples" / "leads.csv")).exit_code == 0
        monkeypatch.setenv("OUTREACH_INBOX_URL", imap.url(password="wrong", port=free_port()))
        broken = invoke("run", "--json")
        monkeypatch.setenv("OUTREACH_INBOX_URL", imap.url())
        working = invoke("run", "--json")
    finally:
        reset_cli_runtime()

    assert broken.exit_code == 0, broken.output
    summary = json.loads(broken.output)
    assert summary["totals"]["sent"] == 25
    assert "IMAP server not reachable" in summary["inbox"]["inboxes"][0]["error"]
    assert len(summary["warnings"]) == 1
    assert summary["warnings"][0].startswith("inbox default: ")
    assert "wrong" not in broken.output

    assert working.exit_code == 0, working.output
    inbox = json.loads(working.output)["inbox"]
    assert (inbox["read"], inbox["stored"], inbox["failed"]) == (2, 2, 0)


def test_outreach_run_without_inboxes_reports_none(project: Path, database_url: str) -> None:
    invoke = make_invoke(project, database_url)
    try:
        result = invoke("run", "--json")
    finally:
        reset_cli_runtime()
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["inbox"], summary["warnings"]) == (None, [])


def test_the_scheduler_inbox_job_is_coalesced_and_ingests(
    make_runtime: MakeRuntime, imap: ImapAccount
) -> None:
    runtime = make_runtime(inbox_url=imap.url(), inbox_every_s=30)
    imap.append(message(1), message(2))
    job = build_scheduler(runtime, every_s=60).get_job("inbox")
    assert job is not None
    assert (job.coalesce, job.max_instances) == (True, 1)
    assert job.trigger.interval == timedelta(seconds=30)
    assert job.misfire_grace_time >= 30

    report = job.func(*job.args)

    assert report is not None
    assert [(r.read, r.stored, r.error) for r in report.inboxes] == [(2, 2, None)]
    again = fetch_inboxes_job(runtime)
    assert again is not None
    assert again.as_dict()["stored"] == 0
    assert len(_inbound(runtime)) == 2


def test_without_an_inbox_the_scheduler_has_no_inbox_job_and_fetch_reads_nothing(
    make_runtime: MakeRuntime,
) -> None:
    runtime = make_runtime()
    assert build_scheduler(runtime).get_job("inbox") is None
    assert fetch_inboxes(runtime).as_dict()["inboxes"] == []


def test_an_unreachable_server_is_one_outreach_error_from_the_api_too(runtime: Runtime) -> None:
    url = f"imap://ada:secret@127.0.0.1:{free_port()}/INBOX"
    with pytest.raises(OutreachError, match="not reachable") as caught:
        ingest(runtime, url)
    assert "secret" not in str(caught.value)
