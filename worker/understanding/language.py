"""English or German, from counts of common words."""

from __future__ import annotations

import re

ENGLISH = frozenset(
    str.split(
        "the and to of a in is it you that for on with this be are have i we not will me my your "
        "our at as but please thanks thank would can if do from back office until let good "
        "sounds talk next week yes just all what how does cost interested time call send out "
        "am hi hello best regards remove list stop email any could about there"
    )
)
GERMAN = frozenset(
    str.split(
        "der die das und ist nicht ich sie wir ein eine zu mit den im für auf dem es bin sind bis "
        "ihre ihnen uns auch bitte vielen dank gerne grüße wieder haben kein keine noch ab "
        "hallo gruß freundlichen klingt gut danke termin bedarf interesse wie kostet mich mir "
        "aus sehr geehrte herr frau woche nächste lassen sprechen derzeit leider"
    )
)
_WORDS = re.compile(r"[a-zäöüß]+")


def detect_language(text: str) -> str | None:
    """``"en"``, ``"de"``, or None when there is too little text to tell."""
    words = _WORDS.findall(text[:20_000].lower())
    english = sum(word in ENGLISH for word in words)
    german = sum(word in GERMAN for word in words)
    german += len(re.findall(r"[äöüß]", text[:20_000].lower()))
    if max(english, german) < 1:
        return None
    return "de" if german > english else "en"
