"""Rating an invoice: the one published application order, as pure functions.

APPLICATION_ORDER (docs/ARCHITECTURE.md repeats it word for word):

1. price     each product's price is the contract's price override if there is one,
             otherwise the price-book version in force (or pinned); never both
2. rate      quantity × that price model (flat, per unit, package, graduated, volume tiers);
             late usage of an earlier period continues that period's tiers at its price
             (never below zero: a lower volume-tier price is refunded by credit note)
3. discount  at most ONE percentage per line: the largest of the product, bundle, category
             and invoice discounts that cover it (ties: most specific, then rule id); lines
             priced by an override get none (the override is the negotiated price)
4. true-up   if the discounted total is below the period's minimum commit, one true-up line
             adds the difference; then, on the invoice of a term's last billing month, if the
             term's spend (earlier finalized invoices of the term plus this one, per-period
             true-ups included) is below the term commitment, one term true-up line adds the
             difference (the rules: :mod:`drawdown.domain.commitments`)
5. credits   lines in order (usage, license, fixed fee, add-on, adjustments, true-up, term
             true-up; then product) draw grants through the drawdown order with Target(category, product),
             honouring scope, period caps, pool caps and each grant's invoice cap
6. due       amount due = Σ line (amount − discount − credits), never below zero

Rounding: every line's exact amount is rounded once to the currency's minor unit by the
largest-remainder method, so line amounts sum exactly to the rounded exact subtotal; the
discounts are allocated the same way; credits draw whole minor units. Rebates and SLA
credits are computed here but paid after finalization (grants or credit notes) and never
change this invoice's amount due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, TypeVar

from drawdown.domain import limits
from drawdown.domain.accounts import DrawdownPolicy
from drawdown.domain.billed_usage import UsageTotal
from drawdown.domain.commitments import TermCheck, TermInvoice, check, closing_term
from drawdown.domain.contracts import HUNDRED, AppliedDiscount, Availability, Contract, best_discount
from drawdown.domain.drawdown import Candidate, Charge, Draw, draw_in_order, in_burn_order
from drawdown.domain.errors import LimitExceeded
from drawdown.domain.grants import Category, Target
from drawdown.domain.instants import Period, zone
from drawdown.domain.money import Unit, format_display, to_units
from drawdown.domain.pricing import Price, PriceBook, amount

ZERO = Decimal(0)
APPLICATION_ORDER = (
    "1 price: contract price override, else the price-book version in force; never both",
    "2 rate: quantity under the price model (flat, per_unit, package, graduated, volume)",
    "3 discount: one percentage per line, the largest covering it (product, bundle, category, invoice); "
    "none on overridden prices",
    "4 true-up: minimum commit minus the discounted total, when positive; on a term's last month, "
    "the term commitment minus the term's spend (earlier invoices of the term and this one, true-ups included)",
    "5 credits: grants drawn line by line through the drawdown order, by scope and caps",
    "6 due: amount - discount - credits per line, never below zero",
)
TRUE_UP_PRODUCT = "minimum_commit"
TERM_TRUE_UP_PRODUCT = "term_commit"


class LineKind(StrEnum):
    USAGE = "usage"
    FEE = "fee"
    ADJUSTMENT = "adjustment"
    TRUE_UP = "true_up"
    TERM_TRUE_UP = "term_true_up"


_CATEGORY_ORDER = (Category.USAGE, Category.LICENSE, Category.FIXED_FEE, Category.ADD_ON)
_KIND_ORDER = (LineKind.USAGE, LineKind.FEE, LineKind.ADJUSTMENT, LineKind.TRUE_UP, LineKind.TERM_TRUE_UP)


@dataclass(frozen=True, slots=True)
class LateUsage:
    """Usage of an earlier period recorded after that period was invoiced."""

    period_start: datetime
    usage: UsageTotal
    already: Decimal  # quantity of that product already billed for that period
    price: Price
    price_source: str


@dataclass(frozen=True, slots=True)
class RatingInput:
    account_id: str
    unit: Unit
    period: Period
    time_zone: str
    issued_at: datetime
    book: PriceBook
    contract: Contract | None
    usage: tuple[UsageTotal, ...] = ()
    late: tuple[LateUsage, ...] = ()
    availability: tuple[Availability, ...] = ()
    term_invoices: tuple[TermInvoice, ...] = ()  # the account's stored invoices inside a term this month closes


@dataclass(frozen=True, slots=True)
class Line:
    kind: LineKind
    category: Category
    product: str
    quantity: Decimal
    price: dict[str, object]  # the model and its figures, for the explanation
    price_source: str  # "price_book:<id>@v<n>" or "contract:<account>@v<n>:<rule>"
    exact: Decimal  # rated amount before rounding
    amount_units: int = 0
    discount: AppliedDiscount | None = None
    discount_units: int = 0
    credits: tuple[Draw, ...] = ()
    event_count: int = 0
    event_ids: tuple[str, ...] = ()
    origin_period_start: datetime | None = None  # adjustments: the period the usage belongs to

    @property
    def net_units(self) -> int:
        return self.amount_units - self.discount_units

    @property
    def credited_units(self) -> int:
        return sum(d.amount_units for d in self.credits)

    @property
    def due_units(self) -> int:
        return self.net_units - self.credited_units


@dataclass(frozen=True, slots=True)
class Outcome:
    """A rebate or SLA credit earned this period, paid after finalization."""

    kind: str  # "rebate" | "sla"
    rule: str
    contract_version: int
    amount_units: int
    settlement: str  # "grant" | "credit_note"
    products: tuple[str, ...] = ()  # an SLA grant's scope
    incident_refs: tuple[str, ...] = ()
    basis_units: int = 0  # the spend or fee the percentage was taken of


@dataclass(frozen=True, slots=True)
class Invoice:
    account_id: str
    unit: Unit
    period: Period
    time_zone: str
    issued_at: datetime
    book: str
    contract: str | None
    lines: tuple[Line, ...]
    outcomes: tuple[Outcome, ...] = ()
    policy: DrawdownPolicy = DrawdownPolicy.DEFAULT
    term: TermCheck | None = None  # the term commitment this invoice closes, met or not

    def total(self, field: str) -> int:
        return sum(int(getattr(line, field)) for line in self.lines)

    @property
    def commit_spend_units(self) -> int:
        """Spend that counts toward commitments: after discounts, before credits, term true-ups excluded."""
        return sum(line.net_units for line in self.lines if line.kind is not LineKind.TERM_TRUE_UP)

    @property
    def amount_due_units(self) -> int:
        return self.total("due_units")


def rate(inp: RatingInput) -> Invoice:
    """Steps 1–4 of the application order, plus the rebates and SLA credits earned."""
    lines = sorted(_priced_lines(inp), key=_line_order)
    if len(lines) > limits.INVOICE_LINES_MAX:
        raise LimitExceeded(f"an invoice has at most {limits.INVOICE_LINES_MAX} lines, got {len(lines)}")
    _check_rated(lines, inp.unit)
    amounts = allocate([line.exact for line in lines], inp.unit)
    lines = _discounted(lines, amounts, inp.contract, inp.unit)
    lines += _true_up(lines, inp.contract, inp.unit)
    term = _term_check(lines, inp)
    if term is not None and term.shortfall_units > 0:
        lines.append(_term_true_up(term, inp.unit))
    _check_amounts(lines, inp.unit)
    invoice = Invoice(
        inp.account_id, inp.unit, inp.period, inp.time_zone, inp.issued_at, inp.book.label,
        None if inp.contract is None else inp.contract.label, tuple(lines), term=term,
    )  # fmt: skip
    return _evolve(invoice, outcomes=_rebates(invoice, inp.contract) + _sla_credits(invoice, inp))


def _check_rated(lines: Sequence[Line], unit: Unit) -> None:
    """The exact rated amounts, before they are rounded: a rounding past the decimal
    context's 28 digits would fail with ``InvalidOperation`` instead of saying what is wrong."""
    limit = Decimal(limits.AMOUNT_UNITS_MAX).scaleb(-unit.scale)
    biggest = max([abs(line.exact) for line in lines] + [abs(sum((line.exact for line in lines), ZERO))], default=ZERO)
    if biggest > limit:
        shape = "f" if biggest.adjusted() < 20 else "E"  # E: past twenty digits, a count of digits says more
        _too_large(f"{biggest:.{unit.minor_digits}{shape}}", unit)


