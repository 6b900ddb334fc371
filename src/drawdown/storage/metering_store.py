"""Repositories for metering and enforcement: settings, rate cards, meters, events, holds.

None of these tables is the ledger: money moves only through ``LedgerStore.post_many``.
``holds`` is a status projection written in the same unit of work as the hold's ledger
transactions; ``usage_events`` keeps every accepted event with its dedupe key forever.
Meter aggregation is pushed into SQL (one grouped query) for quantities without property
filters; property sums, maxima, distinct counts and filters stream the matching rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
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
from drawdown.domain.enforcement import AccountEnforcement, Mode
from drawdown.domain.event_batches import FlatEvent
from drawdown.domain.holds import Hold, HoldStatus
from drawdown.domain.instants import from_micros, to_micros
from drawdown.domain.rates import RateCard
from drawdown.domain.usage import Aggregation, Event, Meter, PropertyValue
from drawdown.services.ports import EventRow, StoredContents
from drawdown.storage import statements as sql
from drawdown.storage.definition_cache import Definition, DefinitionCache
from drawdown.storage.rows import dumps
from drawdown.storage.schema import (
    account_enforcement,
    enforcement_decisions,
    holds,
    meters,
    rate_cards,
    settings,
    usage_events,
)
from drawdown.storage.settings_cache import SettingsCache

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


class Settings:
    """Settings and per-account enforcement; on the SQLite writer connection, read through
    :class:`~drawdown.storage.settings_cache.SettingsCache` (which every write here empties)."""

    def __init__(self, conn: Connection, cache: SettingsCache | None = None) -> None:
        self.conn = conn
        self.cache = cache

    def get(self, key: str) -> str | None:
        if self.cache is not None:
            return self.cache.get(("setting", key), lambda: self._get(key))
        return self._get(key)

    def _get(self, key: str) -> str | None:
        found = sql.P_SETTING.rows(self.conn, {"key": key})
        return found[0][0] if found else None

    def put(self, key: str, value: str) -> None:
        if self.cache is not None:
            self.cache.invalidate()
        if self.conn.execute(update(settings).where(settings.c.key == key).values(value=value)).rowcount == 0:
            self.conn.execute(insert(settings).values(key=key, value=value))

    def enforcement(self, account_id: str) -> AccountEnforcement:
        if self.cache is not None:
            return self.cache.get(("enforcement", account_id), lambda: self._enforcement(account_id))
        return self._enforcement(account_id)

    def _enforcement(self, account_id: str) -> AccountEnforcement:
        found = sql.P_ACCOUNT_ENFORCEMENT.mappings(self.conn, {"account_id": account_id})
        if not found:
            return AccountEnforcement(account_id)
        row = found[0]
        return AccountEnforcement(
            account_id, Mode(row["mode"]), json.loads(row["overdraft_limits"]), row["rate_card_id"],
            row["rate_card_version"],
        )  # fmt: skip

    def put_enforcement(self, value: AccountEnforcement) -> None:
        if self.cache is not None:
            self.cache.invalidate()
        fields = {
            "mode": str(value.mode), "overdraft_limits": dumps(value.overdraft_limits or {}),
            "rate_card_id": value.rate_card_id, "rate_card_version": value.rate_card_version,
        }  # fmt: skip
        t = account_enforcement
        if self.conn.execute(update(t).where(t.c.account_id == value.account_id).values(fields)).rowcount == 0:
            self.conn.execute(insert(t).values(account_id=value.account_id, **fields))

    def in_mode(self, mode: Mode, account_ids: Sequence[str]) -> set[str]:
        """Which of ``account_ids`` are set to ``mode`` (the default mode is never stored, so ask for others)."""
        assert mode is not Mode.ENFORCE, "accounts without settings are in enforce mode"
        t = account_enforcement.c
        found: set[str] = set()
        for chunk in sql.id_chunks(account_ids):
            query = select(t.account_id).where(t.mode == str(mode), t.account_id.in_(chunk))
            found.update(self.conn.execute(query).scalars())
        return found

    def log_decision(self, row: dict[str, Any]) -> None:
        self.conn.execute(insert(enforcement_decisions).values(row))

    def decisions(self, account_id: str) -> list[dict[str, Any]]:
        t = enforcement_decisions.c
        query = select(enforcement_decisions).where(t.account_id == account_id).order_by(t.decided_at, t.id)
        return [dict(r) for r in self.conn.execute(query).mappings()]


class RateCards:
    """Versions are insert-only: one read from a committed row is cached (see definition_cache)."""

    def __init__(
        self, conn: Connection, cache: DefinitionCache, read: list[Definition], settings: SettingsCache | None = None
    ) -> None:
        self.conn = conn
        self.cache = cache
        self.read = read  # what this unit of work read, for the cache once it commits
        self.settings = settings  # the newest version of each card, on the SQLite writer connection

    def latest_version(self, card_id: str) -> int:
        found = self.conn.execute(select(func.max(rate_cards.c.version)).where(rate_cards.c.id == card_id)).scalar()
        return int(found or 0)

    def add(self, card: RateCard, created_at: int) -> None:
        if self.settings is not None:
            self.settings.invalidate()
        self.conn.execute(
            insert(rate_cards).values(
                id=card.id, version=card.version, unit=card.unit, effective_at=to_micros(card.effective_at),
                rates=dumps({k: str(v) for k, v in card.rates.items()}), created_at=created_at,
            )
        )  # fmt: skip

    def get(self, card_id: str, version: int | None, at: datetime) -> RateCard | None:
        """Version ``version``, or the newest version effective at ``at`` when it is None."""
        if version is None:
            version = self._in_force(card_id, to_micros(at))
            if version is None:
                return None
        cached = self.cache.rate_card(card_id, version)
        if cached is not None:
            return cached
        found = sql.P_RATE_CARD.mappings(self.conn, {"card_id": card_id, "version": version})
        if not found:
            return None
        row = found[0]
        rates = MappingProxyType({k: Decimal(v) for k, v in json.loads(row["rates"]).items()})  # shared: read-only
        card = RateCard(row["id"], row["version"], row["unit"], from_micros(row["effective_at"]), rates)
        self.read.append(card)
        return card

    def _in_force(self, card_id: str, at: int) -> int | None:
        """The newest version effective at ``at``. Which one that is changes when a version is
        added, so it is read from the store, or from the settings cache, which a new version
        empties: the newest version is the answer whenever it is already effective."""
        if self.settings is not None:
            newest = self.settings.get(("newest_rate_card", card_id), lambda: self._newest(card_id))
            if newest is not None and newest[1] <= at:
                return newest[0]
        in_force = sql.P_RATE_CARD_IN_FORCE.rows(self.conn, {"card_id": card_id, "at": at})
        return int(in_force[0][0]) if in_force else None

    def _newest(self, card_id: str) -> tuple[int, int] | None:
        found = sql.P_NEWEST_RATE_CARD.rows(self.conn, {"card_id": card_id})
        return (int(found[0][0]), int(found[0][1])) if found else None


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


class Holds:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, hold: Hold) -> None:
        sql.P_INSERT_HOLD.run(self.conn, _hold_row(hold))

    def get(self, hold_id: str) -> Hold | None:
        found = sql.P_HOLD_BY_ID.mappings(self.conn, {"hold_id": hold_id})
        return _hold_from(found[0]) if found else None

    def by_transaction(self, tx_id: str) -> Hold | None:
        row = self.conn.execute(select(holds).where(holds.c.hold_tx_id == tx_id)).mappings().first()
        return None if row is None else _hold_from(row)

    def resolve(self, hold: Hold) -> None:
        """Record a resolution; only an open hold can resolve (the writer lock is held)."""
        row = _hold_row(hold)
        values = {f"v_{name}": row[name] for name in sql.HOLD_RESOLUTION_COLUMNS}
        changed = sql.P_RESOLVE_HOLD.run(self.conn, {"hold_id": hold.id, **values})
        assert changed == 1, f"hold {hold.id} was not open"

    def due(self, now: int, limit: int) -> list[Hold]:
        t = holds.c
        query = (
            select(holds)
            .where(t.status == str(HoldStatus.OPEN), t.expires_at <= now)
            .order_by(t.expires_at, t.id)
            .limit(limit)
        )
        return [_hold_from(r) for r in self.conn.execute(query).mappings()]

    def open_units(self, account_id: str, unit: str, *, overdraft_only: bool = False) -> int:
        """What the account's open holds hold in ``unit`` (only their overdraft parts if asked)."""
        t = holds.c
        column = t.overdraft_units if overdraft_only else t.amount_units
        query = select(func.coalesce(func.sum(column), 0)).where(
            t.account_id == account_id, t.unit == unit, t.status == str(HoldStatus.OPEN)
        )
        return int(self.conn.execute(query).scalar_one())


