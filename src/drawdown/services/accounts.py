"""Creating accounts and credit units."""

from __future__ import annotations

from collections.abc import Mapping

from drawdown.domain import limits
from drawdown.domain.accounts import Account, Cap, DrawdownPolicy, require_id, require_metadata
from drawdown.domain.errors import (
    AccountAlreadyExists,
    HierarchyCycle,
    InvalidField,
    InvalidUnit,
    UnitAlreadyExists,
)
from drawdown.domain.grants import check_cap
from drawdown.domain.instants import to_micros, zone
from drawdown.domain.money import Unit, UnitKind, credit_unit
from drawdown.services.common import account_of, unit_of
from drawdown.services.ports import Deps, UnitOfWork


def define_unit(deps: Deps, code: str, scale: int) -> Unit:
    """Define a custom credit unit; defining the same unit twice identically is a no-op."""
    unit = credit_unit(code, scale)
    with deps.uow(write=True) as uow:
        existing = uow.units.get(code)
        if existing == unit:
            return existing
        if existing is not None:
            raise UnitAlreadyExists(f"unit {code} exists with scale {existing.scale}", field="code")
        uow.units.add(unit, to_micros(deps.clock.now()))
    return unit


def create_account(
    deps: Deps,
    account_id: str,
    *,
    currency: str,
    time_zone: str = "UTC",
    parent: str | None = None,
    drawdown_policy: str = "default",
    pool_caps: Mapping[str, tuple[object, str]] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Account:
    """Create an account; creating the same account twice identically returns it."""
    require_id(account_id, field="account_id")
    zone(time_zone)
    try:
        policy = DrawdownPolicy(drawdown_policy)
    except ValueError:
        raise InvalidField(
            f"drawdown_policy {drawdown_policy!r} is not one of {', '.join(DrawdownPolicy)}", field="drawdown_policy"
        ) from None
    clean_metadata = require_metadata(metadata)
    with deps.uow(write=True) as uow:
        unit = unit_of(uow, currency)
        if unit.kind is not UnitKind.CURRENCY:
            raise InvalidUnit(f"an account's currency must be an ISO 4217 currency, not {currency}", field="currency")
        caps: dict[str, Cap] = {}
        for code, (amount, period) in (pool_caps or {}).items():
            caps[code] = check_cap(amount, period, unit_of(uow, code), field="pool_cap")
        if parent is not None:
            _check_parent(uow, account_id, parent)
        account = Account(account_id, currency, time_zone, parent, policy, deps.clock.now(), caps, clean_metadata)
        existing = uow.accounts.get(account_id)
        if existing is not None:
            if _same(existing, account):
                return existing
            raise AccountAlreadyExists(f"account {account_id} exists with different settings", field="account_id")
        uow.accounts.add(account)
    return account


def _check_parent(uow: UnitOfWork, account_id: str, parent: str) -> None:
    chain = uow.accounts.chain(account_of(uow, parent, field="parent"))
    if account_id in [a.id for a in chain]:
        raise HierarchyCycle(f"making {parent} the parent of {account_id} would create a cycle", field="parent")
    if len(chain) >= limits.HIERARCHY_DEPTH_MAX:
        raise InvalidField(f"account hierarchies are at most {limits.HIERARCHY_DEPTH_MAX} levels deep", field="parent")


def _same(a: Account, b: Account) -> bool:
    return (a.currency, a.time_zone, a.parent_id, a.drawdown_policy, a.pool_caps, a.metadata) == (
        b.currency, b.time_zone, b.parent_id, b.drawdown_policy, b.pool_caps, b.metadata,
    )  # fmt: skip
