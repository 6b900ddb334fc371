"""Repositories for metering: meters and usage events (enforcement's settings, rate cards and
holds are in :mod:`drawdown.storage.enforcement_store`).

None of these tables is the ledger: money moves only through ``LedgerStore.post_many``.
``usage_events`` keeps every accepted event with its dedupe key forever.
Meter aggregation is pushed into SQL (one grouped query) for quantities without property
filters; property sums, maxima, distinct counts and filters stream the matching rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    String,
    Text,
    and_,
    case,
    func,
    insert,
    select,
    update,
)

from drawdown.domain import limits
from drawdown.domain.event_batches import FlatEvent
from drawdown.domain.instants import from_micros
from drawdown.domain.usage import Aggregation, Event, Meter, PropertyValue
from drawdown.services.ports import EventRow, StoredContents
from drawdown.storage import statements as sql
from drawdown.storage.rows import dumps
from drawdown.storage.schema import meters, usage_events

_MICROS: int = 10**limits.QUANTITY_SCALE


def quantity_sum(quantity: ColumnElement[int]) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """``SUM`` of a millionths column as two sums, of whole units and of the millionths left,
    for :func:`add_sums` to join in Python: SQLite's integer ``SUM`` fails past 2**63, and one
    event may hold 10**18 millionths, while each part stays far below that."""
    return func.coalesce(func.sum(quantity // _MICROS), 0), func.coalesce(func.sum(quantity % _MICROS), 0)


def add_sums(whole: int, millionths: int) -> int:
    return int(whole) * _MICROS + int(millionths)


# PostgreSQL's binary COPY sends each column as its type's wire format, named here
_COPY_TYPES = {BigInteger: "int8", Integer: "int4", String: "text", Text: "text"}
_EVENT_COPY_TYPES = [_COPY_TYPES[type(column.type)] for column in usage_events.columns]

# The stored contents of a batch's keys, given as one JSON parameter: one plan whatever the
# batch size, and no per-key quoting. On PostgreSQL an index scan (the planner guesses a
# set-returning function's rows low; a join on the function became a hash join over the whole
# table while its statistics were young, and probing one key at a time was slower than this).
# On SQLite the batch drives a join that probes the primary key once a key (CROSS JOIN keeps
# that order): half the time of `key IN (SELECT …)`, which first builds a temporary B-tree of the keys.
_CONTENTS_PG = (
    "SELECT key, account_id, event_type, event_at, quantity, properties FROM usage_events "
    "WHERE key = ANY(ARRAY(SELECT json_array_elements_text(%s)))"
)
_CONTENTS_SQLITE = (
    "SELECT u.key, u.account_id, u.event_type, u.event_at, u.quantity, u.properties "
    "FROM json_each(?) AS b CROSS JOIN usage_events AS u ON u.key = b.value"
)


def _by_key(found: Sequence[Any]) -> dict[str, FlatEvent]:
    return {row[0]: tuple(row) for row in found}


def _pipelines() -> bool:
    """Whether psycopg's libpq can pipeline (libpq 14 or later: the binary wheel's always can)."""
    from psycopg import Pipeline  # here: a process on SQLite never imports psycopg

    return Pipeline.is_supported()


class Meters:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, meter_id: str) -> Meter | None:
        row = self.conn.execute(select(meters).where(meters.c.id == meter_id)).mappings().first()
        if row is None:
            return None
        return Meter(row["id"], row["event_type"], Aggregation(row["aggregation"]), row["property"],
                     json.loads(row["filters"]))  # fmt: skip

    def add(self, meter: Meter, created_at: int) -> None:
        self.conn.execute(
            insert(meters).values(
                id=meter.id, event_type=meter.event_type, aggregation=str(meter.aggregation),
                property=meter.property, filters=dumps(dict(meter.filters)), created_at=created_at,
            )
        )  # fmt: skip

    def event_types(self) -> set[str]:
        return set(self.conn.execute(select(meters.c.event_type).distinct()).scalars())


class Events:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def contents(self, keys: Sequence[str]) -> dict[str, FlatEvent]:
        """The flat event stored under each of ``keys`` that was accepted before, in one query."""
        if not keys:
            return {}
        raw = self.conn.connection.driver_connection
        assert raw is not None
        if self.conn.dialect.name == "postgresql":
            with raw.cursor() as cursor:
                cursor.execute(_CONTENTS_PG, (json.dumps(list(keys)),))
                return _by_key(cursor.fetchall())
        return _by_key(raw.execute(_CONTENTS_SQLITE, (json.dumps(list(keys)),)).fetchall())

    @contextmanager
    def contents_ahead(self, keys: Callable[[], Sequence[str]]) -> Iterator[StoredContents]:
        """Start reading what is stored under ``keys()`` while the caller works in the block; what
        it yields answers :meth:`contents` once the block is left (reading then any keys not
        asked ahead). On PostgreSQL the query is sent at once, in pipeline mode, so the server
        probes the keys while the caller judges the batch (~8 of the ~15 ms a 10,000-key read
        takes). SQLite would run the read in this thread anyway: there it reads when asked."""
        raw = self.conn.connection.driver_connection
        assert raw is not None
        if self.conn.dialect.name != "postgresql" or not _pipelines():
            yield self.contents
            return
        asked = keys()
        ahead: dict[str, FlatEvent] = {}
        known = set(asked)

        def contents(wanted: Sequence[str]) -> dict[str, FlatEvent]:
            late = [key for key in wanted if key not in known]
            return {**ahead, **self.contents(late)} if late else ahead

        with raw.cursor() as cursor:
            with raw.pipeline():
                cursor.execute(_CONTENTS_PG, (json.dumps(asked),))
                yield contents
            ahead.update(_by_key(cursor.fetchall()))  # leaving the pipeline waited for the rows

    def add_many(self, rows: Sequence[EventRow]) -> None:
        """Insert rows in the column order of ``usage_events``, sorted by key (index-friendly), in one statement."""
        if not rows:
            return
        ordered = sorted(rows)
        columns = ", ".join(c.name for c in usage_events.columns)
        raw = self.conn.connection.driver_connection
        assert raw is not None
        if self.conn.dialect.name == "postgresql":
            # COPY is PostgreSQL's bulk path; it runs inside this unit of work's transaction.
            # In binary, integers go as 8 bytes and text as it is, with nothing to escape.
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY usage_events ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(_EVENT_COPY_TYPES)
                for row in ordered:
                    copy.write_row(row)
            return
        marks = ", ".join("?" * len(usage_events.columns))
        raw.executemany(f"INSERT INTO usage_events ({columns}) VALUES ({marks})", ordered)

    def grouped(self, meter: Meter, account_id: str, bounds: Sequence[tuple[int, int]]) -> list[Decimal]:
        """Count, sum or max of the quantity per ``[start, end)`` bound, in one SQL query."""
        assert meter.property is None
        assert not meter.filters
        assert meter.aggregation is not Aggregation.UNIQUE_COUNT
        e = usage_events.c
        bucket = case(*((and_(e.event_at >= s, e.event_at < t), i) for i, (s, t) in enumerate(bounds)), else_=-1)
        query = (
            select(bucket.label("bucket"), func.count(), *quantity_sum(e.quantity), func.max(e.quantity))
            .where(e.account_id == account_id, e.event_type == meter.event_type)
            .where(e.event_at >= bounds[0][0], e.event_at < bounds[-1][1])
            .group_by(bucket)
        )
        values = [Decimal(0)] * len(bounds)
        for index, count, whole, millionths, top in self.conn.execute(query):
            if index < 0:
                continue
            if meter.aggregation is Aggregation.COUNT:
                values[index] = Decimal(count)
            else:
                micros = add_sums(whole, millionths) if meter.aggregation is Aggregation.SUM else int(top)
                values[index] = Decimal(micros).scaleb(-limits.QUANTITY_SCALE)
        return values

    def stream(
        self, account_id: str, event_type: str, start: int, end: int
    ) -> Iterator[tuple[int, int, dict[str, PropertyValue]]]:
        """``(event_at, quantity, properties)`` of an account's events of a type, by time."""
        e = usage_events.c
        query = (
            select(e.event_at, e.quantity, e.properties)
            .where(e.account_id == account_id, e.event_type == event_type, e.event_at >= start, e.event_at < end)
            .order_by(e.event_at)
            .execution_options(yield_per=2_000)
        )
        for at, quantity, properties in self.conn.execute(query):
            yield at, quantity, json.loads(properties)

    def unburned(self, account_ids: Sequence[str] | None, limit: int) -> list[Event]:
        e = usage_events.c
        query = select(usage_events).where(e.burned == 0).order_by(e.recorded_at, e.key).limit(limit)
        if account_ids is not None:
            query = query.where(e.account_id.in_(account_ids))
        return [
            Event(r["key"], r["account_id"], r["event_type"], from_micros(r["event_at"]), r["quantity"],
                  json.loads(r["properties"]))
            for r in self.conn.execute(query).mappings()
        ]  # fmt: skip

    def mark_burned(self, keys: Sequence[str]) -> None:
        for chunk in sql.id_chunks(keys):
            self.conn.execute(update(usage_events).where(usage_events.c.key.in_(chunk)).values(burned=1))


assert limits.QUANTITY_SCALE == 6, "Events.grouped scales sums by 10**-6"
