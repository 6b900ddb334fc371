"""An independent, deliberately naive replay of the raw ledger rows.

It reads every entry and recomputes balances from scratch, without projections or
checkpoints, so tests can compare the engine's fast answers against it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Engine, text


@dataclass(frozen=True)
class Replayed:
    available: int
    pending: int
    reserved: int
    consumed: int
    expired: int
    voided: int
    issued: int
    grant_remaining: dict[str, int]


def replay(engine: Engine, account: str, unit: str, at: int) -> Replayed:
    with engine.connect() as conn:
        entries = conn.execute(
            text(
                "SELECT kind, account_id, owner_id, grant_id, amount, effective_at FROM ledger_entries WHERE unit = :u"
            ),
            {"u": unit},
        ).all()
        grant_rows = {
            r.id: r
            for r in conn.execute(
                text("SELECT id, effective_at, expires_at FROM grants WHERE account_id = :a AND unit = :u"),
                {"a": account, "u": unit},
            )
        }
        voids = {}
        for row in conn.execute(text("SELECT links, effective_at FROM ledger_transactions WHERE kind = 'void'")):
            voids[json.loads(row.links)["grant_id"]] = row.effective_at
    kinds: dict[str, int] = defaultdict(int)
    remaining: dict[str, int] = defaultdict(int)
    for kind, account_id, owner_id, grant_id, amount, effective_at in entries:
        if effective_at > at:
            continue
        if account_id == account:
            kinds[kind] += amount
        if kind == "grant" and owner_id == account:
            remaining[grant_id] += amount
    available = pending = lapsed = 0
    for grant_id, left in remaining.items():
        g = grant_rows[grant_id]
        if voids.get(grant_id, at + 1) <= at:
            continue
        if at < g.effective_at:
            pending += left
        elif g.expires_at is not None and at >= g.expires_at:
            lapsed += left
        else:
            available += left
    return Replayed(
        available=available,
        pending=pending,
        reserved=kinds["hold"],
        consumed=kinds["consumed"],
        expired=kinds["expired"] + lapsed,
        voided=kinds["voided"],
        issued=-kinds["issued"],
        grant_remaining=dict(remaining),
    )


def unbalanced_transactions(engine: Engine) -> list[tuple[int, str, int]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT tx_seq, unit, SUM(amount) FROM ledger_entries GROUP BY tx_seq, unit HAVING SUM(amount) <> 0"
                )
            )
        ]
