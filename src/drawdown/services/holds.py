"""Reserve, capture, release and expire holds (see :mod:`drawdown.domain.holds`).

Each runs in one write unit of work, which holds the ledger's writer lock from its first
read, so "is there enough credit?" / "is this hold still open?" and the posting that acts
on the answer are atomic on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from drawdown.domain import limits
from drawdown.domain.enforcement import Mode, Reason
from drawdown.domain.errors import (
    HoldAlreadyCaptured,
    HoldAlreadyReleased,
    HoldExpired,
    HoldNotFound,
    InsufficientCredit,
    InvalidField,
    KillSwitchEngaged,
)
from drawdown.domain.holds import Hold, HoldStatus, held_legs, hold_postings, resolution_postings
from drawdown.domain.instants import to_micros
from drawdown.domain.ledger import EntryKind, Posting, TransactionDraft, TxKind, fingerprint
from drawdown.domain.lifecycle import expiry_key
from drawdown.domain.money import format_units
from drawdown.domain.rates import cost_units
from drawdown.domain.usage import parse_quantity
from drawdown.services.common import account_of, actor_and_reason, idempotency_key, replay, unit_of
from drawdown.services.enforcement import assess, log_decision
from drawdown.services.ports import Deps, UnitOfWork


def reserve(
    deps: Deps,
    account: str,
    feature: str,
    quantity: object,
    *,
    ttl_seconds: int = limits.HOLD_TTL_SECONDS_DEFAULT,
    actor: str,
    idempotency_key_: str | None = None,
) -> Hold:
    """Hold the credit ``quantity`` of ``feature`` costs, until captured, released or expired.

    Replaying the key returns the hold as it is now. In ``enforce`` mode a hold that credit
    and overdraft headroom cannot fully cover is refused (``insufficient_credit``); in
    ``async`` and ``shadow`` modes it holds what is there (``amount_units`` may be less
    than ``requested_units``).
    """
    who, _ = actor_and_reason(actor, None, reason_required=False)
    key = idempotency_key(deps, idempotency_key_, prefix="hold")
    ttl = _ttl(ttl_seconds)
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # read under the writer lock, so instants follow the commit order
        request = {"op": "reserve", "account": account, "feature": feature, "quantity": str(quantity), "ttl": ttl}
        digest, original = replay(uow, key, request, minted=idempotency_key_ is None)
        if original is not None:
            found = uow.holds.by_transaction(original.id)
            assert found is not None, f"hold transaction {original.id} has no hold"
            return found
        payer = account_of(uow, account)
        assessed = assess(uow, payer, feature, quantity, now)
        verdict, price = assessed.verdict, assessed.price
        if not verdict.allowed:
            if verdict.reason is Reason.KILL_SWITCH:
                raise KillSwitchEngaged("the kill switch is on: every reserve is refused until it is turned off")
            raise InsufficientCredit(
                f"credit and overdraft cover {format_units(verdict.holdable_units, price.unit)} of the "
                f"{format_units(price.cost_units, price.unit)} {price.unit.code} that {price.quantity} {price.feature} "
                f"costs for {payer.id}; nothing was held",
                field="quantity",
                shortfall=format_units(price.cost_units - verdict.holdable_units, price.unit),
            )
        if assessed.mode is Mode.SHADOW and verdict.would_block:
            log_decision(uow, deps.ids.new("dec"), assessed, payer.id, now)
        legs: tuple[Posting, ...] = ()
        if assessed.drawdown is not None:
            legs = hold_postings(assessed.drawdown, verdict.overdraft_units)
        hold_id = deps.ids.new("hold")
        draft = TransactionDraft(
            kind=TxKind.HOLD, effective_at=now, postings=legs, actor=who, reason=f"hold {price.feature}",
            idempotency_key=key, fingerprint=digest, links={"hold_id": hold_id, "account_id": payer.id},
            data={"requested_units": price.cost_units, "held_units": verdict.holdable_units,
                  "feature": price.feature, "quantity": str(price.quantity), "rate": str(price.rate),
                  "rate_card": f"{price.card.id}@{price.card.version}"},
        )  # fmt: skip
        tx = uow.ledger.post_many([(draft, deps.ids.new("tx"))], now)[0]
        hold = Hold(
            hold_id, payer.id, price.unit.code, price.feature, price.quantity, price.rate, verdict.holdable_units,
            price.cost_units, HoldStatus.OPEN, now, now + timedelta(seconds=ttl), tx.id,
            overdraft_units=verdict.overdraft_units,
        )  # fmt: skip
        uow.holds.add(hold)
    return hold


def capture(deps: Deps, hold_id: str, quantity: object, *, actor: str, idempotency_key_: str | None = None) -> Hold:
    """Burn what ``quantity`` costs at the hold's rate, at most what is held; release the rest."""
    return _resolve(deps, hold_id, quantity, actor=actor, key=idempotency_key_)