def _check_amounts(lines: Sequence[Line], unit: Unit) -> None:
    """Every amount an invoice posts stays within what the ledger holds: usage rated at a
    price can reach far past any amount drawdown accepts as input."""
    biggest = max([abs(line.amount_units) for line in lines] + [abs(sum(line.amount_units for line in lines))])
    if biggest > limits.AMOUNT_UNITS_MAX:
        minor, digits = biggest // minor_step(unit), unit.minor_digits  # whole minor units, told exactly
        _too_large(f"{minor // 10**digits}.{minor % 10**digits:0{digits}d}" if digits else str(minor), unit)


def _too_large(amount: str, unit: Unit) -> None:
    raise LimitExceeded(
        f"an invoice amount may be at most {format_display(limits.AMOUNT_UNITS_MAX, unit)} {unit.code}; "
        f"this invoice has {amount} {unit.code}"
    )


def _price(inp: RatingInput, product: str) -> tuple[Price, str] | None:
    override = None if inp.contract is None or not inp.contract.overrides else inp.contract.override(product)
    if override is not None:
        assert inp.contract is not None
        return override.price, f"contract:{inp.contract.label}:{override.rule}"
    found = inp.book.price(product)
    return None if found is None else (found, f"price_book:{inp.book.label}")


def _priced_lines(inp: RatingInput) -> list[Line]:
    lines = []
    for usage in inp.usage:
        priced = _price(inp, usage.product)
        if priced is None or usage.quantity == 0:
            continue  # usage of a product the book does not price is not billed
        price, source = priced
        lines.append(
            Line(LineKind.USAGE, price.category, usage.product, usage.quantity, price.describe(), source,
                 amount(price, usage.quantity), event_count=usage.event_count, event_ids=usage.event_ids)
        )  # fmt: skip
    quantities = {} if inp.contract is None else dict(inp.contract.quantities)
    for product, quantity in sorted(quantities.items()):
        priced = _price(inp, product)
        if priced is not None and quantity > 0:
            price, source = priced
            lines.append(
                Line(LineKind.FEE, price.category, product, quantity, price.describe(), source, amount(price, quantity))
            )
    for late in inp.late:
        u = late.usage
        lines.append(
            Line(LineKind.ADJUSTMENT, late.price.category, u.product, u.quantity, late.price.describe(),
                 late.price_source, max(amount(late.price, u.quantity, late.already), ZERO), event_count=u.event_count,
                 event_ids=u.event_ids, origin_period_start=late.period_start)
        )  # fmt: skip
    return lines


