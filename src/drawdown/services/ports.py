"""What the services need from the outside world, as protocols.

Storage adapters implement :class:`UnitOfWork`; ``bootstrap`` wires a real clock and id
generator, tests pass fixed ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from drawdown.domain.accounts import Account
from drawdown.domain.balances import Balance, GrantState
from drawdown.domain.grants import Grant
from drawdown.domain.ledger import EntryKind, StoredLink, Transaction, TransactionDraft
from drawdown.domain.money import Unit


class Clock(Protocol):
    def now(self) -> datetime: ...


class Ids(Protocol):
    def new(self, prefix: str) -> str: ...


class UnitRepository(Protocol):
    def get(self, code: str) -> Unit | None: ...
    def add(self, unit: Unit, created_at: int) -> None: ...
    def all(self) -> list[Unit]: ...


class AccountRepository(Protocol):
    def get(self, account_id: str) -> Account | None: ...
    def add(self, account: Account) -> None: ...
    def page(self, after: str | None, limit: int) -> list[Account]: ...
    def chain(self, account_id: str) -> list[Account]: ...


class GrantRepository(Protocol):
    def get(self, grant_id: str) -> Grant | None: ...
    def add(self, grant: Grant) -> None: ...


class Ledger(Protocol):
    def head(self) -> tuple[int, str]: ...
    def post_many(self, drafts: Sequence[tuple[TransactionDraft, str]], recorded_at: datetime) -> list[Transaction]: ...
    def find_by_key(self, idempotency_key: str) -> Transaction | None: ...
    def get(self, tx_id: str) -> Transaction | None: ...
    def scan(self, after_seq: int, limit: int) -> list[Transaction]: ...
    def scan_links(self, after_seq: int, through_seq: int, limit: int) -> list[StoredLink]: ...
    def history(self, account_id: str, until: int | None, after_seq: int, limit: int) -> list[Transaction]: ...
    def grant_states(self, owner_ids: Sequence[str], unit: str, *, open_only: bool = False) -> list[GrantState]: ...
    def kind_totals(self, account_id: str, unit: str) -> dict[EntryKind, int]: ...
    def cached_balance(self, account_id: str, unit: str, now: datetime) -> Balance | None: ...
    def states_as_of(
        self, account_id: str, unit: str, as_of: datetime
    ) -> tuple[list[GrantState], dict[EntryKind, int]]: ...
    def drawn_between(
        self,
        *,
        grant_id: str | None = None,
        account_id: str | None = None,
        unit: str = "",
        start: int,
        end: int,
        pooled_only: bool = False,
    ) -> int: ...
    def due_expiries(self, now: int, limit: int) -> list[GrantState]: ...


class UnitOfWork(Protocol):
    """One database transaction and the repositories that work inside it."""

    @property
    def units(self) -> UnitRepository: ...
    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def grants(self) -> GrantRepository: ...
    @property
    def ledger(self) -> Ledger: ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class CurrentBalances(Protocol):
    """A fast path to an account's current balance; ``None`` when it cannot answer exactly."""

    def current(self, account_id: str, unit: str | None, now: datetime) -> Balance | None: ...


@dataclass(frozen=True, slots=True)
class Deps:
    """Everything a service needs: a unit-of-work factory, a clock and an id source."""

    uow: Callable[..., UnitOfWork]  # uow(write=True) for writers
    clock: Clock
    ids: Ids
    current_balances: CurrentBalances | None = None
