"""A Jepsen-style checker for the bank workload: invariants read from one database snapshot.

It reads raw rows (entries, projections, holds) in a single read-only transaction — an
SQLite read transaction, or REPEATABLE READ on PostgreSQL (the checker is a reader; no money
movement relies on it) — and returns every violation it finds as a sentence:

- every transaction sums to zero per unit (value is conserved);
- per account and unit, each projected total equals the sum of its entries (balance = sum
  of entries), and each grant's projected remainder equals the sum of its entries;
- per pool (an account and its descendants; an account outside a pool alone): issued =
  grant remainders + held + consumed + expired + voided + overdraft;
- no grant remainder is negative and no account owes more than its overdraft limit (floor),
  nor has a positive overdraft (credit paid back twice);
- the held total equals the sum of the account's open holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy import Engine, text

KINDS = ("issued", "hold", "consumed", "expired", "voided", "overdraft")


def check(engine: Engine, overdraft_limits: Mapping[tuple[str, str], int] | None = None) -> list[str]:
    limits = overdraft_limits or {}
    problems: list[str] = []
    options = {} if engine.dialect.name == "sqlite" else {"isolation_level": "REPEATABLE READ"}
    with engine.connect().execution_options(**options) as conn:
        unbalanced = conn.execute(
            text("SELECT tx_seq, unit, SUM(amount) FROM ledger_entries GROUP BY tx_seq, unit HAVING SUM(amount) <> 0")
        ).all()
        problems += [f"transaction {seq} does not balance in {unit}: {total}" for seq, unit, total in unbalanced]
        sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS, 0))
        for account, unit, kind, total in conn.execute(
            text("SELECT account_id, unit, kind, SUM(amount) FROM ledger_entries GROUP BY account_id, unit, kind")
        ):
            if kind in KINDS:
                sums[(account, unit)][kind] = int(total)
        grant_sums = {
            gid: int(total)
            for gid, total in conn.execute(
                text("SELECT grant_id, SUM(amount) FROM ledger_entries WHERE kind = 'grant' GROUP BY grant_id")
            )
        }
        remaining: dict[tuple[str, str], int] = defaultdict(int)
        for gid, account, unit, left in conn.execute(
            text("SELECT grant_id, account_id, unit, remaining FROM grant_balances")
        ):
            remaining[(account, unit)] += left
            if left < 0:
                problems.append(f"grant {gid} has a negative remainder {left}")
            if left != grant_sums.get(gid, 0):
                problems.append(f"grant {gid} projects {left} but its entries sum to {grant_sums.get(gid, 0)}")
        held = {
            (a, u): int(total)
            for a, u, total in conn.execute(
                text(
                    "SELECT account_id, unit, SUM(amount_units) FROM holds WHERE status = 'open' "
                    "GROUP BY account_id, unit"
                )
            )
        }
        parents = dict(conn.execute(text("SELECT id, parent_id FROM accounts")).all())
        issued: dict[tuple[str, str], int] = defaultdict(int)
        parts: dict[tuple[str, str], int] = defaultdict(int)
        columns = ", ".join(KINDS)
        for row in conn.execute(text(f"SELECT account_id, unit, {columns} FROM account_balances")).mappings():
            key = (row["account_id"], row["unit"])
            for kind in KINDS:
                if row[kind] != sums[key][kind]:
                    problems.append(f"{key} projects {kind} {row[kind]} but its entries sum to {sums[key][kind]}")
            # A pooled child draws its ancestors' grants: value is conserved per pool (the tree
            # under a root account); for an account outside any pool that is the account itself.
            pool = (_root(parents, row["account_id"]), row["unit"])
            issued[pool] += -row["issued"]
            parts[pool] += sum(row[k] for k in KINDS if k != "issued")
            if row["overdraft"] > 0:
                problems.append(f"{key} has a positive overdraft {row['overdraft']}: credit it cannot use")
            if -row["overdraft"] > limits.get(key, 0):
                problems.append(f"{key} owes {-row['overdraft']}, beyond its overdraft limit {limits.get(key, 0)}")
            if row["hold"] != held.get(key, 0):
                problems.append(f"{key} holds {row['hold']} but its open holds sum to {held.get(key, 0)}")
        for (account, unit), left in remaining.items():
            parts[(_root(parents, account), unit)] += left
        for pool in sorted(issued.keys() | parts.keys()):
            if issued[pool] != parts[pool]:
                problems.append(f"{pool} is not conserved: issued {issued[pool]} but the parts sum to {parts[pool]}")
        conn.rollback()
    return problems


def _root(parents: Mapping[str, str | None], account: str) -> str:
    seen = 0
    while parents.get(account) is not None and seen < 64:
        account, seen = parents[account], seen + 1  # type: ignore[assignment]
    return account