def _line_order(line: Line) -> tuple[int, int, str, str]:
    origin = "" if line.origin_period_start is None else line.origin_period_start.isoformat()
    return _KIND_ORDER.index(line.kind), _CATEGORY_ORDER.index(line.category), line.product, origin


def _discounted(lines: list[Line], amounts: list[int], contract: Contract | None, unit: Unit) -> list[Line]:
    """The lines with their rounded ``amounts`` and each line's one discount."""
    if contract is None:
        return [_evolve(line, amount_units=a) for line, a in zip(lines, amounts, strict=True)]
    billed = frozenset(line.product for line, a in zip(lines, amounts, strict=True) if a > 0)
    chosen = [
        None if line.price_source.startswith("contract:")
        else best_discount(contract, line.category, line.product, billed)
        for line in lines
    ]  # fmt: skip
    exact = [
        ZERO if d is None else _decimal(a, unit) * d.percent / HUNDRED for a, d in zip(amounts, chosen, strict=True)
    ]
    units = allocate(exact, unit)
    return [
        _evolve(line, amount_units=a, discount=d, discount_units=u)
        for line, a, d, u in zip(lines, amounts, chosen, units, strict=True)
    ]


def _true_up(lines: list[Line], contract: Contract | None, unit: Unit) -> list[Line]:
    if contract is None or contract.commit is None:
        return []
    commit = payable_units(contract.commit.amount, unit)
    net = sum(line.net_units for line in lines)
    if net >= commit:
        return []
    rule = contract.commit
    short = _decimal(commit - net, unit)
    return [
        Line(LineKind.TRUE_UP, Category.FIXED_FEE, TRUE_UP_PRODUCT, Decimal(1),
             {"model": "minimum_commit", "commit": str(rule.amount), "discounted_spend": str(_decimal(net, unit))},
             f"contract:{contract.label}:{rule.rule}", short, amount_units=commit - net)
    ]  # fmt: skip


