"""The shape of ``worker/``: imports run downward only, no cycles, a small root, every package
saying what it is for. Read from the source (``tests/import_graph.py``); nothing is imported."""

from __future__ import annotations

import ast

from tests.import_graph import WORKER, find_cycle, graph, import_sites, modules

# Bottom to top: a package may import its own modules and anything on a lower layer, never a
# package on its own layer or above. Root modules are layers of their own.
LAYERS: list[set[str]] = [
    {"worker.errors", "worker.clock", "worker.vocabulary"},
    {"worker.settings"},
    {"worker.store", "worker.understanding", "worker.broker"},
    {"worker.authoring"},
    {"worker.timing"},
    {"worker.transports"},
    {"worker.runtime"},
    {"worker.operations"},
    {"worker.mailboxes"},
    {"worker.leads"},
    {"worker.qualification"},
    {"worker.scoring"},
    {"worker.tracking"},
    {"worker.delivery", "worker.inbound"},
    {"worker.review", "worker.queries", "worker.analytics"},
    {"worker.working", "worker.privacy"},
    {"worker.integrations"},
    {"worker.actors"},
    {"worker.processes"},
    {"worker.rehearsal"},
    {"worker.web"},
    {"worker.cli"},
]
ROOT_MODULES_AT_MOST = 10
# Imports inside functions are only for start-up time of the command line, which loads what a
# command needs when it runs; everywhere else they would hide a dependency.
LAZY_IMPORTS_ALLOWED_IN = ("worker.cli",)


def _unit(module: str) -> str:
    """The layered unit a module belongs to: its top package, or the root module itself."""
    return ".".join(module.split(".")[:2])


def _layer(unit: str) -> int:
    for n, layer in enumerate(LAYERS):
        if unit in layer:
            return n
    raise AssertionError(f"{unit} is in no layer of tests/test_layout.py — add it to LAYERS")


def test_worker_modules_import_each_other_without_cycles() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_packages_import_only_from_layers_below_them() -> None:
    upward = [
        f"{site.importer} (line {site.line}) imports {site.imported}"
        for site in import_sites()
        if _unit(site.importer) != _unit(site.imported)
        and site.imported != "worker"
        and _layer(_unit(site.imported)) >= _layer(_unit(site.importer))
    ]
    assert upward == []


def test_every_module_is_in_a_layer() -> None:
    units = {_unit(name) for name in modules() if name != "worker"}
    assert [unit for unit in sorted(units) if not any(unit in layer for layer in LAYERS)] == []


def test_no_import_is_hidden_inside_a_function_outside_the_command_line() -> None:
    hidden = [
        f"{site.importer} (line {site.line}) imports {site.imported} inside a function"
        for site in import_sites()
        if site.in_function and not site.importer.startswith(LAZY_IMPORTS_ALLOWED_IN)
    ]
    assert hidden == []


def test_no_module_imports_for_type_checking_only() -> None:
    guarded = [
        str(path.relative_to(WORKER.parent))
        for path in modules().values()
        if "TYPE_CHECKING" in path.read_text()
    ]
    assert guarded == []


def test_the_root_keeps_only_what_every_package_uses() -> None:
    root = sorted(path.name for path in WORKER.glob("*.py"))
    assert len(root) <= ROOT_MODULES_AT_MOST, root


def test_every_package_says_what_it_is_for_and_lists_its_public_names() -> None:
    missing = []
    for init in sorted(WORKER.glob("*/__init__.py")):
        tree = ast.parse(init.read_text())
        doc = ast.get_docstring(tree)
        exported = any(
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            for node in tree.body
        )
        if not doc or not exported:
            missing.append(str(init.relative_to(WORKER.parent)))
    assert missing == []
