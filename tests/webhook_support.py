"""A real HTTP receiver on loopback for the webhook tests, and a project with
integrations.yaml."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRET = "whsec-test-0123456789"


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the receiver got, and how it answers: ``answers`` are status codes used in turn
    (the last one repeats); with ``hold`` set, each request waits until it is released."""

    port: int = 0
    answers: list[int] = field(default_factory=lambda: [200])
    requests: list[Received] = field(default_factory=list)
    hold: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self) -> int:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's check exactly as docs/integrations.md writes it."""
    timestamp = headers["Outreach-Timestamp"]
    signed = timestamp.encode() + b"." + body
    expected = "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["Outreach-Signature"])


@contextmanager
def receiving(receiver: Receiver | None = None) -> Iterator[Receiver]:
    """Run ``receiver`` on 127.0.0.1 (a random port) for the block."""
    found = receiver or Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with found.lock:
                found.requests.append(Received(self.path, dict(self.headers.items()), body))
            if found.hold is not None:
                found.hold.wait(10)
            status = found.answer()
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"receiver says no " * 60)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", found.port), Handler)
    server.daemon_threads = True
    found.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        if found.hold is not None:
            found.hold.set()
        server.shutdown()
        server.server_close()


def write_integrations(project: Path, text: str) -> Path:
    path = project / "integrations.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def small_leads(project: Path, count: int = 2) -> Path:
    """A CSV of ``count`` leads (fewer deliveries, faster tests)."""
    lines = ["email,first_name,last_name,company"]
    lines += [f"lead{n}@example.test,Lea{n},Nord,Acme {n}" for n in range(count)]
    path = project / "few.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
