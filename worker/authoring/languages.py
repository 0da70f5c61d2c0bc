"""Languages of authored content: language codes, and the file of a template per language.

A template is written once per language, side by side: ``01_intro.txt.j2`` is the sequence's
default language (the first of its ``languages:``), ``01_intro.de.txt.j2`` the German one;
the same holds for ``.html.j2`` parts and for layouts (``layouts/base.de.txt.j2``). When an
email is rendered in a language, every template name it uses — the touch, the layout it
extends, anything it includes — is looked up as ``<name>.<language>.txt.j2`` first, then as
``<name>.txt.j2`` (see ``LanguageLoader``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from jinja2 import BaseLoader, Environment, TemplateNotFound

DEFAULT_LANGUAGE = "en"
_SUFFIXES = (".txt.j2", ".html.j2", ".j2")


@lru_cache(maxsize=256)
def normalise_language(text: str) -> str:
    """A language code as templates use it (``DE``, ``de-AT``, ``de_CH`` → ``de``).

    ValueError naming the value (and the code it probably means) when it is not a language
    code CLDR knows, e.g. ``"German"`` or ``"xx"``.
    """
    raw = text.strip()
    if raw and raw.replace("-", "").replace("_", "").isalpha():
        try:
            return str(Locale.parse(raw.replace("-", "_")).language)
        except (UnknownLocaleError, ValueError):
            pass
    hint = _code_named(raw)
    suggestion = f" (did you mean {hint!r}?)" if hint else ""
    raise ValueError(
        f"language {text!r} is not a language code{suggestion} — use a two-letter code "
        "such as en or de"
    )


def _code_named(name: str) -> str | None:
    """The code of a language written out in English or German ("German", "Deutsch")."""
    wanted = name.strip().casefold()
    for shown_in in ("en", "de"):
        for code, label in Locale.parse(shown_in).languages.items():
            if label.casefold() == wanted and "_" not in code:
                return str(code)
    return None


def localized_name(name: str, language: str) -> str:
    """``prospecting/01_intro.txt.j2`` in ``de`` → ``prospecting/01_intro.de.txt.j2``."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return f"{name[: -len(suffix)]}.{language}{suffix}"
    return f"{name}.{language}"


def subject_in(
    subject: str | Mapping[str, str] | None, language: str, default_language: str
) -> str | None:
    """The subject override an email in ``language`` uses, or None for the template's own.

    A step's ``subject:`` is text in the sequence's default language, or one text per
    language (``{en: …, de: …}``). A language it has no text for keeps the subject its own
    template writes in that language: an override never puts an English subject on a German
    email.
    """
    if subject is None:
        return None
    if isinstance(subject, str):
        return subject if language == default_language else None
    return subject.get(language)


def languages_of(value: object) -> tuple[str, ...]:
    """A sequence's ``languages:`` checked: known codes (normalised), none twice."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError("languages must be a list of language codes, e.g. [en, de]")
    found: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"language {item!r} is not a language code — write e.g. en or de")
        code = normalise_language(item)
        if code in found:
            raise ValueError(f"language {code!r} is listed twice")
        found.append(code)
    return tuple(found)


def subjects_by_language(value: Mapping[Any, Any]) -> dict[str, str]:
    """A per-language ``subject:`` mapping checked: language codes as keys, one line each."""
    subjects: dict[str, str] = {}
    for key, text in value.items():
        code = normalise_language(str(key))
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"subject for {code!r} must be a line of text")
        if "\n" in text or "\r" in text:
            raise ValueError(f"subject for {code!r} must be a single line")
        subjects[code] = text.strip()
    if not subjects:
        raise ValueError("subject must be text, or one text per language: {en: ..., de: ...}")
    return subjects


class LanguageLoader(BaseLoader):
    """Loads ``<name>.<language><suffix>`` when that file exists, else ``<name><suffix>``.

    Wraps another loader (the templates folder). A name that already carries a language
    (``layouts/base.de.txt.j2``) is loaded as written when no further localised file exists.
    """

    def __init__(self, loader: BaseLoader, language: str) -> None:
        self.loader = loader
        self.language = language

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        try:
            return self.loader.get_source(environment, localized_name(template, self.language))
        except TemplateNotFound:
            return self.loader.get_source(environment, template)


__all__ = [
    "DEFAULT_LANGUAGE",
    "LanguageLoader",
    "languages_of",
    "localized_name",
    "normalise_language",
    "subject_in",
    "subjects_by_language",
]
