"""The import graph of ``worker/``, read from the source with ``ast`` (nothing is imported).

Every ``import`` and ``from … import`` counts, wherever it stands (module level, inside a
function, under ``if TYPE_CHECKING:``), and so does the package Python runs first: importing
``worker.leads.addresses`` from outside ``worker.leads`` runs ``worker/leads/__init__.py``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

WORKER = Path(__file__).resolve().parent.parent / "worker"


@dataclass(frozen=True)
class ImportSite:
    """One import of a ``worker`` module: who imports whom, where, and at what depth."""

    importer: str
    imported: str
    line: int
    in_function: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(WORKER.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(WORKER.rglob("*.py"))}


def _source_module(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _function_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inside.update(id(child) for child in ast.walk(node) if child is not node)
    return inside


def import_sites() -> Iterator[ImportSite]:
    """Every explicit import of a ``worker`` module by a ``worker`` module."""
    known = modules()
    for name, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        in_function = _function_nodes(tree)
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _source_module(name, is_package, node)
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    targets.append(submodule if submodule in known else source)
            for target in targets:
                if target in known and target != name:
                    yield ImportSite(name, target, node.lineno, id(node) in in_function)


def ancestors(name: str) -> list[str]:
    """``worker.leads.addresses`` → ``worker``, ``worker.leads``."""
    parts = name.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def graph() -> dict[str, set[str]]:
    """Module → the modules that must run before it can: what it imports, and the packages of
    what it imports (their ``__init__`` runs first) unless they enclose the importer already."""
    edges: dict[str, set[str]] = {name: set() for name in modules()}
    for site in import_sites():
        enclosing = set(ancestors(site.importer))
        for needed in [*ancestors(site.imported), site.imported]:
            if needed not in enclosing and needed != site.importer:
                edges[site.importer].add(needed)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that ends where it starts, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None
