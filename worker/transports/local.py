"""Transports that stay on this machine: an outbox folder of ``.eml`` files, or the console."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from worker.errors import TemporaryDeliveryError
from worker.transports.message import BuiltMessage


class OutboxTransport:
    """Writes each message as ``<touch id>.eml`` into a folder (atomically)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, built: BuiltMessage, touch_id: int) -> None:
        self.write(built, f"{touch_id:08d}")

    def write(self, built: BuiltMessage, stem: str) -> Path:
        """Write ``built`` as ``<stem>.eml`` (replacing a file of that name); its path."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            final = self.folder / f"{stem}.eml"
            tmp = self.folder / f".{stem}.{os.getpid()}.{threading.get_ident()}.tmp"
            tmp.write_bytes(built.data)
            os.replace(tmp, final)
        except OSError as exc:
            raise TemporaryDeliveryError(f"cannot write to outbox {self.folder}: {exc}") from exc
        return final

    def close(self) -> None:
        return None


class ConsoleTransport:
    """Prints each message to standard output."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def send(self, built: BuiltMessage, touch_id: int) -> None:
        text = built.data.decode("utf-8", errors="replace")
        with self._lock:
            sys.stdout.write(f"----- touch {touch_id} -----\n{text}\n")
            sys.stdout.flush()

    def close(self) -> None:
        return None


__all__ = ["ConsoleTransport", "OutboxTransport"]