def _term_check(lines: list[Line], inp: RatingInput) -> TermCheck | None:
    """Step 4, second half: the term commitment this month closes, if it closes one."""
    term = closing_term(inp.contract, inp.period, zone(inp.time_zone))
    if term is None:
        return None
    assert inp.contract is not None
    assert inp.contract.term_commit is not None
    committed = payable_units(inp.contract.term_commit.amount, inp.unit)
    spend = sum(line.net_units for line in lines)  # the per-period true-up included: it is spend
    return check(inp.contract, term, inp.period, inp.term_invoices, committed, spend)


def _term_true_up(term: TermCheck, unit: Unit) -> Line:
    short = term.shortfall_units
    price: dict[str, object] = {
        "model": "term_commit", "commit": str(term.commit.amount), "term_start": term.commit.start,
        "term_end": term.commit.end, "term_spend": str(_decimal(term.spend_units, unit)),
    }  # fmt: skip
    return Line(LineKind.TERM_TRUE_UP, Category.FIXED_FEE, TERM_TRUE_UP_PRODUCT, Decimal(1), price,
                f"contract:{term.contract}:{term.commit.rule}", _decimal(short, unit), amount_units=short)  # fmt: skip


def _rebates(invoice: Invoice, contract: Contract | None) -> tuple[Outcome, ...]:
    if contract is None:
        return ()
    true_ups = (LineKind.TRUE_UP, LineKind.TERM_TRUE_UP)
    spend = sum(line.net_units for line in invoice.lines if line.kind not in true_ups)
    found = []
    for rebate in contract.rebates:
        units = payable_units(rebate.amount(_decimal(spend, invoice.unit)), invoice.unit)
        if units > 0:
            settle = str(rebate.settlement)
            found.append(Outcome("rebate", rebate.rule, contract.version, units, settle, basis_units=spend))
    return tuple(found)


def _sla_credits(invoice: Invoice, inp: RatingInput) -> tuple[Outcome, ...]:
    contract = inp.contract
    if contract is None:
        return ()
    found = []
    for schedule in contract.sla:
        for product in sorted(schedule.products):
            records = [a for a in inp.availability if a.product == product]
            if not records:
                continue
            worst = min(a.percent for a in records)
            percent = schedule.credit_percent(worst)
            fee = sum(line.net_units for line in invoice.lines if line.product == product)
            units = payable_units(_decimal(fee, invoice.unit) * percent / HUNDRED, invoice.unit)
            if units > 0:
                refs = tuple(sorted({a.incident_ref for a in records if schedule.credit_percent(a.percent) > 0}))
                found.append(Outcome("sla", schedule.rule, contract.version, units, "grant", (product,), refs, fee))
    return tuple(found)


