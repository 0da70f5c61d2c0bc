"""Limits on what a template can make the worker do: loops, sizes, powers, output and time.

Jinja's sandbox stops a template from reaching Python's internals; it does not stop one from
spending minutes or gigabytes (nested loops over ``range(100000)``, ``"x" * 10**9``,
``9**9**9``, ``"%999999999s"|format(x)``, ``lipsum(100000)``). Every render runs under a
budget: all ``range()`` loops together, the length of a multiplied string or list, the size
of a power, a formatting width, the characters rendered and the seconds spent. Crossing one
is a ``SecurityError`` naming the template's file and line: an error in ``validate`` and
``preview``, and in the send path that touch is not sent and its lead is flagged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Template
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_ITERATIONS = 100_000  # range() items per render, every loop together
MAX_SEQUENCE = 100_000  # length a multiplied string or list may reach
MAX_EXPONENT = 64  # ** beyond this (with a base other than -1, 0, 1) is refused
MAX_WIDTH = 1_000  # a field width or precision in formatting, center() or indent()
MAX_OUTPUT = 1_000_000  # characters one rendered part may hold
MAX_SECONDS = 2.0  # wall-clock time one render may take
_CHECK_EVERY = 256  # loop items between two looks at the clock
_WIDTHS = re.compile(r"%[-+ #0]*(\d*)(?:\.(\d+))?[a-zA-Z%]|\{[^{}]*?:[^{}]*?(\d+)[^{}]*\}")


@dataclass
class _Budget:
    started: float = field(default_factory=time.monotonic)
    iterations: int = 0
    characters: int = 0

    def loop(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_ITERATIONS:
            raise SecurityError(f"loops ran more than {MAX_ITERATIONS:,} times in one render")
        if self.iterations % _CHECK_EVERY == 0:
            self.clock()

    def output(self, chunk: str) -> None:
        self.characters += len(chunk)
        if self.characters > MAX_OUTPUT:
            raise SecurityError(f"the template rendered more than {MAX_OUTPUT:,} characters")

    def clock(self) -> None:
        if time.monotonic() - self.started > MAX_SECONDS:
            raise SecurityError(f"rendering took longer than {MAX_SECONDS:g} seconds")


_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


@contextmanager
def render_budget() -> Iterator[None]:
    """One budget for everything rendered inside (a touch's subject, text and HTML)."""
    token = _budget.set(_Budget())
    try:
        yield
    finally:
        _budget.reset(token)


def render_bounded(template: Template, context: dict[str, Any] | Context) -> str:
    """``template.render(context)``, stopped at the output and time limits.

    Given a Jinja ``Context`` (``template.new_context(...)``) the render fills it: what the
    template sets at its top level stays there, for rendering one of its blocks after.
    """
    budget = _budget.get() or _Budget()
    parts: list[str] = []
    chunks = (
        _generate(template, context) if isinstance(context, Context) else template.generate(context)
    )
    for chunk in chunks:
        budget.output(chunk)
        parts.append(chunk)
        if len(parts) % _CHECK_EVERY == 0:
            budget.clock()
    return "".join(parts)


def _generate(template: Template, context: Context) -> Iterator[str]:
    """``Template.generate`` on a context made by the caller (errors get template lines)."""
    try:
        yield from template.root_render_func(context)
    except Exception:
        yield template.environment.handle_exception()


def bounded_range(*args: int) -> Iterator[int]:
    """``range()`` that counts against the render's loop budget."""
    numbers = range(*args)
    if len(numbers) > MAX_ITERATIONS:
        raise SecurityError(f"range() of {len(numbers):,} items (at most {MAX_ITERATIONS:,})")
    budget = _budget.get()
    for number in numbers:
        if budget is not None:
            budget.loop()
        yield number


def check_widths(fmt: str) -> None:
    """Refuse a format string with a field width or precision beyond ``MAX_WIDTH``."""
    for match in _WIDTHS.finditer(fmt):
        widths = [int(g) for g in match.groups() if g]
        if any(width > MAX_WIDTH for width in widths):
            raise SecurityError(f"a formatting width of {max(widths):,} (at most {MAX_WIDTH:,})")


def _width_checked(name: str, original: Callable[..., Any], position: int) -> Callable[..., Any]:
    def checked(*args: Any, **kwargs: Any) -> Any:
        width = kwargs.get("width", args[position] if len(args) > position else None)
        if isinstance(width, int) and width > MAX_WIDTH:
            raise SecurityError(f"{name}() width of {width:,} (at most {MAX_WIDTH:,})")
        return original(*args, **kwargs)

    return checked


def _format_checked(original: Callable[..., Any]) -> Callable[..., Any]:
    def checked(value: Any, *args: Any, **kwargs: Any) -> Any:
        check_widths(str(value))
        return original(value, *args, **kwargs)

    return checked


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with the limits above on operators, ranges, formatting and filters."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = bounded_range
        self.globals.pop("lipsum", None)  # lorem ipsum has no place in a sales email
        self.filters["format"] = _format_checked(self.filters["format"])
        self.filters["center"] = _width_checked("center", self.filters["center"], 1)
        self.filters["indent"] = _width_checked("indent", self.filters["indent"], 1)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _large_power(left, right):
            raise SecurityError(f"a power with exponent {right!r} (at most {MAX_EXPONENT})")
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            check_widths(str(value.__self__))
        return wrapped


def _large_power(base: Any, exponent: Any) -> bool:
    if not isinstance(exponent, int | float) or not isinstance(base, int | float):
        return False
    return abs(exponent) > MAX_EXPONENT and abs(base) not in (0, 1)


def _check_repeat(sequence: Any, times: Any) -> None:
    repeats = isinstance(sequence, str | list | tuple) and isinstance(times, int)
    if repeats and len(sequence) * times > MAX_SEQUENCE:
        raise SecurityError(
            f"a string or list multiplied to {len(sequence) * times:,} items "
            f"(at most {MAX_SEQUENCE:,})"
        )


__all__ = [
    "MAX_ITERATIONS",
    "MAX_OUTPUT",
    "BoundedSandbox",
    "check_widths",
    "render_bounded",
    "render_budget",
]