def release(deps: Deps, hold_id: str, *, actor: str, idempotency_key_: str | None = None) -> Hold:
    """Return all of a hold's credit to where it came from."""
    return _resolve(deps, hold_id, None, actor=actor, key=idempotency_key_)


def _resolve(deps: Deps, hold_id: str, quantity: object, *, actor: str, key: str | None) -> Hold:
    who, _ = actor_and_reason(actor, None, reason_required=False)
    op = "release" if quantity is None else "capture"
    tx_key = idempotency_key(deps, key, prefix=op)
    request = {"op": op, "hold_id": hold_id, "quantity": None if quantity is None else str(quantity)}
    expired = False
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # read under the writer lock, so instants follow the commit order
        hold = get_hold(uow, hold_id)
        digest, original = replay(uow, tx_key, request, minted=key is None)
        if original is not None:
            return hold
        if hold.expired_at(now):
            resolved = _settle(uow, hold, 0, HoldStatus.EXPIRED, deps.ids.new("tx"), now, _expiry_draft_fields(hold))
            expired = True
        else:
            _require_open(hold)
            captured, cost = 0, None
            if quantity is not None:
                cost = cost_units(_quantity(quantity), hold.rate, unit_of(uow, hold.unit))
                captured = min(cost, hold.amount_units)
            status = HoldStatus.RELEASED if quantity is None else HoldStatus.CAPTURED
            fields = (TxKind.RELEASE if quantity is None else TxKind.CAPTURE, who, op, tx_key, digest)
            resolved = _settle(uow, hold, captured, status, deps.ids.new("tx"), now, fields, cost)
    if expired:
        raise HoldExpired(
            f"hold {hold_id} expired at {hold.expires_at.isoformat()}; its credit was released",
            field="hold_id",
            hold_id=hold_id,
            released_units=resolved.released_units,
        )
    return resolved


def expire_holds(deps: Deps, *, now: datetime | None = None) -> list[Hold]:
    """Release every open hold whose TTL has passed; safe to run any number of times."""
    expired: list[Hold] = []
    while True:
        with deps.uow(write=True) as uow:
            at = deps.clock.now() if now is None else now  # under the writer lock, so instants follow the commit order
            due = uow.holds.due(to_micros(at), limits.HOLD_EXPIRIES_PER_BATCH)
            for hold in due:
                fields = _expiry_draft_fields(hold)
                expired.append(_settle(uow, hold, 0, HoldStatus.EXPIRED, deps.ids.new("tx"), at, fields))
        if len(due) < limits.HOLD_EXPIRIES_PER_BATCH:
            return expired


def hold(deps: Deps, hold_id: str) -> Hold:
    with deps.uow(write=False) as uow:
        return get_hold(uow, hold_id)


def get_hold(uow: UnitOfWork, hold_id: object) -> Hold:
    found = uow.holds.get(hold_id) if isinstance(hold_id, str) else None
    if found is None:
        raise HoldNotFound(f"no hold has the id {str(hold_id)[:80]!r}", field="hold_id")
    return found


_DraftFields = tuple[TxKind, str, str, str, str]  # kind, actor, reason, idempotency key, fingerprint