def _hold_row(hold: Hold) -> dict[str, Any]:
    return {
        "id": hold.id, "account_id": hold.account_id, "unit": hold.unit, "feature": hold.feature,
        "quantity": str(hold.quantity), "rate": str(hold.rate), "amount_units": hold.amount_units,
        "requested_units": hold.requested_units, "overdraft_units": hold.overdraft_units, "status": str(hold.status),
        "created_at": to_micros(hold.created_at), "expires_at": to_micros(hold.expires_at),
        "hold_tx_id": hold.hold_tx_id, "resolution_tx_id": hold.resolution_tx_id,
        "captured_units": hold.captured_units, "released_units": hold.released_units,
        "resolved_at": None if hold.resolved_at is None else to_micros(hold.resolved_at),
    }  # fmt: skip


def _hold_from(row: Any) -> Hold:
    return Hold(
        id=row["id"], account_id=row["account_id"], unit=row["unit"], feature=row["feature"],
        quantity=Decimal(row["quantity"]), rate=Decimal(row["rate"]), amount_units=row["amount_units"],
        requested_units=row["requested_units"], overdraft_units=row["overdraft_units"],
        status=HoldStatus(row["status"]),
        created_at=from_micros(row["created_at"]), expires_at=from_micros(row["expires_at"]),
        hold_tx_id=row["hold_tx_id"], resolution_tx_id=row["resolution_tx_id"],
        captured_units=row["captured_units"], released_units=row["released_units"],
        resolved_at=None if row["resolved_at"] is None else from_micros(row["resolved_at"]),
    )  # fmt: skip


assert limits.QUANTITY_SCALE == 6, "Events.grouped scales sums by 10**-6"
