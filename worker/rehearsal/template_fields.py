"""Which lead fields a template needs: ``lead.x`` used with no ``default`` and no ``is
defined`` test, and the sample leads templates are checked against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import nodes

_GUARD_FILTERS = {"default", "d"}
_GUARD_TESTS = {"defined", "undefined"}


@dataclass(frozen=True)
class SampleLead:
    """A lead from the sample file: its fields and where it was written."""

    where: str
    fields: dict[str, Any]


def unguarded_lead_fields(tree: nodes.Template) -> list[tuple[str, int]]:
    """``lead.x`` uses with no ``| default`` and no ``is defined`` test anywhere for ``x``."""
    guarded: set[str] = set()
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        names = _GUARD_FILTERS if isinstance(node, nodes.Filter) else _GUARD_TESTS
        if node.name in names and node.node is not None:
            field_name = _lead_attr(node.node)
            if field_name:
                guarded.add(field_name)
    uses: dict[str, int] = {}
    for access in tree.find_all((nodes.Getattr, nodes.Getitem)):
        field_name = _lead_attr(access)
        if field_name and field_name not in guarded and field_name not in uses:
            uses[field_name] = access.lineno
    return sorted(uses.items(), key=lambda item: item[1])


def unguarded_bare_names(tree: nodes.Template, context: set[str]) -> list[str]:
    """Names a task text uses as lead fields (``{{ first_name }}``) with no default: every
    loaded name that is not in ``context`` and not set or looped over in the text."""
    guarded = {
        node.node.name
        for node in tree.find_all((nodes.Filter, nodes.Test))
        if node.name in _GUARD_FILTERS | _GUARD_TESTS and isinstance(node.node, nodes.Name)
    }
    skip = context | guarded | {n.name for n in tree.find_all(nodes.Name) if n.ctx != "load"}
    found: list[str] = []
    for node in tree.find_all(nodes.Name):
        if node.name not in skip and node.name not in found:
            found.append(node.name)
    return found


def _lead_attr(node: nodes.Node) -> str | None:
    if (
        isinstance(node, nodes.Getattr)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "lead"
    ):
        return str(node.attr)
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "lead"
        and isinstance(node.arg, nodes.Const)
    ):
        return str(node.arg.value)
    return None


__all__ = ["SampleLead", "unguarded_bare_names", "unguarded_lead_fields"]
