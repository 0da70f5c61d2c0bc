"""Out-of-office messages versus other automatic replies, from their wording (EN and DE)."""

from __future__ import annotations

import functools
import re

from worker.understanding.literals import PhraseList

_I = re.IGNORECASE

# Someone is away for a while (and will be back): an out-of-office reply.
OOO_PHRASES: tuple[str, ...] = (
    # English
    r"out of (the )?office",
    r"out-of-office",
    r"\booo\b",
    r"away from (the office|my desk|my (e-?mail|inbox)|work)",
    r"(i am|i'm|i will be|i'll be|currently|presently) (currently |now )?(away|out|travell?ing"
    r"|off|on the road|offline|unavailable|not available|not in the office)\b",
    r"on (annual |parental |maternity |paternity |sick |medical |study |business |personal )"
    r"?leave\b",
    r"(annual|parental|maternity|paternity|sick) leave",
    r"on (vacation|holidays?|a (business )?trip|sabbatical|pto|a break)\b",
    r"(vacation|holiday) (until|till|through|and will|with limited)",
    r"limited (access to|availability|connectivity)",
    r"(will|shall) (be )?(back|return|returning)( to the office| in the office)?\b",
    r"(i'm|i am|i'll be|i will be) back (on|in|at)\b",
    r"returning (on|to the office|to work)",
    r"^\W*(back|zurück|wieder da|wieder im büro) (on|am|ab|in|next|tomorrow|morgen)\b",
    r"\bout (sick|ill|today|this week|all week)\b|\bkrankgeschrieben\b|\bkrank gemeldet\b"
    r"|\b(bin|ist) (derzeit |aktuell |leider )?krank\b",
    r"(back in|return to) the office",
    r"office (is|will be) closed",
    r"closed for the (holidays?|season)",
    r"public holiday",
    r"respond (to your (e-?mail|message) )?(up)?on my return",
    r"(reply|respond|get back to you) (to your (e-?mail|message) )?(when|as soon as|once) i"
    r"( am|'m)? (back|return)",
    r"automatic reply",
    # German
    r"nicht im (büro|hause?|office)",
    r"(außer|ausser) (haus|hause)",
    r"\babwesend\b",
    r"abwesenheit",
    r"(im|in den|im wohlverdienten) urlaub",
    r"\burlaubs?bedingt",
    r"(in|aus der) elternzeit",
    r"mutterschutz",
    r"(nur )?(eingeschränkt|begrenzt|sporadisch|nicht) erreichbar",
    r"auf (dienst|geschäfts)reise",
    r"auf reisen",
    r"(im|auf) (krankenstand|fortbildung|messe|seminar)",
    r"krankheitsbedingt",
    r"betriebsferien|betriebsurlaub",
    r"wieder (im büro|erreichbar|für sie da|da\b|zurück|am platz|im haus|im dienst|online)",
    r"(bin|sind) (ab|am) .{1,40} wieder",
    r"nach meiner rückkehr",
    r"automatische antwort",
    r"abwesenheitsnotiz",
)
# A machine answered, but nobody is away: ticket systems, receipts, no-reply, left the company.
AUTO_PHRASES: tuple[str, ...] = (
    r"(this|it) is an? (automated|automatic|auto-generated|automatically generated)",
    r"(automated|automatic|auto-generated) (message|response|reply|notification|e-?mail)",
    r"automatically (generated|sent|created)",
    r"(please )?do not reply( directly)? to this",
    r"(this|the) (mailbox|inbox|address|e-?mail address) is (not|no longer) (being )?(monitored"
    r"|read|checked|in use)|(mailbox|inbox) is (unattended|unmonitored)",
    r"\bno-?reply\b",
    r"(your )?(ticket|case|request|reference) (number|no\.?|#|id)\b",
    r"\b(ticket|case|request) #?\d{3,}",
    r"(we|i) (have )?received your (message|e-?mail|request|inquiry|enquiry)",
    r"your (message|e-?mail|request|inquiry|enquiry) (has been|was) (received|forwarded)",
    r"this (e-?mail )?address is no longer (in use|active|monitored)",
    r"(wir haben|ich habe) ihre (nachricht|e-?mail|anfrage|mail) erhalten",
    r"ihre (nachricht|e-?mail|anfrage) (ist|wurde) .{0,30}(eingegangen|erhalten|weitergeleitet)",
    r"automatisch (generiert|erstellt|versendet|verschickt)",
    r"automatisch erzeugt",
    r"(bitte )?(antworten sie )?nicht auf diese (e-?mail|nachricht)",
    r"ticket-?(nummer|nr)",
    r"eingangsbestätigung",
)