def _expiry_draft_fields(hold: Hold) -> _DraftFields:
    digest = fingerprint({"op": "hold_expiry", "hold_id": hold.id})
    return TxKind.RELEASE, "system:hold-expiry", "expired", f"hold-expiry:{hold.id}", digest


def _settle(
    uow: UnitOfWork,
    hold: Hold,
    captured: int,
    status: HoldStatus,
    tx_id: str,
    now: datetime,
    fields: _DraftFields,
    cost: int | None = None,
) -> Hold:
    """Post the hold's one resolution and record it on the hold row.

    A capture's transaction also records what the captured quantity cost (``cost_units``), so
    a use that cost more than was held (in ``async`` or ``shadow`` mode a hold may cover less
    than was asked for) leaves a record of what went unpaid, ``cost_units - captured_units``.
    """
    kind, who, why, key, digest = fields
    legs = held_legs(uow.ledger.postings_of(hold.hold_tx_id))
    assert legs or hold.amount_units == 0, f"hold {hold.id} lost its transaction's legs"
    voided, expiring = _grant_fates(uow, legs, now)

    def return_into(leg: Posting) -> EntryKind:
        if leg.grant_id is None:
            return EntryKind.OVERDRAFT
        if leg.grant_id in voided:
            return EntryKind.VOIDED
        return EntryKind.EXPIRED if leg.grant_id in expiring else EntryKind.GRANT

    released = hold.amount_units - captured
    draft = TransactionDraft(
        kind=kind, effective_at=now, postings=resolution_postings(legs, captured, return_into), actor=who,
        reason=why, idempotency_key=key, fingerprint=digest,
        links={"hold_id": hold.id, "account_id": hold.account_id, "hold_tx_id": hold.hold_tx_id},
        data={"captured_units": captured, "released_units": released, "status": str(status)}
        | ({} if cost is None else {"cost_units": cost}),
    )  # fmt: skip
    tx = uow.ledger.post_many([(draft, tx_id)], now)[0]
    resolved = replace(
        hold, status=status, resolution_tx_id=tx.id, captured_units=captured, released_units=released, resolved_at=now
    )
    uow.holds.resolve(resolved)
    return resolved


def _grant_fates(uow: UnitOfWork, legs: list[Posting], now: datetime) -> tuple[set[str], set[str]]:
    """Which held grants were voided, and which have expired, by ``now``."""
    pairs = {(leg.owner_id, leg.grant_id) for leg in legs}
    held = sorted((owner, gid) for owner, gid in pairs if owner is not None and gid is not None)
    voided: set[str] = set()
    expiring: set[str] = set()
    for owner, grant_id in held:  # each held grant by its key: cost ∝ legs, not the owner's grants
        for state in uow.ledger.grant_states([owner], legs[0].unit, grant_id=grant_id):
            expires_at = state.grant.expires_at
            if state.voided:
                voided.add(state.grant.id)
            elif expires_at is not None and (
                now >= expires_at or uow.ledger.find_by_key(expiry_key(state.grant.id)) is not None
            ):
                expiring.add(state.grant.id)  # expired, or already swept by a sweep run with a later "now"
    return voided, expiring


def _require_open(hold: Hold) -> None:
    if hold.status is HoldStatus.CAPTURED:
        raise HoldAlreadyCaptured(f"hold {hold.id} was already captured", field="hold_id", hold_id=hold.id)
    if hold.status is HoldStatus.RELEASED:
        raise HoldAlreadyReleased(f"hold {hold.id} was already released", field="hold_id", hold_id=hold.id)
    if hold.status is HoldStatus.EXPIRED:
        raise HoldExpired(f"hold {hold.id} expired and was released", field="hold_id", hold_id=hold.id)


def _quantity(value: object) -> Decimal:
    return Decimal(parse_quantity(value)).scaleb(-limits.QUANTITY_SCALE)


def _ttl(value: object) -> int:
    low, high = limits.HOLD_TTL_SECONDS_MIN, limits.HOLD_TTL_SECONDS_MAX
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidField(f"ttl_seconds must be a whole number from {low} to {high}", field="ttl_seconds")
    return value
