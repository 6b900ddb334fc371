"""Mapping between table rows and domain values: the only place that knows both shapes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from drawdown.domain import limits
from drawdown.domain.accounts import Account, Cap, CapPeriod, DrawdownPolicy
from drawdown.domain.grants import Category, Grant, Scope, ScopeKind, Source
from drawdown.domain.instants import from_micros, to_micros
from drawdown.domain.ledger import EntryKind, Posting, StoredLink, Transaction, TxKind, TxParts, canonical_json
from drawdown.domain.money import Unit, UnitKind

dumps = canonical_json  # every JSON column holds the canonical text the hash chain covers


def unit_row(unit: Unit, created_at: int) -> dict[str, Any]:
    return {
        "code": unit.code,
        "kind": str(unit.kind),
        "scale": unit.scale,
        "minor_digits": unit.minor_digits,
        "created_at": created_at,
    }


def unit_from(row: Mapping[Any, Any]) -> Unit:
    return Unit(row["code"], UnitKind(row["kind"]), row["scale"], row["minor_digits"])


def account_row(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "currency": account.currency,
        "time_zone": account.time_zone,
        "parent_id": account.parent_id,
        "drawdown_policy": str(account.drawdown_policy),
        "pool_caps": dumps({unit: [cap.amount_units, str(cap.period)] for unit, cap in account.pool_caps.items()}),
        "metadata": dumps(account.metadata),
        "created_at": to_micros(account.created_at),
    }


def account_from(row: Mapping[Any, Any]) -> Account:
    caps = {unit: Cap(amount, CapPeriod(period)) for unit, (amount, period) in json.loads(row["pool_caps"]).items()}
    return Account(
        id=row["id"],
        currency=row["currency"],
        time_zone=row["time_zone"],
        parent_id=row["parent_id"],
        drawdown_policy=DrawdownPolicy(row["drawdown_policy"]),
        created_at=from_micros(row["created_at"]),
        pool_caps=caps,
        metadata={} if row["metadata"] == "{}" else json.loads(row["metadata"]),  # most grants have none
    )


def grant_row(grant: Grant) -> dict[str, Any]:
    return {
        "id": grant.id,
        "account_id": grant.account_id,
        "unit": grant.unit,
        "amount_units": grant.amount_units,
        "source": str(grant.source),
        "effective_at": to_micros(grant.effective_at),
        "expires_at": None if grant.expires_at is None else to_micros(grant.expires_at),
        "priority": grant.priority,
        "scope_kind": str(grant.scope.kind),
        "scope_category": None if grant.scope.category is None else str(grant.scope.category),
        "scope_products": dumps(list(grant.scope.products)),
        "cost_basis": str(grant.cost_basis),
        "cap_units": None if grant.period_cap is None else grant.period_cap.amount_units,
        "cap_period": None if grant.period_cap is None else str(grant.period_cap.period),
        "invoice_cap_units": grant.invoice_cap_units,
        "reason_code": grant.reason_code,
        "issuer": grant.issuer,
        "external_ref": grant.external_ref,
        "metadata": dumps(grant.metadata),
        "created_seq": grant.created_seq,
        "created_at": to_micros(grant.created_at),
    }


_SOURCES = {str(s): s for s in Source}
_SCOPES: dict[tuple[str, str | None, str], Scope] = {}  # scopes are few and immutable; bounded below


def _scope(kind: str, category: str | None, products: str) -> Scope:
    found = _SCOPES.get((kind, category, products))
    if found is None:
        found = Scope(
            ScopeKind(kind),
            None if category is None else Category(category),
            () if products == "[]" else tuple(json.loads(products)),
        )
        if len(_SCOPES) < limits.DEFINITION_CACHE_ENTRIES_MAX:
            _SCOPES[(kind, category, products)] = found
    return found


def grant_from(row: Mapping[Any, Any]) -> Grant:
    """A stored grant (loading a page of invoices builds tens of thousands: enums and scopes
    are looked up, not constructed)."""
    cap = None if row["cap_units"] is None else Cap(row["cap_units"], CapPeriod(row["cap_period"]))
    return Grant(
        id=row["id"],
        account_id=row["account_id"],
        unit=row["unit"],
        amount_units=row["amount_units"],
        source=_SOURCES[row["source"]],
        effective_at=from_micros(row["effective_at"]),
        expires_at=None if row["expires_at"] is None else from_micros(row["expires_at"]),
        priority=row["priority"],
        scope=_scope(row["scope_kind"], row["scope_category"], row["scope_products"]),
        cost_basis=Decimal(row["cost_basis"]),
        period_cap=cap,
        invoice_cap_units=row["invoice_cap_units"],
        reason_code=row["reason_code"],
        issuer=row["issuer"],
        external_ref=row["external_ref"],
        created_seq=row["created_seq"],
        created_at=from_micros(row["created_at"]),
        metadata={} if row["metadata"] == "{}" else json.loads(row["metadata"]),  # most grants have none
    )


def transaction_row(tx_parts: TxParts, prev_hash: str, digest: str) -> dict[str, Any]:
    """The stored row of a transaction, built from the very parts its hash covers."""
    tx_id, seq, kind, effective, recorded, actor, reason, key, fingerprint, links, data, _ = tx_parts
    return {
        "seq": seq, "id": tx_id, "kind": kind, "idempotency_key": key, "fingerprint": fingerprint,
        "effective_at": effective, "recorded_at": recorded, "actor": actor, "reason": reason,
        "links": links, "data": data, "prev_hash": prev_hash, "hash": digest,
    }  # fmt: skip


_ENTRY_FIELDS = ("kind", "account_id", "unit", "amount", "grant_id", "owner_id", "detail")


def entry_rows(tx_parts: TxParts) -> list[dict[str, Any]]:
    seq, effective, legs = tx_parts[1], tx_parts[3], tx_parts[11]
    return [
        {"tx_seq": seq, "leg": leg, "effective_at": effective, **dict(zip(_ENTRY_FIELDS, values, strict=True))}
        for leg, values in enumerate(legs)
    ]


def posting_from(row: Mapping[Any, Any]) -> Posting:
    detail = row["detail"]
    return Posting(
        kind=EntryKind(row["kind"]),
        account_id=row["account_id"],
        unit=row["unit"],
        amount=row["amount"],
        grant_id=row["grant_id"],
        owner_id=row["owner_id"],
        detail=None if detail is None else json.loads(detail),
    )


def transaction_from(row: Mapping[Any, Any], postings: tuple[Posting, ...]) -> Transaction:
    return Transaction(
        id=row["id"],
        seq=row["seq"],
        kind=TxKind(row["kind"]),
        effective_at=from_micros(row["effective_at"]),
        recorded_at=from_micros(row["recorded_at"]),
        postings=postings,
        actor=row["actor"],
        reason=row["reason"],
        idempotency_key=row["idempotency_key"],
        fingerprint=row["fingerprint"],
        links=json.loads(row["links"]),
        data=json.loads(row["data"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


# Column orders the verifier selects, matching the order of a transaction's parts.
LINK_TX_COLUMNS = (
    "id", "seq", "kind", "effective_at", "recorded_at", "actor", "reason", "idempotency_key", "fingerprint",
    "links", "data", "prev_hash", "hash",
)  # fmt: skip
LINK_ENTRY_COLUMNS = ("tx_seq", *_ENTRY_FIELDS, "effective_at")


def link_from(tx: Sequence[Any], legs: list[Sequence[Any]]) -> StoredLink:
    """A stored transaction row and its entry rows (selected in the orders above) as the
    verifier's primitives, undecoded."""
    in_step = all(leg[-1] == tx[3] for leg in legs)  # tx[3]: the transaction's effective_at
    return StoredLink((*tx[:11], [list(leg[1:-1]) for leg in legs]), tx[11], tx[12], in_step)
