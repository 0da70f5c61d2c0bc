"""Out-of-office messages versus other automatic replies, from their wording (EN and DE)."""

from __future__ import annotations

import re

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
    r"(is|are) no longer (with|at|working|employed|part of)",
    r"has left (the company|our company|the organi[sz]ation)",
    r"this (e-?mail )?address is no longer (in use|active|monitored)",
    r"(wir haben|ich habe) ihre (nachricht|e-?mail|anfrage|mail) erhalten",
    r"ihre (nachricht|e-?mail|anfrage) (ist|wurde) .{0,30}(eingegangen|erhalten|weitergeleitet)",
    r"automatisch (generiert|erstellt|versendet|verschickt)",
    r"automatisch erzeugt",
    r"(bitte )?(antworten sie )?nicht auf diese (e-?mail|nachricht)",
    r"ticket-?(nummer|nr)",
    r"eingangsbestätigung",
    r"nicht mehr (im unternehmen|bei uns|für .{1,40} tätig|in unserem unternehmen)",
    r"hat (das unternehmen|unser unternehmen) verlassen",
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

_OOO = tuple(re.compile(pattern, _I) for pattern in OOO_PHRASES)
_AUTO = tuple(re.compile(pattern, _I) for pattern in AUTO_PHRASES)
_COURTESY = tuple(re.compile(pattern, _I) for pattern in COURTESY_PHRASES)


def _found(patterns: tuple[re.Pattern[str], ...], text: str) -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            found.append(match.group(0).strip())
    return found


def ooo_phrases(text: str) -> list[str]:
    """Out-of-office wording found in ``text`` (matched text, in table order)."""
    return _found(_OOO, text)


def auto_reply_phrases(text: str) -> list[str]:
    """Generic automatic-reply wording found in ``text`` (machine wording first)."""
    return _found(_AUTO, text) + _found(_COURTESY, text)


def reads_like_a_machine(text: str) -> bool:
    """Machine wording ("this is an automated message"), or two courtesy phrases."""
    return bool(_found(_AUTO, text)) or len(_found(_COURTESY, text)) >= 2
