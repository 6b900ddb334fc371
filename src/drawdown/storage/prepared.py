"""Statements compiled once per dialect and run on the driver's cursor.

The ledger writer and the balance reads run a dozen statements per request. Built by
SQLAlchemy Core and executed through the driver's own cursor, on the connection (and so in
the transaction) of the unit of work, each costs a few microseconds instead of tens: the
SQL text, parameter order and paramstyle come from SQLAlchemy's compiler for the connected
dialect, once. Only statements whose parameters and results need no type processing
(integers, strings, NULLs) go through here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_Pick = Callable[[Mapping[str, Any]], Any]


def _picker(order: tuple[str, ...] | None) -> _Pick:
    """Parameters in the driver's shape: a dict for named paramstyles, else a tuple in ``order``."""
    if order is None:
        return dict
    if len(order) == 1:
        (name,) = order
        return lambda params: (params[name],)
    return itemgetter(*order)  # C-fast; runs for every row the ledger writer inserts


class Prepared:
    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, _Pick, dict[str, Any]]] = {}

    def _sql(self, conn: Connection) -> tuple[str, _Pick, dict[str, Any]]:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
            # Literals in the statement (``id == 1``) become parameters with fixed values.
            fixed = {name: value for name, value in compiled.params.items() if value is not None}
            found = self._compiled[dialect.name] = (compiled.string, _picker(order), fixed)
        return found

    @staticmethod
    def _params(pick: _Pick, fixed: dict[str, Any], params: Mapping[str, Any]) -> Any:
        return pick({**fixed, **params} if fixed else params)

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        sql, pick, fixed = self._sql(conn)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, self._params(pick, fixed, params or {}))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def mappings(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        sql, pick, fixed = self._sql(conn)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, self._params(pick, fixed, params or {}))
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Execute a write; return the number of rows it touched."""
        sql, pick, fixed = self._sql(conn)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, self._params(pick, fixed, params or {}))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def run_many(self, conn: Connection, params: Sequence[Mapping[str, Any]]) -> None:
        if not params:
            return
        sql, pick, fixed = self._sql(conn)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, [self._params(pick, fixed, p) for p in params])
        finally:
            cursor.close()
