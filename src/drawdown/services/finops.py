"""FinOps cloud credits on the ledger (PRODUCT.md F1 store, F3 hierarchy and rules; allocation
and consumption are in ``finops_ledger``).

Nodes are accounts (``drawdown_policy="fifo"``, parent = parent node); an allocated credit
is a ``cloud`` grant on its node; spend is charged to the node it maps to, so the ledger's
pooled FIFO drawdown lets ancestors' credits cover descendants' spend. No second ledger:
``finops_spend.covered_units`` only remembers how much of each spend row the ledger's draws
have covered, so the next pass charges just the rest.

Every ledger write goes through the ordinary services (``accounts.create_account``,
``grants.issue_grant`` / ``void_grant``, ``charges.charge``) with idempotency keys derived
from the FinOps state they change, so a pass interrupted between the ledger write and the
bookkeeping here replays the same key and posts nothing twice.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation, localcontext

from drawdown.domain import finops as rules_
from drawdown.domain.errors import FinOpsRuleAlreadyExists, InvalidField
from drawdown.domain.finops import (
    UNALLOCATED,
    ExportBatch,
    Level,
    MappingRule,
    MatchKind,
    Node,
    PeriodChangeKind,
    QueueStatus,
    stored_service,
)
from drawdown.domain.grants import check_text
from drawdown.domain.instants import to_micros
from drawdown.domain.money import to_units
from drawdown.services import accounts
from drawdown.services.common import unit_of
from drawdown.services.finops_ledger import consume, node_from, node_row
from drawdown.services.ports import Deps, UnitOfWork


@dataclass(frozen=True, slots=True)
class ImportReport:
    import_id: str
    duplicate: bool
    periods: dict[str, str]
    """'YYYY-MM currency' -> new / unchanged / restated."""
    spend_rows: int
    credits_new: int
    credits_seen: int
    drawn_units: int


def add_node(
    deps: Deps, node_id: str, *, level: str, name: str, parent: str | None = None, currency: str = "USD"
) -> Node:
    """Create a hierarchy node and its account; creating the same node twice returns it."""
    try:
        kind = Level(level)
    except ValueError:
        raise InvalidField(f"level {level!r} is not one of {', '.join(rules_.LEVEL_ORDER)}", field="level") from None
    with deps.uow(write=False) as uow:
        parent_node = None if parent is None else node_from(node_row(uow, parent))
        existing = uow.finops.node(node_id)
    problem = rules_.check_parent(kind, parent_node)
    if problem is not None:
        raise InvalidField(problem, field="parent")
    node = Node(node_id, kind, check_text(name, field="name", required=True, length_max=255), parent, currency)
    if existing is not None:
        return node_from(existing)
    _create(deps, node)
    return node


def _create(deps: Deps, node: Node) -> None:
    accounts.create_account(
        deps, node.id, currency=node.currency, parent=node.parent_id, drawdown_policy="fifo",
        metadata={"finops_level": str(node.level)},
    )  # fmt: skip
    with deps.uow(write=True) as uow:
        if uow.finops.node(node.id) is None:
            uow.finops.add_node({
                "id": node.id, "level": str(node.level), "name": node.name, "parent_id": node.parent_id,
                "currency": node.currency, "created_at": to_micros(deps.clock.now()),
            })  # fmt: skip


def ensure_unallocated(deps: Deps, currency: str = "USD") -> None:
    with deps.uow(write=False) as uow:
        if uow.finops.node(UNALLOCATED) is not None:
            return
    _create(deps, Node(UNALLOCATED, Level.UNALLOCATED, "Unallocated", None, currency))


def nodes(deps: Deps) -> list[Node]:
    with deps.uow(write=False) as uow:
        return [node_from(r) for r in uow.finops.nodes()]


def add_rule(
    deps: Deps, rule_id: str, *, kind: str, value: str, node: str, key: str = "", priority: int = 100
) -> MappingRule:
    try:
        match_kind = MatchKind(kind)
    except ValueError:
        raise InvalidField(f"kind {kind!r} is not one of {', '.join(MatchKind)}", field="kind") from None
    if match_kind is not MatchKind.USAGE_ACCOUNT and not key:
        raise InvalidField(f"a {match_kind} rule needs the key it looks at", field="key")
    rule = MappingRule(
        rule_id, int(priority), match_kind, key, check_text(value, field="value", required=True, length_max=255), node
    )
    with deps.uow(write=True) as uow:
        node_row(uow, node)
        existing = next((r for r in uow.finops.rules() if r["id"] == rule_id), None)
        if existing is not None:  # the same rule again returns it; another rule under its id is a conflict
            stored = (existing["priority"], existing["kind"], existing["match_key"], existing["match_value"])
            if (*stored, existing["node_id"]) != (rule.priority, str(rule.kind), rule.key, rule.value, rule.node_id):
                raise FinOpsRuleAlreadyExists(f"a mapping rule {rule_id[:80]!r} exists with other values", field="id")
            return rule
        uow.finops.add_rule({
            "id": rule.id, "priority": rule.priority, "kind": str(rule.kind), "match_key": rule.key,
            "match_value": rule.value, "node_id": rule.node_id, "created_at": to_micros(deps.clock.now()),
        })  # fmt: skip
    return rule


def mapping_rules(deps: Deps) -> list[MappingRule]:
    with deps.uow(write=False) as uow:
        return _rules(uow)


def _rules(uow: UnitOfWork) -> list[MappingRule]:
    return rules_.ordered(
        MappingRule(r["id"], r["priority"], MatchKind(r["kind"]), r["match_key"], r["match_value"], r["node_id"])
        for r in uow.finops.rules()
    )


# -- import (F1) -------------------------------------------------------------------------


def imported(deps: Deps, sha256: str) -> str | None:
    """The id of the import of a file with these bytes, if there was one."""
    with deps.uow(write=False) as uow:
        return uow.finops.import_by_sha(sha256)


def record_import(deps: Deps, batch: ExportBatch, *, actor: str) -> ImportReport:
    """Store one file's periods, spend and credits, then draw credit for the new spend.

    The same bytes twice are a duplicate and change nothing. A period the file holds is
    new, unchanged (skipped) or restated: a restated period's spend replaces what the period
    had (rows it no longer mentions drop to zero) and the change is logged with before and
    after totals.
    """
    ensure_unallocated(deps)
    now = deps.clock.now()
    with deps.uow(write=True) as uow:
        found = uow.finops.import_by_sha(batch.sha256)
        if found is not None:
            return ImportReport(found, True, {}, 0, 0, 0, 0)
        import_id = deps.ids.new("fi")
        uow.finops.add_import({
            "id": import_id, "sha256": batch.sha256, "size_bytes": batch.size_bytes, "file_name": batch.file_name[:255],
            "format": batch.format, "row_count": batch.row_count, "imported_at": to_micros(now),
        })  # fmt: skip
        kinds = _periods(deps, uow, batch, import_id, now)
        replaced = {key for key, kind in kinds.items() if kind is not PeriodChangeKind.UNCHANGED}
        spend_rows = _store_spend(uow, batch, replaced, import_id, now)
        new, seen = _store_credits(deps, uow, batch, now)
    drawn = consume(deps, actor=actor)
    labels = {f"{start:%Y-%m} {currency}": str(kind) for (start, currency), kind in sorted(kinds.items())}
    return ImportReport(import_id, False, labels, spend_rows, new, seen, drawn)


def _periods(
    deps: Deps, uow: UnitOfWork, batch: ExportBatch, import_id: str, now: datetime
) -> dict[tuple[datetime, str], PeriodChangeKind]:
    kinds = {}
    for (start, currency), summary in batch.periods.items():
        stored = uow.finops.period(to_micros(start), currency)
        before = None if stored is None else json.loads(stored["summary"])
        kind = rules_.period_change(before, summary)
        kinds[(start, currency)] = kind
        if kind is PeriodChangeKind.UNCHANGED:
            continue
        uow.finops.put_period({"period_start": to_micros(start), "currency": currency, "import_id": import_id,
                               "summary": json.dumps(dict(summary), sort_keys=True)})  # fmt: skip
        uow.finops.add_change({
            "id": deps.ids.new("fc"), "import_id": import_id, "period_start": to_micros(start), "currency": currency,
            "kind": str(kind), "before": None if before is None else json.dumps(before, sort_keys=True),
            "after": json.dumps(dict(summary), sort_keys=True), "recorded_at": to_micros(now),
        })  # fmt: skip
    return kinds


_EXACT = Context(prec=100, traps=[Inexact, InvalidOperation])  # exported amounts add up exactly, or fail loudly


def _store_spend(
    uow: UnitOfWork, batch: ExportBatch, replaced: set[tuple[datetime, str]], import_id: str, now: datetime
) -> int:
    totals: defaultdict[tuple[datetime, str, str, str], Decimal] = defaultdict(Decimal)
    with localcontext(_EXACT):  # sums of exported amounts, never rounded by the default 28 digits
        for line in batch.spend:
            if (line.period_start, line.currency) in replaced:
                totals[(line.period_start, line.node_id, stored_service(line.service), line.currency)] += line.amount
    for start, currency in replaced:  # a restated period replaces: rows it no longer has drop to zero
        for row in uow.finops.spend(period_start=to_micros(start), currency=currency):
            totals.setdefault((start, row["node_id"], row["service"], currency), Decimal(0))
    units_of = {currency: unit_of(uow, currency) for (_, _, _, currency) in totals}
    rows = [
        {
            "period_start": to_micros(start), "node_id": node, "service": service, "currency": currency,
            # Net refunds can make a group's spend negative; there is nothing to draw credit for.
            "spend_units": max(to_units(amount, units_of[currency], ROUND_HALF_EVEN), 0),
            "import_id": import_id, "imported_at": to_micros(now),
        }
        for (start, node, service, currency), amount in totals.items()
    ]  # fmt: skip
    uow.finops.put_spend_many(rows)
    return len(totals)


def _store_credits(deps: Deps, uow: UnitOfWork, batch: ExportBatch, now: datetime) -> tuple[int, int]:
    new = seen = 0
    for credit in batch.credits:
        key = {
            "payer_account_id": credit.payer_account_id, "usage_account_id": credit.usage_account_id,
            "currency": credit.currency, "key_kind": credit.key_kind, "key_value": credit.key_value[:512],
        }  # fmt: skip
        # Applied so far: one amount per set of billing periods, so a restated month replaces its own.
        periods = ",".join(p.isoformat() for p in credit.billing_periods)
        row = uow.finops.credit_by_key(key)
        if row is None:
            new += 1
            uow.finops.add_credit({
                **key, "id": deps.ids.new("cc"), "description": credit.description,
                "applied": json.dumps({periods: str(credit.applied)}), "first_seen": to_micros(now),
                "last_seen": to_micros(now), "issue_date": credit.issue_date.isoformat(),
                "status": str(QueueStatus.UNALLOCATED), "allocations": 0,
            })  # fmt: skip
            continue
        seen += 1
        applied = {**json.loads(row["applied"]), periods: str(credit.applied)}
        uow.finops.update_credit(row["id"], {
            "applied": json.dumps(applied, sort_keys=True), "last_seen": to_micros(now),
            "issue_date": min(row["issue_date"], credit.issue_date.isoformat()),
        })  # fmt: skip
    return new, seen
