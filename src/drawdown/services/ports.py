"""What the services need from the outside world, as protocols.

Storage adapters implement :class:`UnitOfWork`; ``bootstrap`` wires a real clock and id
generator, tests pass fixed ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from drawdown.domain.accounts import Account
from drawdown.domain.audit import ApiKey, AuditRecord
from drawdown.domain.balances import Balance, GrantState
from drawdown.domain.grants import Grant
from drawdown.domain.ledger import EntryKind, Transaction, TransactionDraft
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
    def page(self, after: str | None, limit: int, *, parent: str | None = None) -> list[Account]: ...
    def chain(self, account_id: str) -> list[Account]: ...


class GrantRepository(Protocol):
    def get(self, grant_id: str) -> Grant | None: ...
    def add(self, grant: Grant) -> None: ...


class Ledger(Protocol):
    posted: list[str]  # ids of the transactions posted in this unit of work

    def head(self) -> tuple[int, str]: ...
    def post_many(self, drafts: Sequence[tuple[TransactionDraft, str]], recorded_at: datetime) -> list[Transaction]: ...
    def find_by_key(self, idempotency_key: str) -> Transaction | None: ...
    def get(self, tx_id: str) -> Transaction | None: ...
    def scan(self, after_seq: int, limit: int) -> list[Transaction]: ...
    def history(self, account_id: str, until: int | None, after_seq: int, limit: int) -> list[Transaction]: ...
    def grant_states(
        self, owner_ids: Sequence[str], unit: str, *, open_only: bool = False, grant_id: str | None = None
    ) -> list[GrantState]: ...
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


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A write's response kept for idempotent replay, with what identifies its request."""

    method_path: str
    request_hash: str
    status: int
    body: str
    created_at: datetime


class ApiKeyRepository(Protocol):
    def get(self, key_id: str) -> ApiKey | None: ...
    def add(self, key: ApiKey) -> None: ...
    def revoke(self, key_id: str, at: int) -> None: ...
    def all(self) -> list[ApiKey]: ...


class IdempotencyRepository(Protocol):
    def get(self, principal: str, key: str) -> StoredResponse | None: ...
    def add(self, principal: str, key: str, response: StoredResponse) -> None: ...
    def purge_before(self, at: int) -> int: ...


class AuditRepository(Protocol):
    def add(self, record: AuditRecord) -> None: ...
    def page(self, after: str | None, limit: int, *, account_id: str | None = None) -> list[AuditRecord]: ...


class UnitOfWork(Protocol):
    units: UnitRepository
    accounts: AccountRepository
    grants: GrantRepository
    ledger: Ledger
    api_keys: ApiKeyRepository
    idempotency: IdempotencyRepository
    audit: AuditRepository

    def joined(self) -> AbstractContextManager[UnitOfWork]: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Deps:
    """Everything a service needs: a unit-of-work factory, a clock and an id source."""

    uow: Callable[..., AbstractContextManager[UnitOfWork]]  # uow(write=True) for writers
    clock: Clock
    ids: Ids
