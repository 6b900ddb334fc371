"""FinOps cloud credits on the ledger (PRODUCT.md F1 store, F3 allocate, F4 consume).

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

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from drawdown.domain import finops as rules_
from drawdown.domain.balances import GrantState
from drawdown.domain.errors import CloudCreditNotFound, FinOpsNodeNotFound, InvalidField
from drawdown.domain.finops import (
    UNALLOCATED,
    ExportBatch,
    Level,
    MappingRule,
    MatchKind,
    Node,
    PeriodChangeKind,
    QueueStatus,
)
from drawdown.domain.grants import check_text
from drawdown.domain.instants import from_micros, to_micros
from drawdown.domain.money import Unit, format_units, parse_amount, to_units
from drawdown.services import accounts, charges, grants
from drawdown.services.common import actor_and_reason, unit_of
from drawdown.services.grants import GrantRequest
from drawdown.services.ports import Deps, UnitOfWork

PRODUCT = "cloud"
"""The product every FinOps charge names (drawdown products are identifiers, services are not)."""


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
        parent_node = None if parent is None else _node_from(_node(uow, parent))
        existing = uow.finops.node(node_id)
    problem = rules_.check_parent(kind, parent_node)
    if problem is not None:
        raise InvalidField(problem, field="parent")
    node = Node(node_id, kind, check_text(name, field="name", required=True, length_max=255), parent, currency)
    if existing is not None:
        return _node_from(existing)
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
        return [_node_from(r) for r in uow.finops.nodes()]


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
        _node(uow, node)
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


def _store_spend(
    uow: UnitOfWork, batch: ExportBatch, replaced: set[tuple[datetime, str]], import_id: str, now: datetime
) -> int:
    rules = _rules(uow)
    totals: defaultdict[tuple[datetime, str, str, str], Decimal] = defaultdict(Decimal)
    for line in batch.spend:
        if (line.period_start, line.currency) in replaced:
            node = rules_.match(rules, line.attributes)
            totals[(line.period_start, node, line.service, line.currency)] += line.amount
    for start, currency in replaced:  # a restated period replaces: rows it no longer has drop to zero
        for row in uow.finops.spend(period_start=to_micros(start), currency=currency):
            totals.setdefault((start, row["node_id"], row["service"], currency), Decimal(0))
    for (start, node, service, currency), amount in totals.items():
        unit = unit_of(uow, currency)
        # Net refunds can make a group's spend negative; there is nothing to draw credit for.
        units = max(to_units(amount, unit, ROUND_HALF_EVEN), 0)
        uow.finops.put_spend({
            "period_start": to_micros(start), "node_id": node, "service": service[:255], "currency": currency,
            "spend_units": units, "import_id": import_id, "imported_at": to_micros(now),
        })  # fmt: skip
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


# -- consume (F4) ------------------------------------------------------------------------


def consume(deps: Deps, *, actor: str) -> int:
    """Charge every spend row's uncovered part to its node through FIFO drawdown.

    Each charge is at the period's last instant (``domain.finops.draw_instant``) with
    ``allow_partial``; rows no live credit in the node's chain could cover are skipped, so
    nothing is posted for them until a credit is allocated. Returns the units drawn.
    """
    with deps.uow(write=False) as uow:
        pending = [(row, _coverable(uow, row)) for row in uow.finops.uncovered()]
    drawn = 0
    for row, coverable in pending:
        if not coverable:
            continue
        at = rules_.draw_instant(from_micros(row["period_start"]), from_micros(row["imported_at"]))
        result = charges.charge(
            deps, row["node_id"], format_units(row["spend_units"] - row["covered_units"], _unit(deps, row["currency"])),
            row["currency"], product=PRODUCT, at=at, allow_partial=True, actor=actor,
            reason=f"cloud spend {from_micros(row['period_start']):%Y-%m} {row['service']}"[:200],
            idempotency_key_=_spend_key(row),
        )  # fmt: skip
        if result.drawn.units:
            with deps.uow(write=True) as uow:
                uow.finops.add_covered(row, result.drawn.units)
            drawn += result.drawn.units
    return drawn


def _coverable(uow: UnitOfWork, row: dict[str, Any]) -> bool:
    node = uow.finops.node(row["node_id"])
    if node is None or node["currency"] != row["currency"]:
        return False
    at = rules_.draw_instant(from_micros(row["period_start"]), from_micros(row["imported_at"]))
    chain = [a.id for a in uow.accounts.chain(row["node_id"])]
    states = uow.ledger.grant_states(chain, row["currency"], open_only=True)
    return any(s.remaining_units > 0 and s.grant.active_at(at) for s in states)


def _spend_key(row: dict[str, Any]) -> str:
    parts = (
        row["period_start"],
        row["node_id"],
        row["service"],
        row["currency"],
        row["import_id"],
        row["covered_units"],
    )
    return "finops-spend:" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:40]


def _unit(deps: Deps, code: str) -> Unit:
    with deps.uow(write=False) as uow:
        return unit_of(uow, code)


# -- allocate (F3) -----------------------------------------------------------------------


def allocate(
    deps: Deps,
    credit_id: str,
    *,
    node: str,
    amount: object,
    end_date: date,
    reference: str | None = None,
    actor: str,
    reason: str,
    consume_now: bool = True,
) -> dict[str, Any]:
    """Record a detected credit's actual amount, end date and reference, and issue it as a
    ``cloud`` grant on ``node``, effective from the credit's issue date.

    Allocating again with the same values changes nothing. Anything else is a reallocation:
    the current grant is voided (with ``reason``) and a new grant holds what the old one had
    not used, so the credit's total stays the amount issued. Then (unless ``consume_now`` is
    false) uncovered spend is drawn again, so a credit allocated after its spend was imported
    still covers it. Draws are final: to let FIFO choose among several credits, allocate
    them all with ``consume_now=False`` and then call :func:`consume` once.
    """
    who, why = actor_and_reason(actor, reason, reason_required=True)
    with deps.uow(write=False) as uow:
        row = _credit(uow, credit_id)
        target = _node_from(_node(uow, node))
        units = parse_amount(amount, unit_of(uow, row["currency"]))
        old = _grant_state(uow, row)
    same = (row["node_id"], row["amount_units"], row["end_date"], row["reference"])
    if same == (node, units, end_date.isoformat(), reference):
        return row
    used = 0 if old is None else old.grant.amount_units - old.remaining_units - old.expired_units
    if units < used:
        raise InvalidField(f"credit {credit_id} has already covered more than {amount}", field="amount")
    count = row["allocations"]
    if old is not None and not old.voided:
        grants.void_grant(
            deps, old.grant.id, reason=why, actor=who, idempotency_key_=f"finops-void:{credit_id}:{count}"
        )
    request = GrantRequest(
        account=target.id, amount=format_units(units - used, _unit(deps, row["currency"])), unit=row["currency"],
        source="cloud", effective_at=rules_.day_start(date.fromisoformat(row["issue_date"])),
        expires_at=rules_.end_of_day(end_date), external_ref=reference, reason_code=why[:64],
        metadata={"finops_credit_id": credit_id},
    )  # fmt: skip
    grant = grants.issue_grant(deps, request, actor=who, idempotency_key_=f"finops-alloc:{credit_id}:{count + 1}")
    values = {"status": str(QueueStatus.ALLOCATED), "node_id": target.id, "grant_id": grant.id, "amount_units": units,
              "end_date": end_date.isoformat(), "reference": reference, "allocations": count + 1}  # fmt: skip
    with deps.uow(write=True) as uow:
        uow.finops.update_credit(credit_id, values)
        row = {**row, **values}
    if consume_now:
        consume(deps, actor=who)
    return row


def _grant_state(uow: UnitOfWork, row: dict[str, Any]) -> GrantState | None:
    if row["grant_id"] is None:
        return None
    states = uow.ledger.grant_states([row["node_id"]], row["currency"])
    return next(s for s in states if s.grant.id == row["grant_id"])


# -- lookups -----------------------------------------------------------------------------


def _node(uow: UnitOfWork, node_id: str) -> dict[str, Any]:
    row = uow.finops.node(node_id)
    if row is None:
        raise FinOpsNodeNotFound(f"no FinOps node has the id {node_id[:80]!r}; add it first", field="node")
    return row


def _node_from(row: dict[str, Any]) -> Node:
    return Node(row["id"], Level(row["level"]), row["name"], row["parent_id"], row["currency"])


def _credit(uow: UnitOfWork, credit_id: str) -> dict[str, Any]:
    row = uow.finops.credit(credit_id)
    if row is None:
        raise CloudCreditNotFound(f"no detected cloud credit has the id {credit_id[:80]!r}", field="credit_id")
    return row
