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
from typing import Any, Generic, Self, TypeVar, overload

from sqlalchemy import Connection, Engine, insert, select

from drawdown.domain.accounts import Account
from drawdown.domain.grants import Grant
from drawdown.domain.money import CURRENCIES, Unit
from drawdown.storage import rows
from drawdown.storage import statements as sql
from drawdown.storage.api_store import ApiKeys, AuditRecords, IdempotencyKeys
from drawdown.storage.definition_cache import Definition, DefinitionCache
from drawdown.storage.enforcement_store import Holds, RateCards, Settings
from drawdown.storage.engine import data_version, is_memory_url, writer_lock
from drawdown.storage.finops_store import FinOpsStore
from drawdown.storage.grant_cache import GrantCache
from drawdown.storage.invoicing import Contracts, Invoices, MeteredUsage, PriceBooks, StoredAvailability
from drawdown.storage.ledger_store import LedgerStore
from drawdown.storage.metering_store import Events, Meters
from drawdown.storage.schema import accounts, grants, units
from drawdown.storage.settings_cache import SettingsCache
from drawdown.storage.writer import WriterConnection


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
        for chunk in sql.id_chunks(account_ids):
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


R = TypeVar("R")


class _made_on_first_use(Generic[R]):  # noqa: N801 - reads like functools.cached_property where it is used
    """A unit of work's repository, made on first use and kept in the instance's ``__dict__``
    (which then answers every later lookup): ``functools.cached_property`` without the lock
    it takes in Python 3.11, which costs more than making a repository."""

    def __init__(self, make: Callable[[SqlUnitOfWork], R]) -> None:
        self.make = make
        self.name = ""

    def __set_name__(self, owner: type[SqlUnitOfWork], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, uow: None, owner: type[SqlUnitOfWork]) -> _made_on_first_use[R]: ...
    @overload
    def __get__(self, uow: SqlUnitOfWork, owner: type[SqlUnitOfWork]) -> R: ...
    def __get__(self, uow: SqlUnitOfWork | None, owner: type[SqlUnitOfWork]) -> R | _made_on_first_use[R]:
        if uow is None:
            return self
        made = uow.__dict__[self.name] = self.make(uow)
        return made


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
        writer: WriterConnection | None = None,
    ) -> None:
        self.engine = engine
        self.write = write
        self.pinned = connection  # a connection held for a series of units of work (see pinned)
        self.writer = writer if write and connection is None else None
        self._shared: Connection | None = None  # the writer's connection, while this unit of work has it
        self.settings_cache: SettingsCache | None = None  # only on the writer's connection
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
            self._let_go()
            raise

    def _begin(self) -> Self:
        if self.writer is not None and self._lock is not None:
            self._shared = self.writer.take()
        self.conn = self.pinned or self._shared or self.engine.connect()
        self.conn.info["write"] = self.write
        self._tx = self.conn.begin()
        if self._shared is not None:
            assert self.writer is not None
            self.settings_cache = self.writer.begun(self._shared)
        if self.write and self.engine.dialect.name == "postgresql":
            # Serialise ledger writers: the head row is the chain's tip and the writer lock.
            self.conn.execute(sql.LOCK_HEAD)
        return self

    # Repositories are made on first use: a unit of work uses two or three of them.
    ledger = _made_on_first_use(lambda uow: LedgerStore(uow.conn, uow.grant_cache))
    units = _made_on_first_use(lambda uow: Units(uow.conn, uow.definitions, uow.definitions_read))
    accounts = _made_on_first_use(lambda uow: Accounts(uow.conn, uow.definitions, uow.definitions_read))
    grants = _made_on_first_use(lambda uow: Grants(uow.conn, uow.ledger))
    settings = _made_on_first_use(lambda uow: Settings(uow.conn, uow.settings_cache))
    rate_cards = _made_on_first_use(
        lambda uow: RateCards(uow.conn, uow.definitions, uow.definitions_read, uow.settings_cache)
    )
    meters = _made_on_first_use(lambda uow: Meters(uow.conn))
    events = _made_on_first_use(lambda uow: Events(uow.conn))
    holds = _made_on_first_use(lambda uow: Holds(uow.conn))
    price_books = _made_on_first_use(lambda uow: PriceBooks(uow.conn))
    contracts = _made_on_first_use(lambda uow: Contracts(uow.conn))
    invoices = _made_on_first_use(lambda uow: Invoices(uow.conn))
    usage = _made_on_first_use(lambda uow: MeteredUsage(uow.conn))
    availability = _made_on_first_use(lambda uow: StoredAvailability(uow.conn))
    api_keys = _made_on_first_use(lambda uow: ApiKeys(uow.conn))
    idempotency = _made_on_first_use(lambda uow: IdempotencyKeys(uow.conn))
    audit = _made_on_first_use(lambda uow: AuditRecords(uow.conn))
    finops = _made_on_first_use(lambda uow: FinOpsStore(uow.conn))

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
            self._let_go()

    def _let_go(self) -> None:
        """Hand the connection back (the writer's, or close one of the pool's; a pinned one
        stays open) and release the writer lock: after the transaction, or a failed begin."""
        try:
            if self._shared is not None:
                assert self.writer is not None
                self.writer.give_back(self._shared)
            elif self.pinned is None and getattr(self, "conn", None) is not None:
                self.conn.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def joined(self) -> _Joined:
        return _Joined(self)

    def change_marker(self) -> int | None:
        """This pinned connection's ``PRAGMA data_version`` (SQLite files; else None): a
        pinned connection is used by nobody else, so equal markers mean nobody else
        committed in between."""
        if self.pinned is None or self.engine.dialect.name != "sqlite" or is_memory_url(str(self.engine.url)):
            return None
        return data_version(self.conn)


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
