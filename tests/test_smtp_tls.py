"""SMTP over TLS: implicit TLS (smtps://) and STARTTLS with login, against real aiosmtpd servers."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port
from worker.errors import PermanentDeliveryError, TemporaryDeliveryError
from worker.transports.message import BuiltMessage
from worker.transports.urls import transport_from_url


@dataclass
class Received:
    messages: list[Message] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


class _Store:
    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return path


def _server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def _message(n: int) -> BuiltMessage:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "ada@sender.example.test"
    msg["To"] = "lead@northwind.test"
    msg["Subject"] = f"hello {n}"
    msg["Message-ID"] = f"<tls-{n}@sender.example.test>"
    msg.set_content("body")
    return BuiltMessage(
        msg.as_bytes(),
        f"<tls-{n}@sender.example.test>",
        f"hello {n}",
        "ada@sender.example.test",
        "lead@northwind.test",
    )


@pytest.fixture
def starttls_server(authority: trustme.CA) -> Iterator[tuple[int, Received]]:
    received = Received()

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and data.login == b"ada" and data.password == b"s3cret":
            received.logins.append(data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    controller = Controller(
        _Store(received),
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=_server_context(authority),
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    yield controller.port, received
    controller.stop()


@pytest.fixture
def smtps_server(authority: trustme.CA) -> Iterator[tuple[int, Received]]:
    received = Received()
    controller = Controller(
        _Store(received),
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=_server_context(authority),
    )
    controller.start()
    yield controller.port, received
    controller.stop()


def test_starttls_with_login_delivers_over_one_connection(starttls_server, ca_file: Path) -> None:
    port, received = starttls_server
    transport = transport_from_url(f"smtp+starttls://ada:s3cret@127.0.0.1:{port}?cafile={ca_file}")
    try:
        for n in range(3):
            transport.send(_message(n), n)
    finally:
        transport.close()
    assert [m["Subject"] for m in received.messages] == ["hello 0", "hello 1", "hello 2"]
    assert received.logins == ["ada"]  # one login: the connection was reused


def test_starttls_with_a_wrong_password_is_a_permanent_failure(
    starttls_server, ca_file: Path
) -> None:
    port, received = starttls_server
    transport = transport_from_url(f"smtp+starttls://ada:wrong@127.0.0.1:{port}?cafile={ca_file}")
    with pytest.raises(PermanentDeliveryError, match="login"):
        transport.send(_message(1), 1)
    assert received.messages == []


def test_starttls_refuses_a_certificate_it_cannot_verify(starttls_server) -> None:
    port, received = starttls_server
    transport = transport_from_url(f"smtp+starttls://ada:s3cret@127.0.0.1:{port}")
    with pytest.raises(TemporaryDeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        transport.send(_message(1), 1)
    assert received.messages == []


def test_implicit_tls_delivers(smtps_server, ca_file: Path) -> None:
    port, received = smtps_server
    transport = transport_from_url(f"smtps://127.0.0.1:{port}?cafile={ca_file}")
    try:
        transport.send(_message(7), 7)
    finally:
        transport.close()
    assert [m["Message-ID"] for m in received.messages] == ["<tls-7@sender.example.test>"]
