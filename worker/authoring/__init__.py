"""Authoring: sequence YAML schema and loader, the template environment, validation."""

from __future__ import annotations

from .schema import OnComplete, SequenceSpec, StepSpec, VariantSpec, Wait
from .sequences import Catalog, Problem, load_catalog
from .templates import RenderedEmail, TemplateRenderer

__all__ = [
    "Catalog",
    "OnComplete",
    "Problem",
    "RenderedEmail",
    "SequenceSpec",
    "StepSpec",
    "TemplateRenderer",
    "VariantSpec",
    "Wait",
    "load_catalog",
]
