"""Small helpers every service shares: lookups that raise typed errors, and idempotent replay."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from drawdown.domain import limits
from drawdown.domain.accounts import Account, CapPeriod, is_text
from drawdown.domain.errors import (
    AccountNotFound,
    GrantNotFound,
    IdempotencyConflict,
    InvalidField,
    InvalidPeriod,
    UnitNotFound,
)
from drawdown.domain.grants import check_text
from drawdown.domain.instants import calendar_period, require_aware, to_micros, zone
from drawdown.domain.ledger import Transaction, fingerprint
from drawdown.domain.money import Unit
from drawdown.services.ports import Deps, UnitOfWork

CLOCK_SKEW = timedelta(minutes=5)


def unit_of(uow: UnitOfWork, code: object) -> Unit:
    if not isinstance(code, str) or not code:
        raise InvalidField("unit must be a currency or credit unit code such as USD", field="unit")
    unit = uow.units.get(code)
    if unit is None:
        raise UnitNotFound(
            f"unit {code[:40]!r} is neither an ISO 4217 currency drawdown knows nor a defined credit unit; "
            "define it first with define_unit",
            field="unit",
            unit=code[:40],
        )
    return unit


def account_not_found(account_id: object, *, field: str = "account") -> AccountNotFound:
    """The one 'no such account' error, so a fenced-off account reads exactly like a missing one."""
    return AccountNotFound(
        f"no account has the id {str(account_id)[:80]!r}; create it first", field=field, account=str(account_id)[:80]
    )


def grant_not_found(grant_id: object) -> GrantNotFound:
    return GrantNotFound(f"no grant has the id {str(grant_id)[:80]!r}", field="grant_id")


def account_of(uow: UnitOfWork, account_id: object, *, field: str = "account") -> Account:
    account = uow.accounts.get(account_id) if isinstance(account_id, str) else None
    if account is None:
        raise account_not_found(account_id, field=field)
    return account


def idempotency_key(deps: Deps, key: object, *, prefix: str) -> str:
    """The caller's key, or a fresh one when the caller gave none (no replay protection)."""
    if key is None:
        return deps.ids.new(prefix)
    if not isinstance(key, str) or not key or len(key) > limits.IDEMPOTENCY_KEY_LENGTH_MAX:
        raise InvalidField(
            f"idempotency_key must be 1–{limits.IDEMPOTENCY_KEY_LENGTH_MAX} characters", field="idempotency_key"
        )
    if "\x00" in key or not is_text(key):  # neither store takes a NUL or a lone surrogate
        raise InvalidField(
            "idempotency_key must be text without NUL characters or lone surrogates", field="idempotency_key"
        )
    return key


def replay(
    uow: UnitOfWork, key: str, request: Mapping[str, Any], *, minted: bool = False
) -> tuple[str, Transaction | None]:
    """Fingerprint the request; return the original transaction if this key was used for it.

    The same key with different content is an :class:`IdempotencyConflict`, and nothing is
    written. A key :func:`idempotency_key` ``minted`` for this request (the caller gave
    none) is 80 random bits nobody has used, so it is not looked up; the ledger's unique
    index on keys would still refuse a collision.
    """
    digest = fingerprint(request)
    if minted:
        return digest, None
    found = uow.ledger.find_by_key(key)
    if found is not None and found.fingerprint != digest:
        raise IdempotencyConflict(
            f"idempotency key {key!r} was already used for a different request "
            f"({found.kind} {found.id}); use a new key for a new request",
            field="idempotency_key",
            transaction_id=found.id,
        )
    return digest, found


def instant(value: object, *, field: str, default: datetime) -> datetime:
    return default if value is None else require_aware(value, field=field)


def not_in_future(at: datetime, now: datetime, *, field: str) -> None:
    if at > now + CLOCK_SKEW:
        raise InvalidPeriod(
            f"{field} {at.isoformat()} is in the future; at most {CLOCK_SKEW} of clock skew is allowed",
            field=field,
        )


def actor_and_reason(actor: object, reason: object, *, reason_required: bool) -> tuple[str, str]:
    who = check_text(actor, field="actor", required=True, length_max=limits.ACTOR_LENGTH_MAX)
    why = check_text(reason, field="reason", required=reason_required, length_max=limits.REASON_LENGTH_MAX)
    return who, why


def cap_window(period: CapPeriod, at: datetime, time_zone: str) -> tuple[int, int]:
    """The ``[start, end)`` microseconds of the cap period holding ``at``, in ``time_zone``."""
    if period is CapPeriod.LIFETIME:
        return -(2**62), 2**62
    window = calendar_period(at, str(period), zone(time_zone))
    return to_micros(window.start), to_micros(window.end)
