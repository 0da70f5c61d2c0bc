"""A built message as the bytes that go on the wire: CRLF line ends, one line per header.

The compat32 generator folds every header through ``email.header.Header``, which costs
about as much as building the whole message. A header the fold would leave unchanged (plain
printable ASCII, single spaces, short enough for one line) is written as it is; any other
goes through the policy's own fold, so the bytes are the ones the generator would write.
"""

from __future__ import annotations

import re
from email.generator import BytesGenerator
from email.message import Message
from email.policy import compat32
from io import BytesIO

# RFC 5322's hard limit: ids and links are never split over lines.
WIRE_POLICY = compat32.clone(max_line_length=998, linesep="\r\n")
# What folding cannot change: visible ASCII words separated by single spaces.
_UNCHANGED = re.compile(r"[!-~]+(?: [!-~]+)*")


class _WireGenerator(BytesGenerator):
    def _write_headers(self, msg: Message) -> None:
        limit = WIRE_POLICY.max_line_length or 998
        for name, value in msg.raw_items():
            if (
                isinstance(value, str)
                and len(name) + 2 + len(value) <= limit
                and _UNCHANGED.fullmatch(value)
            ):
                self._fp.write(f"{name}: {value}\r\n".encode("ascii"))  # type: ignore[attr-defined]
            else:
                self._fp.write(WIRE_POLICY.fold_binary(name, value))  # type: ignore[attr-defined]
        self.write(self._NL)  # type: ignore[attr-defined]


def wire_bytes(msg: Message) -> bytes:
    """``msg.as_bytes(policy=WIRE_POLICY)``, several times faster."""
    out = BytesIO()
    _WireGenerator(out, mangle_from_=False, policy=WIRE_POLICY).flatten(msg)
    return out.getvalue()


__all__ = ["WIRE_POLICY", "wire_bytes"]
