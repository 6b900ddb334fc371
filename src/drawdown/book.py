"""The embedded Python API: ``drawdown.open(url)`` returns a :class:`Book`.

A book is the same engine the server runs, without the server: every method is one
service call in one database transaction. Amounts go in as decimal strings (or
``Decimal``); floats are refused. Instants are aware datetimes or ISO 8601 strings.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Engine

from drawdown import bootstrap
from drawdown.domain import limits
from drawdown.domain.access import Principal
from drawdown.domain.accounts import Account
from drawdown.domain.audit import ApiKey, AuditRecord
from drawdown.domain.balances import Balance
from drawdown.domain.grants import Grant
from drawdown.domain.ledger import Transaction
from drawdown.domain.money import Unit
from drawdown.services import accounts, charges, grants, keys, queries, requests
from drawdown.services.charges import ChargeResult
from drawdown.services.grants import GrantRequest
from drawdown.services.keys import CreatedKey
from drawdown.services.ports import Clock, Deps
from drawdown.services.queries import GrantView, VerifyReport


class Book:
    """A credit ledger stored at one database URL."""

    def __init__(self, deps: Deps, engine: Engine, *, actor: str = "library") -> None:
        self.deps = deps
        self.engine = engine
        self.actor = actor

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Book:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- set-up --------------------------------------------------------------------------

    def define_unit(self, code: str, *, scale: int) -> Unit:
        """Define a custom credit unit such as ``API_CREDIT`` kept at ``scale`` decimals."""
        return accounts.define_unit(self.deps, code, scale)

    def create_account(
        self,
        account_id: str,
        *,
        currency: str,
        time_zone: str = "UTC",
        parent: str | None = None,
        drawdown_policy: str = "default",
        pool_caps: Mapping[str, tuple[object, str]] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Account:
        """Create an account. ``pool_caps`` maps a unit to (amount, period): the sub-budget
        this account may draw from its ancestors' grants per day, week, month or lifetime."""
        return accounts.create_account(
            self.deps, account_id, currency=currency, time_zone=time_zone, parent=parent,
            drawdown_policy=drawdown_policy, pool_caps=pool_caps, metadata=metadata,
        )  # fmt: skip

    # -- writes --------------------------------------------------------------------------

    def issue_grant(
        self,
        account: str,
        amount: object,
        unit: str,
        *,
        idempotency_key: str | None = None,
        actor: str | None = None,
        **fields: object,
    ) -> Grant:
        """Issue a grant; ``fields`` are those of :class:`GrantRequest` (source, expires_at,
        priority, scope, cost_basis, cap, cap_period, invoice_cap, reason_code, …)."""
        request = GrantRequest(account=account, amount=amount, unit=unit, **fields)  # type: ignore[arg-type]
        return grants.issue_grant(self.deps, request, actor=actor or self.actor, idempotency_key_=idempotency_key)

    def charge(
        self,
        account: str,
        amount: object,
        unit: str,
        *,
        category: str = "usage",
        product: str = "default",
        at: object = None,
        allow_partial: bool = False,
        idempotency_key: str | None = None,
        actor: str | None = None,
        reason: str = "",
    ) -> ChargeResult:
        """Burn credit for a charge through the drawdown order."""
        return charges.charge(
            self.deps, account, amount, unit, category=category, product=product, at=at,
            allow_partial=allow_partial, actor=actor or self.actor, reason=reason, idempotency_key_=idempotency_key,
        )  # fmt: skip

    def void_grant(
        self, grant_id: str, *, reason: str, idempotency_key: str | None = None, actor: str | None = None
    ) -> Transaction:
        """Void a grant's unused remainder. Irreversible; what was consumed stays consumed."""
        return grants.void_grant(
            self.deps, grant_id, reason=reason, actor=actor or self.actor, idempotency_key_=idempotency_key
        )

    def expire_due(self, *, now: datetime | None = None) -> list[Transaction]:
        """Expire every grant whose expiry has passed; safe to run any number of times."""
        return grants.expire_due(self.deps, now=now)

    # -- reads ---------------------------------------------------------------------------

    def unit(self, code: str) -> Unit:
        """A currency or defined credit unit, with the scale its amounts are kept at."""
        return queries.unit(self.deps, code)

    def balance(self, account: str, unit: str | None = None, *, as_of: object = None) -> Balance:
        return queries.balance(self.deps, account, unit, as_of=as_of)

    def grants(self, account: str, unit: str | None = None, *, as_of: object = None) -> list[GrantView]:
        return queries.grants(self.deps, account, unit, as_of=as_of)

    def ledger(self, account: str, *, as_of: object = None, after_seq: int = 0, limit: int = 100) -> list[Transaction]:
        return queries.ledger(self.deps, account, as_of=as_of, after_seq=after_seq, limit=limit)

    def verify(self) -> VerifyReport:
        return queries.verify(self.deps)

    def account(self, account_id: str) -> Account:
        return queries.account(self.deps, account_id)

    def accounts(self, *, after: str | None = None, limit: int = 100, parent: str | None = None) -> list[Account]:
        return queries.accounts(self.deps, after=after, limit=limit, parent=parent)

    def grant(self, grant_id: str, *, as_of: object = None) -> GrantView:
        return queries.grant(self.deps, grant_id, as_of=as_of)

    def audit(self, *, after: str | None = None, limit: int = 100, account: str | None = None) -> list[AuditRecord]:
        """The audit trail (A1): every write with its actor, request, reason and transactions."""
        return queries.audit(self.deps, after=after, limit=limit, account=account)

    # -- API keys ------------------------------------------------------------------------

    def create_key(
        self, role: str, *, account: str | None = None, grant_limit: str | None = None, label: str = ""
    ) -> CreatedKey:
        """Create an API key; ``CreatedKey.token`` is the only time the secret is shown."""
        return keys.create_key(
            self.deps, role, secret=secrets.token_urlsafe(32), account=account, grant_limit=grant_limit,
            label=label, actor=self.actor,
        )  # fmt: skip

    def revoke_key(self, key_id: str) -> ApiKey:
        return keys.revoke_key(self.deps, key_id, actor=self.actor)

    def keys(self) -> list[ApiKey]:
        return keys.list_keys(self.deps)

    def authenticate(self, token: str) -> Principal:
        return keys.authenticate(self.deps, token)

    def purge_stored_responses(self, *, keep_seconds: int = limits.IDEMPOTENCY_RETENTION_SECONDS) -> int:
        """Delete API responses kept for idempotent replay once older than ``keep_seconds`` (≥ 24 h)."""
        return requests.purge_stored_responses(self.deps, keep_seconds=keep_seconds)


def open_book(url: str | None = None, *, clock: Clock | None = None, actor: str = "library") -> Book:
    """Open (creating and migrating if needed) the book at ``url``.

    ``url`` defaults to ``$DRAWDOWN_DB`` or ``sqlite:///drawdown.db``.
    """
    deps, engine = bootstrap.build(url, clock=clock)
    return Book(deps, engine, actor=actor)
