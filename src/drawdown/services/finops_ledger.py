"""FinOps on the ledger side: allocate detected credits as grants (F3) and draw them for
spend (F4). See ``services.finops`` for the design; every write here goes through the
ordinary ledger services with idempotency keys derived from the FinOps state they change.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from drawdown.domain import finops as rules_
from drawdown.domain.balances import GrantState
from drawdown.domain.errors import CloudCreditNotFound, FinOpsNodeNotFound, InvalidField
from drawdown.domain.finops import Level, Node, QueueStatus
from drawdown.domain.instants import from_micros
from drawdown.domain.money import Unit, format_units, parse_amount
from drawdown.services import charges, grants
from drawdown.services.common import account_of, actor_and_reason, unit_of
from drawdown.services.grants import GrantRequest
from drawdown.services.ports import Deps, UnitOfWork

PRODUCT = "cloud"
"""The product every FinOps charge names (drawdown products are identifiers, services are not)."""


# -- consume (F4) ------------------------------------------------------------------------


def consume(deps: Deps, *, actor: str) -> int:
    """Charge every spend row's uncovered part to its node through FIFO drawdown.

    Each charge is at the period's last instant (``domain.finops.draw_instant``) with
    ``allow_partial``; rows no live credit in the node's chain could cover are skipped, so
    nothing is posted for them until a credit is allocated. Returns the units drawn.
    """
    with deps.uow(write=False) as uow:
        # Whether a row is coverable depends only on its node, currency and draw instant, and
        # an import brings thousands of rows for a few dozen nodes: ask once per combination.
        known: dict[tuple[str, str, datetime], bool] = {}
        pending = []
        for row in uow.finops.uncovered():
            at = rules_.draw_instant(from_micros(row["period_start"]), from_micros(row["imported_at"]))
            key = (row["node_id"], row["currency"], at)
            if key not in known:
                known[key] = _coverable(uow, *key)
            if known[key]:
                pending.append((row, at))
    drawn = 0
    for row, at in pending:
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


def _coverable(uow: UnitOfWork, node_id: str, currency: str, at: datetime) -> bool:
    """Could a live credit in the node's chain cover spend drawn at ``at``?"""
    node = uow.finops.node(node_id)
    if node is None or node["currency"] != currency:
        return False
    chain = [a.id for a in uow.accounts.chain(account_of(uow, node_id))]
    states = uow.ledger.grant_states(chain, currency, open_only=True)
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
        target = node_from(node_row(uow, node))
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


def node_row(uow: UnitOfWork, node_id: str) -> dict[str, Any]:
    row = uow.finops.node(node_id)
    if row is None:
        raise FinOpsNodeNotFound(f"no FinOps node has the id {node_id[:80]!r}; add it first", field="node")
    return row


def node_from(row: dict[str, Any]) -> Node:
    return Node(row["id"], Level(row["level"]), row["name"], row["parent_id"], row["currency"])


def _credit(uow: UnitOfWork, credit_id: str) -> dict[str, Any]:
    row = uow.finops.credit(credit_id)
    if row is None:
        raise CloudCreditNotFound(f"no detected cloud credit has the id {credit_id[:80]!r}", field="credit_id")
    return row
