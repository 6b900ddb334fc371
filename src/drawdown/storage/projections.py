"""Folding newly posted entries into the balance projections, in the writer's transaction.

- ``grant_balances``: per grant, what is left, used, held, expired and voided.
- ``account_balances``: per account and unit, entry totals by kind, plus the balance
  classified at ``computed_at`` and ``valid_until``, the next instant a grant starts or
  expires. While an account's classification is still valid, new grant legs are added to
  the bucket (available, pending, lapsed) their grant is in at the posting instant; when it
  is not, the classification is recomputed from the account's grants. Either way the cost
  depends on the account's grants, never on the size of the ledger.
- ``balance_checkpoints``: every ``CHECKPOINT_EVERY_ENTRIES`` entries, all of an account's
  totals as of an hour before the posting; a back-dated entry deletes the checkpoints at or
  after its instant, so no checkpoint is ever stale.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from drawdown.domain import limits
from drawdown.domain.balances import GrantState, summarize
from drawdown.domain.instants import to_micros
from drawdown.domain.ledger import EntryKind, Transaction, TxKind
from drawdown.storage import rows
from drawdown.storage import statements as sql
from drawdown.storage.schema import account_balances, balance_checkpoints

GRANT_COLUMN = {
    EntryKind.GRANT: "remaining",
    EntryKind.CONSUMED: "used",
    EntryKind.HOLD: "held",
    EntryKind.EXPIRED: "expired",
    EntryKind.VOIDED: "voided",
}
ACCOUNT_KINDS = (
    EntryKind.ISSUED,
    EntryKind.HOLD,
    EntryKind.CONSUMED,
    EntryKind.EXPIRED,
    EntryKind.VOIDED,
    EntryKind.OVERDRAFT,
)
BUCKETS = ("available", "pending", "lapsed")  # the classified balance of account_balances
CHECKPOINT_LAG_MICROS = 3600 * 10**6  # checkpoints trail the posting instant by an hour
_NEVER = 2**62


@dataclass
class _AccountChange:
    kinds: dict[str, int] = field(default_factory=lambda: {str(k): 0 for k in ACCOUNT_KINDS})
    entries: int = 0
    earliest: int = _NEVER
    grant_legs: list[tuple[str, int]] = field(default_factory=list)
    new_grants: list[str] = field(default_factory=list)


class Projector:
    """Applies posted transactions to the projections; used only by the ledger's writer."""

    def __init__(
        self,
        conn: Connection,
        grant_windows: Callable[[Sequence[str]], Mapping[str, tuple[datetime, datetime | None]]],
        grant_states: Callable[[str, str], list[GrantState]],
        totals_as_of: Callable[[str, str, int], tuple[dict[str, int], dict[str, dict[str, int]]]],
    ) -> None:
        self.conn = conn
        self.grant_windows = grant_windows
        self.grant_states = grant_states
        self.totals_as_of = totals_as_of

    def apply(self, posted: Sequence[Transaction], recorded_at: datetime) -> None:
        grant_delta: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(GRANT_COLUMN.values(), 0))
        changes: dict[tuple[str, str], _AccountChange] = defaultdict(_AccountChange)
        for tx in posted:
            effective = to_micros(tx.effective_at)
            for p in tx.postings:
                change = changes[(p.account_id, p.unit)]
                change.entries += 1
                change.earliest = min(change.earliest, effective)
                if p.kind in ACCOUNT_KINDS:
                    change.kinds[str(p.kind)] += p.amount
                if p.grant_id is not None and p.kind in GRANT_COLUMN:
                    grant_delta[p.grant_id][GRANT_COLUMN[p.kind]] += p.amount
                if p.kind is EntryKind.GRANT:
                    assert p.grant_id is not None
                    change.grant_legs.append((p.grant_id, p.amount))
                    if tx.kind is TxKind.GRANT_ISSUED:
                        change.new_grants.append(p.grant_id)
            if tx.kind is TxKind.VOID:
                sql.P_MARK_VOIDED.run(self.conn, {"gid": tx.links["grant_id"], "at": effective})
        if grant_delta:
            self._fold_grants(grant_delta)
        # when each grant a leg names takes effect and expires, in one load for the batch
        windows = self.grant_windows(sorted({gid for c in changes.values() for gid, _ in c.grant_legs}))
        for (account_id, unit), change in sorted(changes.items()):
            self._fold_account(account_id, unit, change, recorded_at, windows)

    def _fold_grants(self, grant_delta: Mapping[str, Mapping[str, int]]) -> None:
        sql.P_FOLD_GRANTS.run_many(
            self.conn, [{"gid": gid, **{f"d_{c}": v for c, v in d.items()}} for gid, d in grant_delta.items()]
        )

    def _fold_account(
        self,
        account_id: str,
        unit: str,
        change: _AccountChange,
        recorded_at: datetime,
        windows: Mapping[str, tuple[datetime, datetime | None]],
    ) -> None:
        if not change.new_grants and self._fold_in_place(account_id, unit, change, recorded_at, windows):
            return
        rows_found = sql.P_ACCOUNT_BALANCE.mappings(self.conn, {"account_id": account_id, "unit": unit})
        found = rows_found[0] if rows_found else None
        row: dict[str, Any] = dict(found) if found is not None else _empty_row(account_id, unit)
        now = to_micros(recorded_at)
        for kind, amount in change.kinds.items():
            row[kind] += amount
        row["entries_since_checkpoint"] += change.entries
        valid = (
            found is not None and row["computed_at"] <= now and (row["valid_until"] is None or now < row["valid_until"])
        )
        if valid:
            self._classify_legs(row, change, recorded_at, windows)
        else:
            self._recompute(row, recorded_at)
        if row["checkpoint_at"] is not None and change.earliest <= row["checkpoint_at"]:
            row["checkpoint_at"] = self._drop_checkpoints(account_id, unit, change.earliest)
        if found is None:
            sql.P_INSERT_ACCOUNT_BALANCE.run(self.conn, row)
        else:
            values = {f"v_{name}": row[name] for name in sql.ACCOUNT_BALANCE_COLUMNS}
            sql.P_WRITE_ACCOUNT_BALANCE.run(self.conn, {"key_account": account_id, "key_unit": unit, **values})
        if row["entries_since_checkpoint"] >= limits.CHECKPOINT_EVERY_ENTRIES:
            self._checkpoint(account_id, unit, now - CHECKPOINT_LAG_MICROS)

    def _fold_in_place(
        self,
        account_id: str,
        unit: str,
        change: _AccountChange,
        recorded_at: datetime,
        windows: Mapping[str, tuple[datetime, datetime | None]],
    ) -> bool:
        """The common case in one statement: the row exists and its classification is still
        valid at the posting instant, so the totals and buckets grow by what the legs add
        (what ``_fold_account`` would compute from the row, without reading it first).
        False, with nothing written, when the row is missing or its classification lapsed."""
        now = to_micros(recorded_at)
        params: dict[str, Any] = {f"d_{kind}": amount for kind, amount in change.kinds.items()}
        params.update({f"d_{bucket}": amount for bucket, amount in _buckets(change, recorded_at, windows).items()})
        params.update(key_account=account_id, key_unit=unit, now=now, d_entries_since_checkpoint=change.entries)
        folded = sql.P_FOLD_ACCOUNT_BALANCE.rows(self.conn, params)
        if not folded:
            return False
        ((entries, checkpoint_at),) = folded
        if checkpoint_at is not None and change.earliest <= checkpoint_at:
            t = account_balances.c
            kept = self._drop_checkpoints(account_id, unit, change.earliest)
            self.conn.execute(
                update(account_balances).where(t.account_id == account_id, t.unit == unit).values(checkpoint_at=kept)
            )
        if entries >= limits.CHECKPOINT_EVERY_ENTRIES:
            self._checkpoint(account_id, unit, now - CHECKPOINT_LAG_MICROS)
        return True

    def _classify_legs(
        self,
        row: dict[str, Any],
        change: _AccountChange,
        at: datetime,
        windows: Mapping[str, tuple[datetime, datetime | None]],
    ) -> None:
        """Add each grant leg to the bucket its grant is in at ``at``."""
        for bucket, amount in _buckets(change, at, windows).items():
            row[bucket] += amount
        for grant_id in change.new_grants:
            for moment in windows[grant_id]:
                if moment is not None and moment > at:
                    micros = to_micros(moment)
                    row["valid_until"] = micros if row["valid_until"] is None else min(row["valid_until"], micros)
        row["computed_at"] = to_micros(at)

    def _recompute(self, row: dict[str, Any], at: datetime) -> None:
        totals = {kind: row[str(kind)] for kind in ACCOUNT_KINDS}
        balance = summarize(
            row["account_id"], row["unit"], at, self.grant_states(row["account_id"], row["unit"]), totals
        )
        row["available"] = balance.available_units
        row["pending"] = balance.pending_units
        row["lapsed"] = balance.expired_units - row[str(EntryKind.EXPIRED)]
        row["computed_at"] = to_micros(at)
        row["valid_until"] = None if balance.valid_until is None else to_micros(balance.valid_until)

    def _drop_checkpoints(self, account_id: str, unit: str, earliest: int) -> int | None:
        """A back-dated entry invalidates every checkpoint at or after its instant."""
        c = balance_checkpoints.c
        of_account = (c.account_id == account_id) & (c.unit == unit)
        self.conn.execute(delete(balance_checkpoints).where(of_account, c.as_of >= earliest))
        newest: int | None = self.conn.execute(select(func.max(c.as_of)).where(of_account)).scalar()
        return newest

    def _checkpoint(self, account_id: str, unit: str, as_of: int) -> None:
        kinds, per_grant = self.totals_as_of(account_id, unit, as_of)
        key = {"account_id": account_id, "unit": unit, "as_of": as_of}
        sql.P_DELETE_CHECKPOINT.run(self.conn, key)
        sql.P_INSERT_CHECKPOINT.run(self.conn, {**key, "totals": rows.dumps({"kinds": kinds, "grants": per_grant})})
        sql.P_CHECKPOINT_TAKEN.run(self.conn, key)


def _buckets(
    change: _AccountChange, at: datetime, windows: Mapping[str, tuple[datetime, datetime | None]]
) -> dict[str, int]:
    """What the grant legs add to each bucket (available, pending, lapsed): a leg goes to the
    bucket its grant is in at ``at``."""
    found = dict.fromkeys(BUCKETS, 0)
    for grant_id, amount in change.grant_legs:
        effective_at, expires_at = windows[grant_id]
        if at < effective_at:
            found["pending"] += amount
        elif expires_at is not None and at >= expires_at:
            found["lapsed"] += amount
        else:
            found["available"] += amount
    return found


def _empty_row(account_id: str, unit: str) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "unit": unit,
        **{str(k): 0 for k in ACCOUNT_KINDS},
        "available": 0,
        "pending": 0,
        "lapsed": 0,
        "computed_at": 0,
        "valid_until": 0,
        "entries_since_checkpoint": 0,
        "checkpoint_at": None,
    }
