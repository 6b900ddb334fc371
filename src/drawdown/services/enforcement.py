"""Rate cards, per-account enforcement settings, the kill switch, and ``authorize``.

``price`` turns (account, feature, quantity) into a cost in the pinned rate card's credit
unit; ``assess`` runs the drawdown plan for that cost (same order, caps and pools as a
charge) and asks :func:`drawdown.domain.enforcement.decide`. ``authorize`` writes
nothing, except that a shadow-mode account logs each request enforcement would have denied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from drawdown.domain import limits
from drawdown.domain.accounts import Account, require_id
from drawdown.domain.balances import Balance
from drawdown.domain.drawdown import Charge, Drawdown
from drawdown.domain.enforcement import AccountEnforcement, Mode, Verdict, decide
from drawdown.domain.errors import InvalidField, RateCardNotFound
from drawdown.domain.grants import Category, Target
from drawdown.domain.instants import to_micros
from drawdown.domain.ledger import EntryKind
from drawdown.domain.money import Money, Unit, UnitKind, parse_amount, parse_decimal
from drawdown.domain.rates import RateCard, check_holdable, check_rates, cost_units
from drawdown.domain.usage import parse_quantity
from drawdown.services.charges import plan
from drawdown.services.common import account_of, instant, unit_of
from drawdown.services.ports import Deps, UnitOfWork
from drawdown.services.queries import current_balance

KILL_SWITCH = "kill_switch"


@dataclass(frozen=True, slots=True)
class Price:
    card: RateCard
    unit: Unit
    feature: str
    quantity: Decimal
    rate: Decimal
    cost_units: int


@dataclass(frozen=True, slots=True)
class Assessment:
    price: Price
    drawdown: Drawdown | None  # None when the cost is zero
    verdict: Verdict
    mode: Mode
    headroom_units: int  # what the overdraft may still lend


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to ``authorize``: allowed or not, why, the cost and the balance."""

    allowed: bool
    reason: str
    mode: str
    cost: Money
    covered: Money  # what the account's eligible grants cover
    overdraft_headroom: Money  # what the overdraft may still lend
    balance: Balance


def define_rate_card(
    deps: Deps, card_id: str, unit: str, rates: Mapping[str, object], effective_at: object
) -> RateCard:
    """Add the next version of a rate card (version 1 for a new card)."""
    require_id(card_id, field="card_id")
    clean = check_rates(rates)
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # under the writer lock, so instants follow the commit order
        credit = unit_of(uow, unit)
        if credit.kind is not UnitKind.CREDIT:
            raise InvalidField("rate cards price features in a credit unit; define one first", field="unit")
        when = instant(effective_at, field="effective_at", default=now)
        card = RateCard(card_id, uow.rate_cards.latest_version(card_id) + 1, credit.code, when, clean)
        uow.rate_cards.add(card, to_micros(now))
    return card


def configure_account(
    deps: Deps,
    account: str,
    *,
    mode: str | None = None,
    overdraft_limits: Mapping[str, object] | None = None,
    rate_card: str | None = None,
    rate_card_version: int | None = None,
) -> AccountEnforcement:
    """Set an account's mode, overdraft limits (unit → amount) and rate-card pin.

    Arguments left as ``None`` keep their current value; pinning a card with no version
    follows the version effective at each instant of use.
    """
    with deps.uow(write=True) as uow:
        payer = account_of(uow, account)
        current = uow.settings.enforcement(payer.id)
        updated = current
        if mode is not None:
            try:
                updated = replace(updated, mode=Mode(mode))
            except ValueError:
                raise InvalidField(f"mode must be one of {', '.join(Mode)}", field="mode") from None
        if overdraft_limits is not None:
            limits_units = {code: _limit(uow, code, value) for code, value in overdraft_limits.items()}
            updated = replace(updated, overdraft_limits=limits_units)
        if rate_card is not None:
            if uow.rate_cards.get(rate_card, rate_card_version, deps.clock.now()) is None and (
                rate_card_version is not None or uow.rate_cards.latest_version(rate_card) == 0
            ):
                raise RateCardNotFound(f"rate card {rate_card} v{rate_card_version} does not exist", field="rate_card")
            updated = replace(updated, rate_card_id=rate_card, rate_card_version=rate_card_version)
        uow.settings.put_enforcement(updated)
    return updated


def _limit(uow: UnitOfWork, code: str, value: object) -> int:
    unit = unit_of(uow, code)
    if parse_decimal(value, field="overdraft_limit") == 0:
        return 0
    return parse_amount(value, unit, field="overdraft_limit")


