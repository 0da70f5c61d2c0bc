"""A loopback SMTP sink in its own process: accepts every message, keeps only counters.

Two implementations:

- ``fast`` (default): a minimal asyncio protocol speaking just enough SMTP for ``smtplib``
  (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT). It does no parsing of the message, so
  the sink is never what limits a benchmark; it only counts messages whose data has bare LF
  line endings (RFC 5321 requires CRLF; real servers reject or rewrite such messages).
- ``aiosmtpd``: the same job done by aiosmtpd (what the tests use), for comparison.

The sink runs in a separate process (``multiprocessing`` spawn) so that its CPU does not share
the GIL with the sender; the parent reads the counters through shared memory.

Run it standalone to poke at it::

    .venv/bin/python bench/smtp_sink.py --port 2525
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

EHLO_REPLY = b"250-bench-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"
END_OF_DATA = b"\r\n.\r\n"


class _Counters:
    """Shared counters: messages accepted and bytes of message data."""

    def __init__(self, ctx: Any) -> None:
        self.messages = ctx.RawValue("q", 0)
        self.data_bytes = ctx.RawValue("q", 0)
        self.connections = ctx.RawValue("q", 0)
        self.bare_lf = ctx.RawValue("q", 0)  # messages with a bare LF line ending (not CRLF)


class FastSmtpProtocol(asyncio.Protocol):
    """One SMTP session; message data is scanned for the terminating dot and dropped."""

    def __init__(self, counters: _Counters) -> None:
        self.counters = counters
        self.buffer = bytearray()
        self.in_data = False
        self.scanned = 0  # bytes of message data already searched for the terminator
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.counters.connections.value += 1
        transport.write(b"220 bench-sink ESMTP ready\r\n")

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        transport = self.transport
        assert transport is not None
        while buffer:
            if self.in_data:
                # The terminator may follow the DATA line directly (empty body) or a CRLF.
                end = buffer.find(END_OF_DATA, self.scanned)
                if end < 0:
                    if buffer.startswith(b".\r\n"):
                        end, skip = 0, 3
                    else:
                        self.scanned = max(0, len(buffer) - len(END_OF_DATA) + 1)
                        return
                else:
                    skip = end + len(END_OF_DATA)
                self.scanned = 0
                self.counters.messages.value += 1
                self.counters.data_bytes.value += end
                body = bytes(buffer[:end])
                if body.count(b"\n") != body.count(b"\r\n"):
                    self.counters.bare_lf.value += 1  # RFC 5321 wants CRLF; servers reject these
                del buffer[:skip]
                self.in_data = False
                transport.write(b"250 2.0.0 accepted\r\n")
                continue
            line_end = buffer.find(b"\r\n")
            if line_end < 0:
                return
            line = bytes(buffer[:line_end])
            del buffer[: line_end + 2]
            verb = line[:4].upper()
            if verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                transport.write(b"250 2.0.0 OK\r\n")
            elif verb == b"DATA":
                self.in_data = True
                transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"EHLO":
                transport.write(EHLO_REPLY)
            elif verb == b"HELO":
                transport.write(b"250 bench-sink\r\n")
            elif verb == b"QUIT":
                transport.write(b"221 2.0.0 bye\r\n")
                transport.close()
                return
            else:
                transport.write(b"502 5.5.2 command not implemented\r\n")


async def _serve_fast(host: str, port: int, counters: _Counters, ready: Any) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: FastSmtpProtocol(counters), host, port, reuse_address=True, backlog=256
    )
    bound = server.sockets[0].getsockname()[1]
    ready.put(bound)
    async with server:
        await server.serve_forever()


def _serve_aiosmtpd(
    host: str, port: int, counters: _Counters, ready: Any, record: str | None = None
) -> None:
    from aiosmtpd.controller import Controller

    journal = open(record, "a", encoding="utf-8") if record else None  # noqa: SIM115

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            counters.messages.value += 1
            counters.data_bytes.value += len(envelope.original_content or b"")
            if journal is not None:  # one line per accepted message, before the 250
                journal.write(" ".join(envelope.rcpt_tos) + "\n")
                journal.flush()
            return "250 2.0.0 accepted"

    # aiosmtpd 1.4's Controller cannot bind port 0 (its start-up self-check connects to the
    # port it was given), so pick a free port first.
    controller = Controller(Handler(), hostname=host, port=port or _free_port(host))
    controller.start()
    ready.put(controller.port)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _run(
    kind: str, host: str, port: int, counters: _Counters, ready: Any, record: str | None
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    if kind == "aiosmtpd":
        _serve_aiosmtpd(host, port, counters, ready, record)
    else:
        asyncio.run(_serve_fast(host, port, counters, ready))


class SinkProcess:
    """Start/stop a sink in a child process; ``count`` is how many messages it accepted.

    ``record`` (aiosmtpd only): a file that gets one line of recipients per accepted message.
    """

    def __init__(
        self, kind: str = "fast", host: str = "127.0.0.1", port: int = 0, record: Path | None = None
    ) -> None:
        if record is not None and kind != "aiosmtpd":
            raise ValueError("only the aiosmtpd sink records recipients")
        ctx = mp.get_context("spawn")
        self.kind = kind
        self.host = host
        self.counters = _Counters(ctx)
        self._ready = ctx.Queue()
        self._process = ctx.Process(
            target=_run,
            args=(kind, host, port, self.counters, self._ready, str(record) if record else None),
            name=f"smtp-sink-{kind}",
            daemon=True,
        )
        self.port = 0

    def start(self, timeout_s: float = 20.0) -> SinkProcess:
        self._process.start()
        self.port = int(self._ready.get(timeout=timeout_s))
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def count(self) -> int:
        return int(self.counters.messages.value)

    @property
    def bare_lf(self) -> int:
        """Messages whose data had bare LF line endings (``fast`` sink only)."""
        return int(self.counters.bare_lf.value)

    @property
    def data_bytes(self) -> int:
        return int(self.counters.data_bytes.value)

    def wait_for_count(self, target: int, timeout_s: float = 10.0) -> int:
        """Wait until the sink has accepted ``target`` messages (or the timeout); return count."""
        deadline = time.monotonic() + timeout_s
        while self.count < target and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.count

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
            if self._process.is_alive() and self._process.pid:
                os.kill(self._process.pid, signal.SIGKILL)
                self._process.join(5)

    def __enter__(self) -> SinkProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--kind", choices=("fast", "aiosmtpd"), default="fast")
    args = parser.parse_args()
    with SinkProcess(args.kind, args.host, args.port) as sink:
        print(f"sink ({args.kind}) on {sink.url}; Ctrl-C to stop")
        try:
            while True:
                time.sleep(5)
                print(f"accepted {sink.count} messages, {sink.data_bytes} bytes")
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
