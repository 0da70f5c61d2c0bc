"""SMTP: one reused connection per thread, and server answers classified for retries."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
import threading
import time

from worker.errors import (
    DeliveryUnknownError,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from worker.transports.base import LoginRefusedError, SenderRefusedError
from worker.transports.message import BuiltMessage

log = logging.getLogger(__name__)

IDLE_CHECK_S = 30.0


class SmtpTransport:
    """SMTP with one reused connection per thread; errors classified for retries."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        mode: str = "plain",
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 30.0,
        ca_file: str | None = None,
        verify: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.mode = mode
        self.username = username
        self.password = password
        self.timeout_s = timeout_s
        self.ca_file = ca_file
        self.verify = verify
        self._local = threading.local()
        self._all: list[smtplib.SMTP] = []
        self._all_lock = threading.Lock()

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connect(self) -> smtplib.SMTP:
        try:
            conn: smtplib.SMTP
            if self.mode == "ssl":
                conn = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout_s, context=self._tls_context()
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            conn.ehlo()
            if self.mode == "starttls":
                conn.starttls(context=self._tls_context())
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise LoginRefusedError(
                f"SMTP login to {self.host}:{self.port} refused ({exc.smtp_code}) — check the user "
                "and password in the transport URL."
            ) from exc
        except smtplib.SMTPResponseException as exc:
            # Greeting, EHLO or STARTTLS refused: about this server, never about the recipient.
            raise TemporaryDeliveryError(
                f"SMTP server {self.host}:{self.port} refused the connection: "
                f"{exc.smtp_code} {_text(exc.smtp_error)}"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryDeliveryError(
                f"cannot connect to SMTP {self.host}:{self.port}: {exc}"
            ) from exc
        with self._all_lock:
            self._all.append(conn)
        self._local.conn = conn
        self._local.used_at = time.monotonic()
        return conn

    def _connection(self) -> smtplib.SMTP:
        conn: smtplib.SMTP | None = getattr(self._local, "conn", None)
        if conn is None:
            return self._connect()
        if time.monotonic() - self._local.used_at > IDLE_CHECK_S:
            try:
                if conn.noop()[0] == 250:
                    return conn
            except (OSError, smtplib.SMTPException):
                pass
            self._drop(conn)
            return self._connect()
        return conn

    def _drop(self, conn: smtplib.SMTP) -> None:
        self._local.conn = None
        with self._all_lock:
            if conn in self._all:
                self._all.remove(conn)
        with contextlib.suppress(OSError):
            conn.close()

    def send(self, built: BuiltMessage, touch_id: int) -> None:
        data = built.data
        for attempt in (1, 2):
            conn = self._connection()
            try:
                self._envelope(conn, built)
                break
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                # Nothing was handed over yet: a stale reused connection, reconnect once.
                self._drop(conn)
                if attempt == 2:
                    raise TemporaryDeliveryError(
                        f"SMTP connection lost before sending: {exc}"
                    ) from exc
        try:
            code, reply = conn.data(data)
        except smtplib.SMTPDataError as exc:
            self._reset(conn)
            raise _by_code(
                exc.smtp_code, f"SMTP refused the message: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop(conn)
            raise DeliveryUnknownError(
                f"connection to {self.host}:{self.port} broke while the message was being "
                f"handed over: {exc}"
            ) from exc
        self._local.used_at = time.monotonic()
        if code != 250:
            raise _by_code(code, f"SMTP refused the message: {code} {_text(reply)}")

    def _envelope(self, conn: smtplib.SMTP, built: BuiltMessage) -> None:
        # Bare addresses (checked on import and in mailboxes.yaml): ``SMTP.mail`` and
        # ``SMTP.rcpt`` would parse each one again only to put it in angle brackets.
        conn.putcmd("mail", f"FROM:<{built.sender}>")
        code, reply = conn.getreply()
        if code != 250:
            self._reset(conn)
            message = f"SMTP refused sender {built.sender}: {code} {_text(reply)}"
            if code >= 500:
                raise SenderRefusedError(
                    message + " — check the mailbox's address and relay rights"
                )
            raise _by_code(code, message)
        conn.putcmd("rcpt", f"TO:<{built.recipient}>")
        code, reply = conn.getreply()
        if code not in (250, 251):
            self._reset(conn)
            raise _by_code(code, f"SMTP refused recipient {built.recipient}: {code} {_text(reply)}")

    def _reset(self, conn: smtplib.SMTP) -> None:
        try:
            conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop(conn)

    def probe(self) -> None:
        """Connect, greet (STARTTLS and login as configured) and quit; DeliveryError if not."""
        conn = self._connect()
        self._drop(conn)

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def _by_code(code: int, message: str) -> Exception:
    if 400 <= code < 500:
        return TemporaryDeliveryError(message)
    if code >= 500:
        return PermanentDeliveryError(message)
    return TemporaryDeliveryError(message)


__all__ = ["SmtpTransport"]