def set_kill_switch(deps: Deps, engaged: bool) -> None:
    with deps.uow(write=True) as uow:
        uow.settings.put(KILL_SWITCH, "on" if engaged else "off")


def kill_switch(uow: UnitOfWork) -> bool:
    return uow.settings.get(KILL_SWITCH) == "on"


def price(
    uow: UnitOfWork,
    payer: Account,
    feature: object,
    quantity: object,
    at: datetime,
    settings: AccountEnforcement | None = None,
) -> Price:
    """The cost of ``quantity`` of ``feature`` on the account's pinned rate card at ``at``."""
    name = require_id(feature, field="feature")
    exact = Decimal(parse_quantity(quantity)).scaleb(-limits.QUANTITY_SCALE)
    amount = Decimal(format(exact.normalize(), "f"))  # '4', not '4.000000', in holds and logs
    settings = settings or uow.settings.enforcement(payer.id)
    if settings.rate_card_id is None:
        raise RateCardNotFound(f"account {payer.id} is not pinned to a rate card; pin one first", field="account")
    card = uow.rate_cards.get(settings.rate_card_id, settings.rate_card_version, at)
    if card is None:
        raise RateCardNotFound(
            f"rate card {settings.rate_card_id} has no version in effect at {at.isoformat()}", field="account"
        )
    rate = card.rate(name)
    unit = unit_of(uow, card.unit)
    return Price(card, unit, name, amount, rate, cost_units(amount, rate, unit))


def overdraft_headroom(uow: UnitOfWork, settings: AccountEnforcement, unit: str) -> int:
    """What the overdraft may still lend: its limit minus what is owed, at least zero.

    Without a limit that is zero whatever is owed, since nothing owed is ever negative (an
    overdraft is never positive: the bank and hold-model checkers hold every step to it),
    so the account's totals are not read.
    """
    limit = settings.overdraft_limit(unit)
    if limit <= 0:
        return 0
    owed = -uow.ledger.kind_totals(settings.account_id, unit).get(EntryKind.OVERDRAFT, 0)
    return max(limit - owed, 0)


def assess(uow: UnitOfWork, payer: Account, feature: object, quantity: object, at: datetime) -> Assessment:
    """Price the request, plan its drawdown and decide, without writing anything."""
    settings = uow.settings.enforcement(payer.id)
    cost = price(uow, payer, feature, quantity, at, settings)
    check_holdable(cost.cost_units, cost.unit, cost.quantity, cost.feature)
    headroom = overdraft_headroom(uow, settings, cost.unit.code)
    drawn = None
    covered = 0
    if cost.cost_units > 0:
        wanted = Charge(payer.id, cost.unit.code, cost.cost_units, Target(Category.USAGE, cost.feature), at)
        drawn = plan(uow, payer, wanted)
        covered = drawn.drawn_units
    verdict = decide(
        settings.mode, kill_switch=kill_switch(uow), cost_units=cost.cost_units, covered_units=covered,
        headroom_units=headroom,
    )  # fmt: skip
    return Assessment(cost, drawn, verdict, settings.mode, headroom)


def authorize(deps: Deps, account: str, feature: str, quantity: object) -> Decision:
    """Allow or deny using ``quantity`` of ``feature`` now; writes nothing but the shadow log."""
    now = deps.clock.now()
    with deps.uow(write=False) as uow:
        payer = account_of(uow, account)
        found = assess(uow, payer, feature, quantity, now)
        balance = current_balance(uow, payer.id, found.price.unit.code, now)
    if found.mode is Mode.SHADOW and found.verdict.would_block:
        with deps.uow(write=True) as uow:
            log_decision(uow, deps.ids.new("dec"), found, payer.id, now)
    return decision(found, balance)


def log_decision(uow: UnitOfWork, decision_id: str, found: Assessment, account_id: str, now: datetime) -> None:
    p = found.price
    uow.settings.log_decision(
        {
            "id": decision_id, "account_id": account_id, "feature": p.feature, "quantity": str(p.quantity),
            "unit": p.unit.code, "cost_units": p.cost_units, "holdable_units": found.verdict.holdable_units,
            "mode": str(found.mode), "reason": "insufficient_credit", "decided_at": to_micros(now),
        }
    )  # fmt: skip


def decision(found: Assessment, balance: Balance) -> Decision:
    p, v = found.price, found.verdict
    covered = 0 if found.drawdown is None else found.drawdown.drawn_units
    return Decision(
        v.allowed, str(v.reason), str(found.mode), Money(p.cost_units, p.unit), Money(covered, p.unit),
        Money(found.headroom_units, p.unit), balance,
    )  # fmt: skip
