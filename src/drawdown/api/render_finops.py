"""FinOps values to response bodies: amounts as decimal strings at the currency's scale."""

from __future__ import annotations

from collections.abc import Callable

from drawdown.api import schemas_finops as f
from drawdown.domain.finops import MappingRule, Node
from drawdown.domain.money import Unit, format_units
from drawdown.services.finops_report import CreditView, Expiring, NetCost

UnitOf = Callable[[str], Unit]


def node(n: Node) -> f.NodeOut:
    return f.NodeOut(id=n.id, level=str(n.level), name=n.name, parent=n.parent_id, currency=n.currency)


def rule(r: MappingRule) -> f.RuleOut:
    return f.RuleOut(id=r.id, priority=r.priority, kind=str(r.kind), key=r.key, value=r.value, node=r.node_id)


def credit(v: CreditView, unit_of: UnitOf) -> f.CreditOut:
    unit = unit_of(v.currency)
    return f.CreditOut(
        id=v.id, code=v.code, payer_account=v.payer_account_id, usage_account=v.usage_account_id,
        currency=v.currency, applied=str(v.applied), issue_date=v.issue_date.isoformat(), period=v.period,
        queue_status=v.queue_status, node=v.node_id, grant_id=v.grant_id, reference=v.reference,
        end_date=None if v.end_date is None else v.end_date.isoformat(), amount=format_units(v.amount_units, unit),
        used=format_units(v.used_units, unit), remaining=format_units(v.remaining_units, unit), status=v.status,
    )  # fmt: skip


def net_cost(r: NetCost, unit_of: UnitOf) -> f.NetCostOut:
    unit = unit_of(r.currency)
    return f.NetCostOut(
        node=r.node_id, level=r.level, period=r.period, currency=r.currency, spend=format_units(r.spend_units, unit),
        credits=format_units(r.credits_units, unit), net=format_units(r.net_units, unit),
    )  # fmt: skip


def expiring(e: Expiring, unit_of: UnitOf) -> f.ExpiringOut:
    unit = unit_of(e.credit.currency)
    return f.ExpiringOut(
        credit=credit(e.credit, unit_of), expires_at=e.expires_at.isoformat(),
        needed_per_day=format_units(e.needed_per_day_units, unit),
        recent_per_day=format_units(e.recent_per_day_units, unit),
    )  # fmt: skip
