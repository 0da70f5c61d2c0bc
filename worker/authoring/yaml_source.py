"""YAML with line numbers: map every key path to the line it was written on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]
MAX_NODES = 100_000  # values a file may expand to; the largest real sequence file has a few hundred
# libyaml's safe loader when PyYAML was built with it (about 20x faster), else pure Python.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlSyntaxError(Exception):
    """Raised when a YAML file cannot be parsed; carries the line of the problem."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_with_lines(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse ``path``; return the data and a map from key path to 1-based line."""
    text = path.read_text(encoding="utf-8")
    loader = _SAFE_LOADER(text)
    try:
        # Parse once: the node tree gives the lines, and the data is built from it.
        node = loader.get_single_node()
        if node is not None:
            _check_size(node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        line, message = _syntax_error_line(exc, text)
        raise YamlSyntaxError(line, message) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, f"YAML syntax error: {exc}") from None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def _check_size(root: yaml.Node) -> None:
    """Refuse a document whose aliases (``*name``) expand it beyond ``MAX_NODES`` or into
    itself: a "billion laughs" file is a few lines that grow to gigabytes once expanded."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise YamlSyntaxError(
                node.start_mark.line + 1, "an alias refers to a node that contains it (a loop)"
            )
        open_nodes.add(key)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_NODES:
                raise YamlSyntaxError(
                    child.start_mark.line + 1,
                    f"this file expands to more than {MAX_NODES:,} values through its aliases "
                    "(&anchor / *alias) — write the values out, or reuse fewer times",
                )
        open_nodes.discard(key)
        sizes[key] = total
        return total

    size(root)


def _syntax_error_line(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, str]:
    """The 1-based line and message for a YAML syntax error.

    When the parser only notices the problem at the end of the file (an unclosed quote or
    bracket), the line where the unclosed construct started is the useful one.
    """
    problem, context = exc.problem_mark, exc.context_mark
    message = f"YAML syntax error: {exc.problem or exc}"
    at_end = problem is not None and problem.index >= len(text.rstrip())
    if context is not None and (problem is None or at_end):
        return context.line + 1, f"{message} ({exc.context} that starts here)"
    mark = problem or context
    return (mark.line + 1 if mark else 1), message


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode) and key_node.value in seen:
                raise YamlSyntaxError(
                    line,
                    f"duplicate key {key_node.value!r} (first written on line "
                    f"{seen[key_node.value]}) — YAML would silently keep only the last one",
                )
            if isinstance(key_node, yaml.ScalarNode):
                seen[key_node.value] = line
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*loc, key), lines)
            lines[(*loc, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), lines)


def line_for(lines: dict[Loc, int], loc: Loc) -> int:
    """The line of ``loc`` or of its nearest written parent."""
    probe = tuple(loc)
    while probe:
        if probe in lines:
            return lines[probe]
        probe = probe[:-1]
    return lines.get((), 1)
