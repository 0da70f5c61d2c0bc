"""The language of the public pages (unsubscribe, lead capture): the lead's, or the visitor's.

A page is written once per language beside the English one: ``unsubscribe/confirm.html`` and
``unsubscribe/confirm.de.html`` (the same scheme as email templates). A language without its
own page gets the English one. The unsubscribe pages speak the lead's language (its
``language`` field, else its country: ``worker.leads.locales``); the capture form the one its
link asks for (``/capture?lang=de``), else the browser's ``Accept-Language``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request
from jinja2 import Template

from worker.authoring.languages import DEFAULT_LANGUAGE, normalise_language
from worker.leads.locales import lead_language

PAGE_LANGUAGES = (DEFAULT_LANGUAGE, "de")  # the languages the public pages are written in


def pages(name: str, language: str) -> list[str | Template]:
    """The templates to try for page ``name`` in ``language``: its own first, then English."""
    stem, dot, suffix = name.rpartition(".")
    if language == DEFAULT_LANGUAGE or not dot:
        return [name]
    return [f"{stem}.{language}.{suffix}", name]


def of_lead(fields: Mapping[str, Any]) -> str:
    """The page language for a lead (English for a language without pages, or a bad code)."""
    try:
        language = lead_language(fields)
    except ValueError:
        return DEFAULT_LANGUAGE
    return language if language in PAGE_LANGUAGES else DEFAULT_LANGUAGE


def of_visitor(asked: str | None = None) -> str:
    """The page language for a visitor: ``asked`` (a ``lang`` parameter) when the pages have
    it, else the best match of the browser's ``Accept-Language``, else English."""
    if asked:
        try:
            language = normalise_language(asked)
        except ValueError:
            language = ""
        if language in PAGE_LANGUAGES:
            return language
    return request.accept_languages.best_match(PAGE_LANGUAGES) or DEFAULT_LANGUAGE


__all__ = ["PAGE_LANGUAGES", "of_lead", "of_visitor", "pages"]