# Someone has left for good: not an absence (never ``ooo``); a referral when it names an address.
DEPARTURE_PHRASES: tuple[str, ...] = (
    r"(is|are) no longer (with|at|working (at|for)|employed|part of)",
    r"(has|have) left (the |our )?(company|organi[sz]ation|business|firm|team)\b",
    r"(has|have) left (?-i:[A-Z])\w+",
    r"(has|have) taken over (his|her|their|the) (accounts|role|position|responsibilities|duties)",
    r"\b(his|her|my) successor\b|\bnachfolger(in)?\b",
    r"\bleft (the |our )?(company|organi[sz]ation|business|firm)\b",
    # "Gemma Stone left Rowan & Pike on 27 November": a named person (not "I", "We", "You")
    # who left a named company, with or without "has"
    r"(?-i:\b(?!(?:We|You|It|They)\b)[A-Z][\w'-]+) (has |had )?left (?-i:[A-Z])\w+",
    r"\bno longer (works|worked) (at|for|here|with)\b|\b(has|have) (moved on|departed)\b",
    r"\b(hat|haben) (uns|das unternehmen|unser haus|unsere firma) verlassen\b",
    r"\b(ist|sind)\b[^!?\n]{0,60}?\bausgeschieden\b",
    r"\b(aus (dem|unserem) (unternehmen|haus)|bei uns) ausgeschieden (ist|sind)\b",
    r"nicht mehr (im unternehmen|bei uns|für .{1,40} tätig|in unserem (unternehmen|hause?)"
    r"|im hause?)",
    r"hat (das|unser) unternehmen verlassen|(ist|sind) aus (dem|unserem) unternehmen ausgeschieden",
)

# Courtesy a person may write too: counts only twice over, or with a machine's header.
COURTESY_PHRASES: tuple[str, ...] = (
    r"thank(s| you) for (your|contacting|reaching out to) (message|e-?mail|inquiry|enquiry|request"
    r"|us|our)",
    r"(we|i)('ll| will) (get back to you|respond|reply|be in touch|answer)"
    r"( as soon as possible| shortly| soon| within)",
    r"(within|in) (\d+|one|two|three|24|48) (business |working )?(hours|days)",
    r"vielen dank für ihre (nachricht|e-?mail|anfrage|mail)",
    r"(wir|ich) (melden|werden) (uns|mich) .{0,40}(bei ihnen|zurück|schnellstmöglich|melden)",
)

_OOO = PhraseList(OOO_PHRASES, _I)
_DEPARTURE = PhraseList(DEPARTURE_PHRASES, _I)
_AUTO = PhraseList(AUTO_PHRASES, _I)
_COURTESY = PhraseList(COURTESY_PHRASES, _I)


_PAST = re.compile(r"\b(was|were|war|waren|been|had been)\W+(\w+\W+){0,2}$", _I)


def _past(text: str, start: int) -> bool:
    """True for "I was out of office last week": an excuse for a late answer, not an absence."""
    return bool(_PAST.search(text[max(0, start - 40) : start]))


def _asked(text: str, end: int) -> bool:
    """True when the sentence around ``end`` is a question ("Is this an automated email?")."""
    tail = re.search(r"[.!?\n]", text[end:])
    return bool(tail and tail.group(0) == "?")


def _found(
    phrases: PhraseList,
    text: str,
    *,
    statements: bool = False,
    present: bool = False,
) -> list[str]:
    found: list[str] = []
    for pattern in phrases.possible(text):
        for match in pattern.finditer(text):
            if statements and _asked(text, match.end()):
                continue
            if present and _past(text, match.start()):
                continue
            found.append(match.group(0).strip())
            break
    return found


def ooo_phrases(text: str) -> list[str]:
    """Out-of-office wording found in ``text`` (matched text, in table order)."""
    return list(_ooo(text))


# The classifier asks about the same text several times (is it a departure? machine wording?):
# each reading is kept for the last few texts, so a text is scanned once per table.
_KEPT = 8


@functools.lru_cache(maxsize=_KEPT)
def _ooo(text: str) -> tuple[str, ...]:
    return tuple(_found(_OOO, text, present=True))


@functools.lru_cache(maxsize=_KEPT)
def _machine(text: str) -> tuple[str, ...]:
    return tuple(_found(_AUTO, text, statements=True))


@functools.lru_cache(maxsize=_KEPT)
def _courtesy(text: str) -> tuple[str, ...]:
    return tuple(_found(_COURTESY, text, statements=True))


# Someone who says when they are back has not left for good ("Maria left Hamburg on Monday
# and will be back on 7 December" is an absence).
_COMING_BACK = re.compile(
    r"\b(will|shall|'ll) be back\b|\b(i'?m|i am|is|are) back (on|in|at|from)\b|\breturn(s|ing)?"
    r" (on|to the office|to work)\b|\bwieder (im büro|erreichbar|für sie da|zurück|im haus"
    r"|im dienst|am platz)\b|\b(ab|am) [^.!?\n]{1,30} wieder (im|erreichbar|da|für|zurück)\b",
    _I,
)


def departure_phrases(text: str) -> list[str]:
    """Wording saying someone has left the company (and is not coming back)."""
    return list(_departures(text))


@functools.lru_cache(maxsize=_KEPT)
def _departures(text: str) -> tuple[str, ...]:
    if _COMING_BACK.search(text):
        return ()
    return tuple(_found(_DEPARTURE, text, statements=True))


def auto_reply_phrases(text: str) -> list[str]:
    """Generic automatic-reply wording stated (not asked) in ``text``, machine wording first."""
    return [*_machine(text), *_departures(text), *_courtesy(text)]


def machine_statements(text: str) -> list[str]:
    """Wording only a machine writes ("this is an automated message", "ticket number")."""
    return list(_machine(text))


def reads_like_a_machine(text: str) -> bool:
    """Machine wording ("this is an automated message"), a departure notice, or two
    courtesy phrases."""
    return bool(_machine(text) or _departures(text)) or len(_courtesy(text)) >= 2
