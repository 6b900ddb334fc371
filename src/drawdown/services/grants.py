"""Issuing, voiding and expiring grants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from drawdown.domain import limits
from drawdown.domain.accounts import require_metadata
from drawdown.domain.balances import GrantState
from drawdown.domain.errors import GrantAlreadyVoided, InvalidField, UnitMismatch
from drawdown.domain.grants import (
    Grant,
    Source,
    check_cap,
    check_cost_basis,
    check_priority,
    check_text,
    check_validity,
    scope_of,
)
from drawdown.domain.instants import to_micros
from drawdown.domain.ledger import EntryKind, Transaction, TransactionDraft, TxKind, fingerprint
from drawdown.domain.lifecycle import expiry_key, issue_postings, removal_postings, settlement_postings
from drawdown.domain.money import UnitKind, parse_amount
from drawdown.services.common import (
    account_of,
    actor_and_reason,
    grant_not_found,
    idempotency_key,
    instant,
    replay,
    unit_of,
)
from drawdown.services.ports import Deps, UnitOfWork

EXPIRIES_PER_BATCH = 500


@dataclass(frozen=True, slots=True)
class GrantRequest:
    """A caller's request for a grant, before validation. Amounts are decimal strings."""

    account: str
    amount: object
    unit: str
    source: str = "promotional"
    effective_at: object = None
    expires_at: object = None
    priority: object = limits.PRIORITY_DEFAULT
    scope: object = None
    cost_basis: object = "0"
    cap: object = None
    cap_period: object = None
    invoice_cap: object = None
    reason_code: object = "unspecified"
    external_ref: object = None
    metadata: Mapping[str, str] | None = None

    def fingerprint_fields(self) -> dict[str, object]:
        return {name: _plain(getattr(self, name)) for name in self.__dataclass_fields__}


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, bool | int | str) else str(value)


def issue_grant(deps: Deps, request: GrantRequest, *, actor: str, idempotency_key_: str | None = None) -> Grant:
    """Validate and save a grant, and post its issuance. Replaying the key returns the grant."""
    who, _ = actor_and_reason(actor, None, reason_required=False)
    key = idempotency_key(deps, idempotency_key_, prefix="grant")
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # under the writer lock, so instants follow the commit order
        return issue_within(deps, uow, request, actor=who, key=key, now=now)


def issue_within(deps: Deps, uow: UnitOfWork, request: GrantRequest, *, actor: str, key: str, now: datetime) -> Grant:
    """Issue a grant inside a caller's write unit of work (invoices issue rebate and SLA grants)."""
    digest, original = replay(uow, key, {"op": "issue_grant", **request.fingerprint_fields()})
    if original is not None:
        return _grant(uow, original.links["grant_id"])
    grant = _validated(uow, request, now, actor, uow.ledger.head()[0] + 1, deps.ids.new("gr"))
    uow.grants.add(grant)
    draft = TransactionDraft(
        kind=TxKind.GRANT_ISSUED,
        effective_at=min(now, grant.effective_at),
        postings=issue_postings(grant) + settlement_postings(grant, _owed(uow, grant, now)),
        actor=actor,
        reason=grant.reason_code,
        idempotency_key=key,
        fingerprint=digest,
        links={"grant_id": grant.id, "account_id": grant.account_id},
        data={"source": str(grant.source)},
    )
    uow.ledger.post_many([(draft, deps.ids.new("tx"))], now)
    return grant


def _owed(uow: UnitOfWork, grant: Grant, now: datetime) -> int:
    """What the account owes its overdraft for consumed credit, if this grant is active now.

    Overdraft still held by open holds is not settled: a release gives it back to the
    overdraft, and settling it as well would leave the account owed credit it cannot use.
    """
    if not grant.active_at(now):
        return 0
    owed = -uow.ledger.kind_totals(grant.account_id, grant.unit).get(EntryKind.OVERDRAFT, 0)
    return owed - uow.holds.open_units(grant.account_id, grant.unit, overdraft_only=True)


