"""FinOps reports (PRODUCT.md F4 per-credit figures, F5 net cost, queue, expiring credits).

Read-only. Figures come from the ledger (a credit's grant state) and from ``finops_spend``
(spend, and how much of it the ledger's draws covered); both are integer units.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from drawdown.domain import finops as rules_
from drawdown.domain.finops import CreditStatus
from drawdown.domain.instants import from_micros
from drawdown.services.ports import Deps, UnitOfWork


@dataclass(frozen=True, slots=True)
class CreditView:
    """One detected credit: the queue columns, and once allocated Amount / Used / Remaining."""

    id: str
    code: str
    payer_account_id: str
    usage_account_id: str
    currency: str
    applied: Decimal
    """Applied so far according to the exports (positive)."""
    issue_date: date
    period: str
    """The month of the issue date: credits are attributed to the period they were issued in."""
    queue_status: str
    node_id: str | None
    grant_id: str | None
    reference: str | None
    end_date: date | None
    amount_units: int
    used_units: int
    remaining_units: int
    status: str | None
    """Expiry status (active, expiring, expired, exhausted, voided); None until allocated."""


@dataclass(frozen=True, slots=True)
class NetCost:
    """A node's spend, credits consumed and net cost in one period, its descendants included."""

    node_id: str
    level: str
    period: str
    currency: str
    spend_units: int
    credits_units: int

    @property
    def net_units(self) -> int:
        return self.spend_units - self.credits_units


@dataclass(frozen=True, slots=True)
class Expiring:
    """A credit expiring soon and the spend rate that would use it before it expires."""

    credit: CreditView
    expires_at: datetime
    needed_per_day_units: int
    recent_per_day_units: int
    """The node's (and descendants') spend per day in its latest imported period."""


def credits(deps: Deps) -> list[CreditView]:
    now = deps.clock.now()
    with deps.uow(write=False) as uow:
        return [_view(uow, row, now) for row in uow.finops.credits()]


def _view(uow: UnitOfWork, row: dict[str, Any], now: datetime) -> CreditView:
    amount = used = remaining = 0
    status = None
    if row["grant_id"] is not None:
        state = next(
            s for s in uow.ledger.grant_states([row["node_id"]], row["currency"]) if s.grant.id == row["grant_id"]
        )
        amount = row["amount_units"]
        remaining = state.remaining_units
        used = amount - state.grant.amount_units + state.used_units
        status = str(rules_.credit_status(remaining_units=remaining, voided=state.voided,
                                          expires_at=state.grant.expires_at, now=now))  # fmt: skip
    issue = date.fromisoformat(row["issue_date"])
    return CreditView(
        id=row["id"], code=row["key_value"], payer_account_id=row["payer_account_id"],
        usage_account_id=row["usage_account_id"], currency=row["currency"],
        applied=sum((Decimal(v) for v in json.loads(row["applied"]).values()), Decimal(0)), issue_date=issue,
        period=f"{issue:%Y-%m}", queue_status=row["status"], node_id=row["node_id"], grant_id=row["grant_id"],
        reference=row["reference"], end_date=None if row["end_date"] is None else date.fromisoformat(row["end_date"]),
        amount_units=amount, used_units=used, remaining_units=remaining, status=status,
    )  # fmt: skip


def net_cost(deps: Deps) -> list[NetCost]:
    """Net cost per node and period, each node's figures including its descendants'."""
    with deps.uow(write=False) as uow:
        nodes = {r["id"]: r for r in uow.finops.nodes()}
        totals: defaultdict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
        for row in uow.finops.spend():
            period = f"{from_micros(row['period_start']):%Y-%m}"
            node_id: str | None = row["node_id"]
            while node_id is not None:  # roll the row up to every ancestor
                figures = totals[(node_id, period, row["currency"])]
                figures[0] += row["spend_units"]
                figures[1] += row["covered_units"]  # what the ledger drew, even above restated spend
                node_id = nodes[node_id]["parent_id"] if node_id in nodes else None
    return [
        NetCost(node, nodes[node]["level"] if node in nodes else "", period, currency, spend, covered)
        for (node, period, currency), (spend, covered) in sorted(totals.items())
    ]


def expiring(deps: Deps) -> list[Expiring]:
    """Allocated credits expiring within 30 days, with the daily spend that would use them."""
    now = deps.clock.now()
    views = [v for v in credits(deps) if v.status == CreditStatus.EXPIRING]
    latest = _latest_period_spend(net_cost(deps))
    found = []
    for view in views:
        assert view.end_date is not None
        ends = rules_.end_of_day(view.end_date)
        period, spend = latest.get((view.node_id or "", view.currency), ("", 0))
        start = rules_.month_start(date.fromisoformat(period + "-01")) if period else now
        recent = rules_.units_per_day(spend, start, rules_.next_month(start)) if period else 0
        found.append(Expiring(view, ends, rules_.units_per_day(view.remaining_units, now, ends), recent))
    return found


def _latest_period_spend(rows: list[NetCost]) -> dict[tuple[str, str], tuple[str, int]]:
    latest: dict[tuple[str, str], tuple[str, int]] = {}
    for row in rows:  # sorted by node, then period: the last one per node wins
        latest[(row.node_id, row.currency)] = (row.period, row.spend_units)
    return latest
