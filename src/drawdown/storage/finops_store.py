"""FinOps tables (issue 6): nodes, rules, imports, period summaries, spend, changes, credits.

Everything money-like that moves is in the ledger: node accounts, cloud grants and the charges
drawing them. These tables hold what the ledger does not: the hierarchy's names and levels,
mapping rules, which files were imported, what each billing period last said, spend per
(period, node, service) with how much of it credit has covered, and the detected-credit queue.
Rows go in and out as plain mappings; ``services.finops`` gives them meaning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, select, update

from drawdown.storage.schema import (
    finops_credits,
    finops_import_changes,
    finops_imports,
    finops_nodes,
    finops_periods,
    finops_rules,
    finops_spend,
)

Row = dict[str, Any]


class FinOpsStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- hierarchy and rules ------------------------------------------------------------

    def node(self, node_id: str) -> Row | None:
        found = self.conn.execute(select(finops_nodes).where(finops_nodes.c.id == node_id)).mappings().first()
        return None if found is None else dict(found)

    def add_node(self, row: Mapping[str, Any]) -> None:
        self.conn.execute(insert(finops_nodes).values(dict(row)))

    def nodes(self) -> list[Row]:
        return [dict(r) for r in self.conn.execute(select(finops_nodes).order_by(finops_nodes.c.id)).mappings()]

    def add_rule(self, row: Mapping[str, Any]) -> None:
        self.conn.execute(insert(finops_rules).values(dict(row)))

    def rules(self) -> list[Row]:
        query = select(finops_rules).order_by(finops_rules.c.priority, finops_rules.c.id)
        return [dict(r) for r in self.conn.execute(query).mappings()]

    # -- imports, periods, changes --------------------------------------------------------

    def import_by_sha(self, sha256: str) -> str | None:
        query = select(finops_imports.c.id).where(finops_imports.c.sha256 == sha256)
        found: str | None = self.conn.execute(query).scalar()
        return found

    def add_import(self, row: Mapping[str, Any]) -> None:
        self.conn.execute(insert(finops_imports).values(dict(row)))

    def period(self, period_start: int, currency: str) -> Row | None:
        query = select(finops_periods).where(
            finops_periods.c.period_start == period_start, finops_periods.c.currency == currency
        )
        found = self.conn.execute(query).mappings().first()
        return None if found is None else dict(found)

    def put_period(self, row: Mapping[str, Any]) -> None:
        keys = {"period_start": row["period_start"], "currency": row["currency"]}
        if self.period(**keys) is None:
            self.conn.execute(insert(finops_periods).values(dict(row)))
            return
        where = and_(*(getattr(finops_periods.c, k) == v for k, v in keys.items()))
        self.conn.execute(update(finops_periods).where(where).values(dict(row)))

    def add_change(self, row: Mapping[str, Any]) -> None:
        self.conn.execute(insert(finops_import_changes).values(dict(row)))

    def changes(self) -> list[Row]:
        query = select(finops_import_changes).order_by(finops_import_changes.c.recorded_at, finops_import_changes.c.id)
        return [dict(r) for r in self.conn.execute(query).mappings()]

    # -- spend ----------------------------------------------------------------------------

    def spend(self, *, period_start: int | None = None, currency: str | None = None) -> list[Row]:
        query = select(finops_spend)
        if period_start is not None:
            query = query.where(finops_spend.c.period_start == period_start)
        if currency is not None:
            query = query.where(finops_spend.c.currency == currency)
        order = (finops_spend.c.period_start, finops_spend.c.node_id, finops_spend.c.service, finops_spend.c.currency)
        return [dict(r) for r in self.conn.execute(query.order_by(*order)).mappings()]

    def uncovered(self) -> list[Row]:
        """Spend rows credit has not fully covered, oldest period first."""
        query = select(finops_spend).where(finops_spend.c.spend_units > finops_spend.c.covered_units)
        order = (finops_spend.c.period_start, finops_spend.c.node_id, finops_spend.c.service, finops_spend.c.currency)
        return [dict(r) for r in self.conn.execute(query.order_by(*order)).mappings()]

    def put_spend_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert spend rows, or replace the spend of those that exist (keeping what credit
        already covered). Later rows with the same key win, as one ``put`` after another would.

        One read of the keys each (period, currency) already has, then one batched insert
        and one batched update: an import writes thousands of rows.
        """
        latest = {tuple(row[k] for k in _SPEND_KEY): row for row in rows}
        existing = set()
        for period_start, currency in {(key[0], key[3]) for key in latest}:
            query = select(finops_spend.c.node_id, finops_spend.c.service).where(
                finops_spend.c.period_start == period_start, finops_spend.c.currency == currency
            )
            existing |= {(period_start, node, service, currency) for node, service in self.conn.execute(query)}
        new = [{**row, "covered_units": 0} for key, row in latest.items() if key not in existing]
        if new:
            self.conn.execute(insert(finops_spend), new)
        replaced = [{f"key_{k}": row[k] for k in _SPEND_KEY} | {k: row[k] for k in _SPEND_VALUES}
                    for key, row in latest.items() if key in existing]  # fmt: skip
        if replaced:
            where = and_(*(getattr(finops_spend.c, k) == bindparam(f"key_{k}") for k in _SPEND_KEY))
            self.conn.execute(update(finops_spend).where(where), replaced)  # SET: the non-key entries

    def add_covered(self, key: Mapping[str, Any], units: int) -> None:
        where = and_(*(getattr(finops_spend.c, k) == v for k, v in _spend_key(key).items()))
        self.conn.execute(update(finops_spend).where(where).values(covered_units=finops_spend.c.covered_units + units))

    # -- detected credits -----------------------------------------------------------------

    def credit(self, credit_id: str) -> Row | None:
        found = self.conn.execute(select(finops_credits).where(finops_credits.c.id == credit_id)).mappings().first()
        return None if found is None else dict(found)

    def credit_by_key(self, key: Mapping[str, str]) -> Row | None:
        where = and_(*(getattr(finops_credits.c, k) == v for k, v in key.items()))
        found = self.conn.execute(select(finops_credits).where(where)).mappings().first()
        return None if found is None else dict(found)

    def add_credit(self, row: Mapping[str, Any]) -> None:
        self.conn.execute(insert(finops_credits).values(dict(row)))

    def update_credit(self, credit_id: str, values: Mapping[str, Any]) -> None:
        self.conn.execute(update(finops_credits).where(finops_credits.c.id == credit_id).values(dict(values)))

    def credits(self) -> list[Row]:
        query = select(finops_credits).order_by(finops_credits.c.issue_date, finops_credits.c.id)
        return [dict(r) for r in self.conn.execute(query).mappings()]


_SPEND_KEY = ("period_start", "node_id", "service", "currency")
_SPEND_VALUES = ("spend_units", "import_id", "imported_at")


def _spend_key(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in _SPEND_KEY}