def apply_credits(
    invoice: Invoice,
    candidates: Sequence[Candidate],
    policy: DrawdownPolicy = DrawdownPolicy.DEFAULT,
    pool_headroom_units: int | None = None,
) -> Invoice:
    """Step 5: each line, in order, draws the grants that may pay it, in whole minor units.

    A grant's ``invoice_cap_units`` bounds what it pays over the whole invoice; period caps
    and pool caps arrive as the candidates' headroom and ``pool_headroom_units``.
    """
    assert not any(line.credits for line in invoice.lines), "credits are applied once, to a rated invoice"
    step = minor_step(invoice.unit)
    by_id = {c.grant.id: c for c in in_burn_order(candidates, policy)}  # and so is every list below
    assert len(by_id) == len(candidates), "one candidate per grant"
    left = {gid: c.remaining_units for gid, c in by_id.items()}
    room = {gid: _room(c) for gid, c in by_id.items()}
    usable = {gid: _usable(c, left[gid], room[gid], step) for gid, c in by_id.items()}  # redone when drawn
    pool = pool_headroom_units
    lines = []
    for line in invoice.lines:
        payers = [c for c in usable.values() if c is not None] if line.net_units > 0 else []
        if not payers:  # nothing could pay it: the draw would be empty
            lines.append(line)
            continue
        charge = Charge(invoice.account_id, invoice.unit.code, line.net_units, Target(line.category, line.product),
                        invoice.issued_at)  # fmt: skip
        result = draw_in_order(charge, payers, policy, None if pool is None else _floor(pool, step))
        for d in result.draws:
            left[d.grant_id] -= d.amount_units
            if room[d.grant_id] is not None:
                room[d.grant_id] = (room[d.grant_id] or 0) - d.amount_units
            if pool is not None and d.owner_id != invoice.account_id:
                pool -= d.amount_units
            usable[d.grant_id] = _usable(by_id[d.grant_id], left[d.grant_id], room[d.grant_id], step)
        lines.append(_evolve(line, credits=result.draws))
    result_invoice = _evolve(invoice, lines=tuple(lines), policy=policy)
    assert all(line.due_units >= 0 for line in result_invoice.lines)
    return result_invoice


def _usable(candidate: Candidate, left: int, room: int | None, step: int) -> Candidate | None:
    """The candidate with what it may still pay this invoice, in whole minor units; ``None``
    when nothing is left (``draw`` would find it ineligible, so no position changes)."""
    remaining = _floor(left, step)
    if remaining <= 0:
        return None
    return Candidate(candidate.grant, remaining, None if room is None else _floor(room, step), candidate.pooled)


def _room(candidate: Candidate) -> int | None:
    caps = [c for c in (candidate.headroom_units, candidate.grant.invoice_cap_units) if c is not None]
    return min(caps) if caps else None


def _floor(units: int, step: int) -> int:
    return max(units - units % step, 0)


_T = TypeVar("_T", Line, Invoice)


def _evolve(obj: _T, **changes: Any) -> _T:
    """``dataclasses.replace`` for :class:`Line` and :class:`Invoice` (frozen, slotted, no
    ``__post_init__``) at half the cost: rating an invoice run evolves every line a few times."""
    new = object.__new__(type(obj))
    for name in type(obj).__slots__:
        object.__setattr__(new, name, changes[name] if name in changes else getattr(obj, name))
    return new


# -- rounding --------------------------------------------------------------------------------


def minor_step(unit: Unit) -> int:
    """Ledger units in one minor unit (10_000 for USD kept at scale 6)."""
    step: int = 10 ** (unit.scale - unit.minor_digits)
    return step


@lru_cache(maxsize=64)  # a handful of units; replace() is costly per line
def _payable(unit: Unit) -> Unit:
    return replace(unit, scale=unit.minor_digits)


def payable_units(value: Decimal, unit: Unit) -> int:
    """A Decimal amount rounded half-even to the minor unit, in ledger units."""
    return to_units(value, _payable(unit), ROUND_HALF_EVEN) * minor_step(unit)


def allocate(exact: Sequence[Decimal], unit: Unit) -> list[int]:
    """Round each amount to the minor unit so the results sum to the rounded exact total.

    Largest remainder: every amount is floored, then the minor units still missing go one
    each to the largest remainders (ties to the earlier line).
    """
    payable = _payable(unit)
    total = to_units(sum(exact, ZERO), payable, ROUND_HALF_EVEN)
    floors = [to_units(x, payable, ROUND_FLOOR) for x in exact]
    remainders = [x.scaleb(unit.minor_digits) - f for x, f in zip(exact, floors, strict=True)]
    extra = total - sum(floors)
    assert 0 <= extra <= len(exact), "rounding never moves more than one minor unit per amount"
    for i in sorted(range(len(exact)), key=lambda i: (-remainders[i], i))[:extra]:
        floors[i] += 1
    step = minor_step(unit)
    return [f * step for f in floors]


def _decimal(units: int, unit: Unit) -> Decimal:
    return Decimal(units).scaleb(-unit.scale)
