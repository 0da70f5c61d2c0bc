"""Run a hot Core statement straight on the driver: compiled once, bound by its own types.

SQLAlchemy's ``Connection.execute`` costs about 0.1 ms of Python per statement (execution
context, result wrapping) and an ORM session per transaction as much again. That matters
only on the send path, where one short transaction per message is the price of the crash
guarantee. ``PreparedStatement`` compiles a Core statement once per dialect and keeps, for
each parameter, the bind processor of its column type (so a datetime is stored exactly as
SQLAlchemy stores it); ``run`` then costs one driver call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement


@dataclass(frozen=True)
class _Bind:
    name: str
    required: bool  # a parameter; else a literal of the statement (its value is kept)
    value: Any
    process: Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    binds: tuple[_Bind, ...]
    positional: bool


class PreparedStatement:
    """A Core statement compiled once per dialect, run on a DBAPI cursor."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            if any(bind.expanding for bind in compiled.binds.values()):
                raise ValueError("PreparedStatement cannot run expanding (IN-list) parameters")
            names = compiled.positiontup or list(compiled.binds)
            binds = []
            for name in names:
                bind = compiled.binds[name]
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                binds.append(_Bind(name, bool(bind.required), bind.value, process))
            found = _Compiled(compiled.string, tuple(binds), compiled.positiontup is not None)
            self._by_dialect[dialect.name] = found
        return found

    def run(self, cursor: Any, dialect: Dialect, params: Mapping[str, Any]) -> Any:
        """Execute with ``params`` (by bind name) and return the cursor."""
        compiled = self._compiled(dialect)
        values = []
        for bind in compiled.binds:
            value = params[bind.name] if bind.required else bind.value
            values.append(bind.process(value) if bind.process is not None else value)
        if compiled.positional:
            cursor.execute(compiled.sql, tuple(values))
        else:
            named = zip(compiled.binds, values, strict=True)
            cursor.execute(compiled.sql, {bind.name: value for bind, value in named})
        return cursor


__all__ = ["PreparedStatement"]
