"""The SQL unit of work: one database transaction, its repositories, commit or roll back.

A write unit of work takes the store's writer lock before its first read (see
:mod:`drawdown.storage.engine`), so everything it checks stays true until it commits.
Leaving the ``with`` block normally commits; an exception rolls everything back, so a
rejected request writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, insert, select

from drawdown.domain.accounts import Account
from drawdown.domain.grants import Grant
from drawdown.domain.money import CURRENCIES, Unit
from drawdown.storage import rows
from drawdown.storage import statements as sql
from drawdown.storage.api_store import ApiKeys, AuditRecords, IdempotencyKeys
from drawdown.storage.definition_cache import Definition, DefinitionCache
from drawdown.storage.engine import is_memory_url, writer_lock
from drawdown.storage.finops_store import FinOpsStore
from drawdown.storage.grant_cache import GrantCache
from drawdown.storage.invoicing import Contracts, Invoices, MeteredUsage, PriceBooks, StoredAvailability
from drawdown.storage.ledger_store import LedgerStore
from drawdown.storage.metering_store import Events, Holds, Meters, RateCards, Settings
from drawdown.storage.schema import accounts, grants, units


class Units:
    """Units are insert-only: one read from a committed row is cached (see definition_cache)."""

    def __init__(self, conn: Connection, cache: DefinitionCache, read: list[Definition]) -> None:
        self.conn = conn
        self.cache = cache
        self.read = read  # what this unit of work read, for the cache once it commits

    def get(self, code: str) -> Unit | None:
        if code in CURRENCIES:
            return CURRENCIES[code]
        cached = self.cache.unit(code)
        if cached is not None:
            return cached
        found = sql.P_UNIT.mappings(self.conn, {"code": code})
        if not found:
            return None
        unit = rows.unit_from(found[0])
        self.read.append(unit)
        return unit

    def add(self, unit: Unit, created_at: int) -> None:
        self.conn.execute(insert(units).values(rows.unit_row(unit, created_at)))

    def all(self) -> list[Unit]:
        stored = [rows.unit_from(r) for r in self.conn.execute(select(units).order_by(units.c.code)).mappings()]
        return stored


class Accounts:
    """Accounts are insert-only: one read from a committed row is cached (see definition_cache)."""

    def __init__(self, conn: Connection, cache: DefinitionCache, read: list[Definition]) -> None:
        self.conn = conn
        self.cache = cache
        self.read = read  # what this unit of work read, for the cache once it commits

    def get(self, account_id: str) -> Account | None:
        cached = self.cache.account(account_id)
        if cached is not None:
            return cached
        found = sql.P_ACCOUNT_BY_ID.mappings(self.conn, {"account_id": account_id})
        if not found:
            return None
        account = rows.account_from(found[0])
        self.read.append(account)
        return account

    def add(self, account: Account) -> None:
        self.conn.execute(insert(accounts).values(rows.account_row(account)))

    def existing(self, account_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(account_ids), 1_000):
            chunk = list(account_ids[i : i + 1_000])
            found.update(self.conn.execute(select(accounts.c.id).where(accounts.c.id.in_(chunk))).scalars())
        return found

    def page(self, after: str | None, limit: int, *, parent: str | None = None) -> list[Account]:
        query = select(accounts).order_by(accounts.c.id).limit(limit)
        if after is not None:
            query = query.where(accounts.c.id > after)
        if parent is not None:
            query = query.where(accounts.c.parent_id == parent)
        return [rows.account_from(r) for r in self.conn.execute(query).mappings()]

    def chain(self, account: Account) -> list[Account]:
        """The account (already loaded by the caller) and its ancestors, nearest first."""
        found: list[Account] = [account]
        current: str | None = account.parent_id
        while current is not None:
            parent = self.get(current)
            assert parent is not None, f"dangling parent {current}"
            found.append(parent)
            current = parent.parent_id
        return found


class Grants:
    def __init__(self, conn: Connection, ledger: LedgerStore) -> None:
        self.conn = conn
        self.ledger = ledger

    def get(self, grant_id: str) -> Grant | None:
        row = self.conn.execute(select(grants).where(grants.c.id == grant_id)).mappings().first()
        return None if row is None else rows.grant_from(row)

    def add(self, grant: Grant) -> None:
        self.conn.execute(insert(grants).values(rows.grant_row(grant)))
        self.ledger.add_grant_projection(grant)


class SqlUnitOfWork:
    """One database transaction. ``joined()`` is a unit of work that runs inside this one:
    entering it returns this unit of work and leaving it neither commits nor rolls back, so
    several service calls (and the API's audit record and stored response) commit together."""

    def __init__(
        self,
        engine: Engine,
        *,
        write: bool,
        grant_cache: GrantCache | None = None,
        definitions: DefinitionCache | None = None,
        connection: Connection | None = None,
    ) -> None:
        self.engine = engine
        self.write = write
        self.pinned = connection  # a connection held for a series of units of work (see pinned)
        self.grant_cache = grant_cache
        self.definitions = definitions or DefinitionCache()
        self.definitions_read: list[Definition] = []

    def __enter__(self) -> Self:
        self._lock = writer_lock(self.engine) if self.write and self.engine.dialect.name == "sqlite" else None
        if self._lock is not None:
            self._lock.acquire()
        try:
            return self._begin()
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise

    def _begin(self) -> Self:
        self.conn = self.pinned if self.pinned is not None else self.engine.connect()
        self.conn.info["write"] = self.write
        self._tx = self.conn.begin()
        if self.write and self.engine.dialect.name == "postgresql":
            # Serialise ledger writers: the head row is the chain's tip and the writer lock.
            self.conn.execute(sql.LOCK_HEAD)
        self.ledger = LedgerStore(self.conn, self.grant_cache)
        self.units = Units(self.conn, self.definitions, self.definitions_read)
        self.accounts = Accounts(self.conn, self.definitions, self.definitions_read)
        self.grants = Grants(self.conn, self.ledger)
        self.settings = Settings(self.conn)
        self.rate_cards = RateCards(self.conn, self.definitions, self.definitions_read)
        self.meters = Meters(self.conn)
        self.events = Events(self.conn)
        self.holds = Holds(self.conn)
        self.price_books = PriceBooks(self.conn)
        self.contracts = Contracts(self.conn)
        self.invoices = Invoices(self.conn)
        self.usage = MeteredUsage(self.conn)
        self.availability = StoredAvailability(self.conn)
        self.api_keys = ApiKeys(self.conn)
        self.idempotency = IdempotencyKeys(self.conn)
        self.audit = AuditRecords(self.conn)
        self.finops = FinOpsStore(self.conn)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self._tx.commit()
                self.definitions.remember(self.definitions_read)  # committed rows only
            else:
                self._tx.rollback()
        finally:
            if self.pinned is None:
                self.conn.close()
            if self._lock is not None:
                self._lock.release()

    def joined(self) -> _Joined:
        return _Joined(self)

    def change_marker(self) -> int | None:
        """This pinned connection's ``PRAGMA data_version`` (SQLite files; else None).

        SQLite changes a connection's data_version when another connection commits, never
        for the connection's own commits; a pinned connection is used by nobody else, so
        equal markers mean nobody else committed in between.
        """
        if self.pinned is None or self.engine.dialect.name != "sqlite" or is_memory_url(str(self.engine.url)):
            return None
        raw = self.conn.connection.driver_connection
        assert raw is not None
        version: int = raw.execute("PRAGMA data_version").fetchone()[0]
        return version


@contextmanager
def pinned(engine: Engine, **options: Any) -> Iterator[Callable[..., SqlUnitOfWork]]:
    """A unit-of-work factory whose units of work all run on one connection, held (and
    used by nobody else) until the ``with`` block ends."""
    with engine.connect() as connection:
        yield partial(SqlUnitOfWork, engine, connection=connection, **options)


class _Joined:
    def __init__(self, outer: SqlUnitOfWork) -> None:
        self.outer = outer

    def __enter__(self) -> SqlUnitOfWork:
        return self.outer

    def __exit__(self, *_: object) -> None:
        return None
