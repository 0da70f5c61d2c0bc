"""Strip quoted history and signatures (English and German clients): what the person wrote.

Cuts at the first sign of the quoted thread (attribution lines, Outlook separators and header
blocks, forwarded-message markers, "Sent from my iPhone", the ``-- `` delimiter), drops ``>``
lines (so inline and bottom-posted replies keep their own text), then drops a closing such as
"Best regards" / "Viele Grüße" with the short signature block that follows it.
"""

from __future__ import annotations

import re

_I = re.IGNORECASE

# A line from which everything below is quoted history, a device footer or a signature.
CUT_LINES = tuple(
    re.compile(pattern, _I)
    for pattern in (
        r"^-{2,}\s*(original[- ]?message|ursprüngliche nachricht|original[- ]?nachricht)\s*-{2,}",
        r"^-{2,}\s*(forwarded message|weitergeleitete nachricht)\s*-{2,}",
        r"^(begin forwarded message|anfang der weitergeleiteten nachricht)\s*:",
        r"^_{10,}\s*$",
        r"^-{10,}\s*$",
        r"^(sent|gesendet|envoyé) (from|von|with|mit) (my |meinem |meiner )?\w[\w ]{0,40}$",
        r"^von meinem \w[\w ]{0,40} gesendet\.?$",
        r"^(get|holen sie sich) outlook (for|für) (ios|android)",
        r"^--\s?$",
    )
)
# Attribution lines: "On <date>, <name> wrote:", "Am <date> schrieb <name>:", "<name> wrote:".
ATTRIBUTION = (
    re.compile(r"^on\b.{0,300}\bwrote:?$", _I),
    re.compile(r"^am\b.{0,300}\bschrieb\b.{0,300}:$", _I),
    re.compile(r"^.{0,200}\b(wrote|schrieb|a écrit)(\s+am\b.{0,80})?:$", _I),
)
# Each tuple as one alternation: matching it is matching any of its patterns, in one call.
_ANY_CUT_LINE = re.compile("|".join(f"(?:{p.pattern})" for p in CUT_LINES), _I)
_ANY_ATTRIBUTION = re.compile("|".join(f"(?:{p.pattern})" for p in ATTRIBUTION), _I)
_ATTRIBUTION_2 = re.compile("|".join(f"(?:{p.pattern})" for p in ATTRIBUTION[:2]), _I)
ATTRIBUTION_START = re.compile(r"^(on|am)\s+\S", _I)
HEADER_FROM = re.compile(r"^\*?(from|von|de)\s*:\*?\s*\S", _I)
HEADER_FIELD = re.compile(
    r"^\*?(from|von|sent|date|to|cc|subject|gesendet|datum|an|betreff|envoyé|objet|à)\s*:\*?",
    _I,
)
GREETING = re.compile(
    r"^(hi|hello|hey|dear|good (morning|afternoon|evening)|hallo|liebe[rs]?|sehr geehrte[rs]?|"
    r"guten (tag|morgen|abend)|moin|servus|grüß gott|hi there)\b[^.!?]{0,60}[,!:]?$",
    _I,
)
CLOSING = re.compile(
    r"^((thanks|danke|vielen dank) (and|und) )?"
    r"(best( regards| wishes)?|kind regards|warm regards|regards|many thanks"
    r"|thanks( again| a lot)?|thank you( very much)?|cheers|all the best|sincerely"
    r"|yours( sincerely| truly)?|br"
    r"|mit freundlichen grüßen|mit freundlichen grüssen|freundliche grüße|freundliche grüsse"
    r"|viele grüße|viele grüsse|beste grüße|beste grüsse|liebe grüße|liebe grüsse"
    r"|herzliche grüße|herzliche grüsse|schöne grüße|schöne grüsse|grüße|grüsse|gruß|gruss"
    r"|lg|mfg|vg|bg|vielen dank|danke|danke schön|besten dank)"
    r"(\s+(aus|from) \w+)?[\s,.!-]*(?P<name>(\s*(?-i:[A-ZÄÖÜ])[\w.'-]*){0,3})[\s,.!]*$",
    _I,
)
SIGNATURE_LINES = 30  # lines after a closing that still count as signature and disclaimer


def _is_cut(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if _ANY_CUT_LINE.match(line):
        return True
    if not HEADER_FIELD.match(line):
        return False
    # A block of quoted headers: From/Von, Sent/Datum, To/An, Subject/Betreff in any order.
    block = [text.strip() for text in lines[index : index + 6]]
    fields = [text for text in block if HEADER_FIELD.match(text)]
    return len(fields) >= 3 and any(HEADER_FROM.match(text) for text in fields)


def _attribution(lines: list[str], index: int) -> int:
    """How many lines (1 or 2) form an attribution starting here, or 0."""
    line = lines[index].strip()
    if len(line) > 400:
        return 0
    if _ANY_ATTRIBUTION.match(line):
        return 1
    if ATTRIBUTION_START.match(line) and index + 1 < len(lines):
        joined = f"{line} {lines[index + 1].strip()}"
        if _ATTRIBUTION_2.match(joined):
            return 2
    return 0


def _next_content(lines: list[str], index: int) -> str:
    for line in lines[index:]:
        if line.strip():
            return line.strip()
    return ""


def _cut_history(lines: list[str]) -> list[str]:
    """Lines above the quoted history, without attribution lines of inline quotes."""
    kept: list[str] = []
    index = 0
    while index < len(lines):
        span = _attribution(lines, index)
        if span:
            if _next_content(lines, index + span).startswith(">"):
                index += span  # inline or bottom-posted reply: keep reading below the quote
                continue
            break
        if _is_cut(lines, index):
            break
        kept.append(lines[index])
        index += 1
    return kept


def _is_closing(line: str) -> bool:
    """A closing line; of a bilingual one ("Mit freundlichen Grüßen / Kind regards"), the first."""
    return bool(CLOSING.match(line.split(" / ", maxsplit=1)[0].strip()))


def _cut_signature(lines: list[str]) -> list[str]:
    """Drop the last closing with a short block after it, unless nothing was said before it."""
    for index in range(len(lines) - 1, -1, -1):
        if not _is_closing(lines[index]):
            continue
        after = [line for line in lines[index + 1 :] if line.strip()]
        before = [line for line in lines[:index] if line.strip()]
        said = [line for line in before if not GREETING.match(line.strip())]
        if len(after) <= SIGNATURE_LINES and said:
            return lines[:index]
        break
    return lines


def strip_quotes(text: str) -> str:
    """The reply's own text: no quoted history, no signature, no device footer."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    own = [line for line in _cut_history(lines) if not line.lstrip().startswith(">")]
    own = _cut_signature(own)
    cleaned = "\n".join(line.rstrip() for line in own)
    return re.sub(r"\n{3,}", "\n\n", cleaned).strip()