def _validated(uow: UnitOfWork, r: GrantRequest, now: datetime, issuer: str, seq: int, grant_id: str) -> Grant:
    account = account_of(uow, r.account)
    unit = unit_of(uow, r.unit)
    if unit.kind is UnitKind.CURRENCY and unit.code != account.currency:
        raise UnitMismatch(
            f"grant unit {unit.code} differs from account {account.id}'s currency {account.currency}; "
            "monetary credit must be in the account's currency",
            field="unit",
        )
    try:
        source = Source(str(r.source))
    except ValueError:
        raise InvalidField(f"source {r.source!r} is not one of {', '.join(Source)}", field="source") from None
    effective_at = instant(r.effective_at, field="effective_at", default=now)
    expires_at = None if r.expires_at is None else instant(r.expires_at, field="expires_at", default=now)
    check_validity(effective_at, expires_at)
    cap = None if r.cap is None else check_cap(r.cap, r.cap_period, unit, field="cap")
    return Grant(
        id=grant_id,
        account_id=account.id,
        unit=unit.code,
        amount_units=parse_amount(r.amount, unit),
        source=source,
        effective_at=effective_at,
        expires_at=expires_at,
        priority=check_priority(r.priority),
        scope=scope_of(r.scope),
        cost_basis=check_cost_basis(r.cost_basis),
        period_cap=cap,
        invoice_cap_units=None if r.invoice_cap is None else parse_amount(r.invoice_cap, unit, field="invoice_cap"),
        reason_code=check_text(r.reason_code, field="reason_code", required=True, length_max=64),
        issuer=issuer,
        external_ref=check_text(r.external_ref, field="external_ref", required=False, length_max=255) or None,
        created_seq=seq,
        created_at=now,
        metadata=require_metadata(r.metadata),
    )


def _grant(uow: UnitOfWork, grant_id: object) -> Grant:
    grant = uow.grants.get(grant_id) if isinstance(grant_id, str) else None
    if grant is None:
        raise grant_not_found(grant_id)
    return grant


def _state(uow: UnitOfWork, grant: Grant) -> GrantState:
    states = uow.ledger.grant_states([grant.account_id], grant.unit)
    return next(s for s in states if s.grant.id == grant.id)


def void_grant(
    deps: Deps, grant_id: str, *, reason: str, actor: str, idempotency_key_: str | None = None
) -> Transaction:
    """Void a grant: remove what is left of it. Irreversible; a second void is refused."""
    who, why = actor_and_reason(actor, reason, reason_required=True)
    key = idempotency_key(deps, idempotency_key_, prefix="void")
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # under the writer lock, so instants follow the commit order
        digest, original = replay(uow, key, {"op": "void_grant", "grant_id": grant_id, "reason": why})
        if original is not None:
            return original
        state = _state(uow, _grant(uow, grant_id))
        if state.voided:
            raise GrantAlreadyVoided(f"grant {grant_id} was already voided", field="grant_id", grant_id=grant_id)
        draft = TransactionDraft(
            kind=TxKind.VOID,
            effective_at=now,
            postings=removal_postings(state, EntryKind.VOIDED),
            actor=who,
            reason=why,
            idempotency_key=key,
            fingerprint=digest,
            links={"grant_id": grant_id, "account_id": state.grant.account_id},
            data={"voided_units": state.remaining_units},
        )
        return uow.ledger.post_many([(draft, deps.ids.new("tx"))], now)[0]


def expire_due(deps: Deps, *, now: datetime | None = None, actor: str = "system:expiry") -> list[Transaction]:
    """Post an expiry (breakage) for every grant past its expiry with credit left.

    Each expiry is effective exactly at the grant's ``expires_at`` and keyed by the grant, so
    running this any number of times, concurrently or late, expires each grant once. The
    cutoff is ``now`` when given, else the instant each batch is stamped, read under the
    writer lock: a sweep that waited for the lock also expires the grants that lapsed meanwhile.
    """
    posted: list[Transaction] = []
    while True:
        with deps.uow(write=True) as uow:
            recorded_at = deps.clock.now()  # under the writer lock, so instants follow the commit order
            due = uow.ledger.due_expiries(to_micros(recorded_at if now is None else now), EXPIRIES_PER_BATCH)
            drafts = [(_expiry_draft(state, actor), deps.ids.new("tx")) for state in due]
            posted.extend(uow.ledger.post_many(drafts, recorded_at))
        if len(due) < EXPIRIES_PER_BATCH:
            return posted


def _expiry_draft(state: GrantState, actor: str) -> TransactionDraft:
    grant = state.grant
    assert grant.expires_at is not None
    return TransactionDraft(
        kind=TxKind.EXPIRY,
        effective_at=grant.expires_at,
        postings=removal_postings(state, EntryKind.EXPIRED),
        actor=actor,
        reason="expired",
        idempotency_key=expiry_key(grant.id),
        fingerprint=fingerprint({"op": "expiry", "grant_id": grant.id}),
        links={"grant_id": grant.id, "account_id": grant.account_id},
        data={"expired_units": state.remaining_units},
    )
