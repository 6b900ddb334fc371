"""The ledger's one writer and its projections.

``post_many`` is the only code that writes ``ledger_transactions`` and ``ledger_entries``,
and it only ever inserts. In the same database transaction it numbers and hash-chains the
new transactions and folds their entries into the projections:

- ``grant_balances``: per grant, what is left, used, held, expired and voided;
- ``account_balances``: per account and unit, entry totals by kind, plus the balance
  classified at the moment of posting and the instant until which that stays true, so a
  current balance is one primary-key read;
- ``balance_checkpoints``: per account and unit, every total as of an instant, taken every
  few hundred entries and dropped when a back-dated entry lands before them, so a balance
  as of any instant is a checkpoint plus a bounded run of entries.

Projections change the cost of reading a balance, never its value: tests compare them with
a replay of the raw entries.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update

from drawdown.domain import limits
from drawdown.domain.balances import Balance, GrantState, summarize
from drawdown.domain.grants import Grant
from drawdown.domain.instants import from_micros, to_micros
from drawdown.domain.ledger import (
    EntryKind,
    Transaction,
    TransactionDraft,
    TxKind,
    chain_hash,
    check_balanced,
)
from drawdown.storage import rows
from drawdown.storage.schema import (
    account_balances,
    balance_checkpoints,
    grant_balances,
    grants,
    ledger_entries,
    ledger_head,
    ledger_transactions,
)

_GRANT_COLUMN = {
    EntryKind.GRANT: "remaining",
    EntryKind.CONSUMED: "used",
    EntryKind.HOLD: "held",
    EntryKind.EXPIRED: "expired",
    EntryKind.VOIDED: "voided",
}
_ACCOUNT_KINDS = (EntryKind.ISSUED, EntryKind.HOLD, EntryKind.CONSUMED, EntryKind.EXPIRED, EntryKind.VOIDED)
CHECKPOINT_LAG_MICROS = 3600 * 10**6  # checkpoints trail the newest entry by an hour


class LedgerStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.posted: list[str] = []  # ids of the transactions this unit of work posted, in order

    # -- writing -------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        row = self.conn.execute(select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1)).one()
        return row.seq, row.hash

    def post_many(self, drafts: Sequence[tuple[TransactionDraft, str]], recorded_at: datetime) -> list[Transaction]:
        """Number, chain and insert ``(draft, transaction id)`` pairs; update projections."""
        assert len(drafts) <= limits.TRANSACTIONS_PER_BATCH_MAX
        seq, prev_hash = self.head()
        posted: list[Transaction] = []
        for draft, tx_id in drafts:
            check_balanced(draft.postings)
            seq += 1
            tx = Transaction(
                id=tx_id, seq=seq, kind=draft.kind, effective_at=draft.effective_at, recorded_at=recorded_at,
                postings=draft.postings, actor=draft.actor, reason=draft.reason,
                idempotency_key=draft.idempotency_key, fingerprint=draft.fingerprint,
                links=dict(draft.links), data=dict(draft.data), prev_hash=prev_hash, hash="",
            )  # fmt: skip
            tx = replace(tx, hash=chain_hash(prev_hash, tx))
            prev_hash = tx.hash
            posted.append(tx)
        if not posted:
            return posted
        self.conn.execute(insert(ledger_transactions), [rows.transaction_row(tx) for tx in posted])
        entries = [entry for tx in posted for entry in rows.entry_rows(tx)]
        if entries:
            self.conn.execute(insert(ledger_entries), entries)
        self.conn.execute(update(ledger_head).where(ledger_head.c.id == 1).values(seq=seq, hash=prev_hash))
        self._project(posted, recorded_at)
        self.posted.extend(tx.id for tx in posted)
        return posted

    def _project(self, posted: Sequence[Transaction], recorded_at: datetime) -> None:
        grant_delta: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_GRANT_COLUMN.values(), 0))
        account_delta: dict[tuple[str, str], dict[str, int]] = defaultdict(
            lambda: {**{str(k): 0 for k in _ACCOUNT_KINDS}, "n": 0}
        )
        earliest: dict[tuple[str, str], int] = {}
        owners: set[tuple[str, str]] = set()
        for tx in posted:
            effective = to_micros(tx.effective_at)
            for p in tx.postings:
                if p.grant_id is not None and p.kind in _GRANT_COLUMN:
                    grant_delta[p.grant_id][_GRANT_COLUMN[p.kind]] += p.amount
                key = (p.account_id, p.unit)
                if p.kind in _ACCOUNT_KINDS:
                    account_delta[key][str(p.kind)] += p.amount
                account_delta[key]["n"] += 1
                earliest[key] = min(earliest.get(key, effective), effective)
                if p.kind is EntryKind.GRANT:
                    owners.add(key)
            if tx.kind is TxKind.VOID:
                self.conn.execute(
                    update(grant_balances)
                    .where(grant_balances.c.grant_id == tx.links["grant_id"])
                    .values(voided_at=effective)
                )
        if grant_delta:
            self.conn.execute(
                update(grant_balances)
                .where(grant_balances.c.grant_id == bindparam("gid"))
                .values(
                    {col: getattr(grant_balances.c, col) + bindparam(f"d_{col}") for col in _GRANT_COLUMN.values()}
                ),
                [{"gid": gid, **{f"d_{c}": v for c, v in d.items()}} for gid, d in grant_delta.items()],
            )
        for (account_id, unit), delta in account_delta.items():
            self._fold_account(account_id, unit, delta, earliest[(account_id, unit)])
        now = to_micros(recorded_at)
        for account_id, unit in sorted(owners | set(account_delta)):
            self._refresh_cache(account_id, unit, recorded_at)
            self._maybe_checkpoint(account_id, unit, now)

    def _fold_account(self, account_id: str, unit: str, delta: dict[str, int], earliest: int) -> None:
        t = account_balances.c
        where = and_(t.account_id == account_id, t.unit == unit)
        changed = self.conn.execute(
            update(account_balances)
            .where(where)
            .values(
                {
                    **{str(k): getattr(t, str(k)) + delta[str(k)] for k in _ACCOUNT_KINDS},
                    "entries_since_checkpoint": t.entries_since_checkpoint + delta["n"],
                }
            )
        ).rowcount
        if changed == 0:
            self.conn.execute(
                insert(account_balances).values(
                    account_id=account_id, unit=unit, **{str(k): delta[str(k)] for k in _ACCOUNT_KINDS},
                    available=0, pending=0, lapsed=0, computed_at=0, valid_until=0,
                    entries_since_checkpoint=delta["n"],
                )
            )  # fmt: skip
        # A back-dated entry invalidates every checkpoint at or after its instant.
        c = balance_checkpoints.c
        self.conn.execute(
            delete(balance_checkpoints).where(c.account_id == account_id, c.unit == unit, c.as_of >= earliest)
        )

    def _refresh_cache(self, account_id: str, unit: str, at: datetime) -> None:
        totals = self.kind_totals(account_id, unit)
        balance = summarize(account_id, unit, at, self.grant_states([account_id], unit), totals)
        lapsed = balance.expired_units - totals.get(EntryKind.EXPIRED, 0)
        t = account_balances.c
        self.conn.execute(
            update(account_balances)
            .where(t.account_id == account_id, t.unit == unit)
            .values(
                available=balance.available_units,
                pending=balance.pending_units,
                lapsed=lapsed,
                computed_at=to_micros(at),
                valid_until=None if balance.valid_until is None else to_micros(balance.valid_until),
            )
        )

    def _maybe_checkpoint(self, account_id: str, unit: str, now: int) -> None:
        t = account_balances.c
        count = self.conn.execute(
            select(t.entries_since_checkpoint).where(t.account_id == account_id, t.unit == unit)
        ).scalar_one()
        if count < limits.CHECKPOINT_EVERY_ENTRIES:
            return
        as_of = now - CHECKPOINT_LAG_MICROS
        kinds, per_grant = self._totals_as_of(account_id, unit, as_of)
        self.conn.execute(
            delete(balance_checkpoints).where(
                balance_checkpoints.c.account_id == account_id,
                balance_checkpoints.c.unit == unit,
                balance_checkpoints.c.as_of == as_of,
            )
        )
        self.conn.execute(
            insert(balance_checkpoints).values(
                account_id=account_id, unit=unit, as_of=as_of,
                totals=rows.dumps({"kinds": kinds, "grants": per_grant}),
            )
        )  # fmt: skip
        self.conn.execute(
            update(account_balances)
            .where(t.account_id == account_id, t.unit == unit)
            .values(entries_since_checkpoint=0)
        )

    # -- reading -------------------------------------------------------------------------

    def find_by_key(self, idempotency_key: str) -> Transaction | None:
        row = (
            self.conn.execute(
                select(ledger_transactions).where(ledger_transactions.c.idempotency_key == idempotency_key)
            )
            .mappings()
            .first()
        )
        return None if row is None else self._with_postings([row])[0]

    def get(self, tx_id: str) -> Transaction | None:
        row = self.conn.execute(select(ledger_transactions).where(ledger_transactions.c.id == tx_id)).mappings().first()
        return None if row is None else self._with_postings([row])[0]

    def scan(self, after_seq: int, limit: int) -> list[Transaction]:
        """Transactions in chain order, for verification and export."""
        found = (
            self.conn.execute(
                select(ledger_transactions)
                .where(ledger_transactions.c.seq > after_seq)
                .order_by(ledger_transactions.c.seq)
                .limit(limit)
            )
            .mappings()
            .all()
        )
        return self._with_postings(found)

    def history(self, account_id: str, until: int | None, after_seq: int, limit: int) -> list[Transaction]:
        """Transactions touching an account (as owner or via its grants), oldest first."""
        e = ledger_entries.c
        touching = select(e.tx_seq).where((e.account_id == account_id) | (e.owner_id == account_id))
        if until is not None:
            touching = touching.where(e.effective_at <= until)
        found = (
            self.conn.execute(
                select(ledger_transactions)
                .where(ledger_transactions.c.seq.in_(touching), ledger_transactions.c.seq > after_seq)
                .order_by(ledger_transactions.c.seq)
                .limit(limit)
            )
            .mappings()
            .all()
        )
        return self._with_postings(found)

    def _with_postings(self, tx_rows: Sequence[Any]) -> list[Transaction]:
        if not tx_rows:
            return []
        seqs = [r["seq"] for r in tx_rows]
        legs: dict[int, list[Any]] = defaultdict(list)
        for row in self.conn.execute(
            select(ledger_entries)
            .where(ledger_entries.c.tx_seq.in_(seqs))
            .order_by(ledger_entries.c.tx_seq, ledger_entries.c.leg)
        ).mappings():
            legs[row["tx_seq"]].append(rows.posting_from(row))
        return [rows.transaction_from(r, tuple(legs[r["seq"]])) for r in tx_rows]

    def grant_states(
        self, owner_ids: Sequence[str], unit: str, *, open_only: bool = False, grant_id: str | None = None
    ) -> list[GrantState]:
        """Current state of the grants owned by ``owner_ids`` in ``unit`` (or just ``grant_id``)."""
        b = grant_balances.c
        query = (
            select(grants, b.remaining, b.used, b.held, b.expired.label("expired_units"), b.voided, b.voided_at)
            .join(grant_balances, grant_balances.c.grant_id == grants.c.id)
            .where(grants.c.account_id.in_(owner_ids), grants.c.unit == unit)
            .order_by(grants.c.created_seq)
        )
        if open_only:
            query = query.where(b.remaining > 0, b.voided_at.is_(None))
        if grant_id is not None:
            query = query.where(grants.c.id == grant_id)
        return [
            GrantState(
                rows.grant_from(r), r["remaining"], r["used"], r["held"], r["expired_units"], r["voided"],
                r["voided_at"] is not None,
            )
            for r in self.conn.execute(query).mappings()
        ]  # fmt: skip

    def kind_totals(self, account_id: str, unit: str) -> dict[EntryKind, int]:
        t = account_balances.c
        row = self.conn.execute(
            select(*(getattr(t, str(k)) for k in _ACCOUNT_KINDS)).where(t.account_id == account_id, t.unit == unit)
        ).first()
        return {} if row is None else {k: row[i] for i, k in enumerate(_ACCOUNT_KINDS)}

    def cached_balance(self, account_id: str, unit: str, now: datetime) -> Balance | None:
        """The balance kept at the last post, if nothing has changed its meaning since."""
        t = account_balances.c
        row = (
            self.conn.execute(select(account_balances).where(t.account_id == account_id, t.unit == unit))
            .mappings()
            .first()
        )
        at = to_micros(now)
        if row is None or row["computed_at"] > at or (row["valid_until"] is not None and at >= row["valid_until"]):
            return None
        return Balance(
            account_id=account_id, unit=unit, as_of=now, available_units=row["available"],
            reserved_units=row["hold"], consumed_units=row["consumed"],
            expired_units=row["expired"] + row["lapsed"], voided_units=row["voided"],
            pending_units=row["pending"], issued_units=-row["issued"],
            valid_until=None if row["valid_until"] is None else from_micros(row["valid_until"]),
        )  # fmt: skip

    def states_as_of(
        self, account_id: str, unit: str, as_of: datetime
    ) -> tuple[list[GrantState], dict[EntryKind, int]]:
        """Grant states and entry totals of an account as of an instant (business time)."""
        at = to_micros(as_of)
        kinds, per_grant = self._totals_as_of(account_id, unit, at)
        b = grant_balances.c
        voided_query = select(b.grant_id, b.voided_at).where(b.grant_id.in_(list(per_grant)), b.voided_at.is_not(None))
        voided_at = dict(self.conn.execute(voided_query).all())
        found = {
            r["id"]: rows.grant_from(r)
            for r in self.conn.execute(select(grants).where(grants.c.id.in_(list(per_grant)))).mappings()
        }
        states = [
            GrantState(
                found[gid], totals.get("grant", 0), totals.get("consumed", 0), totals.get("hold", 0),
                totals.get("expired", 0), totals.get("voided", 0), voided_at.get(gid, at + 1) <= at,
            )
            for gid, totals in sorted(per_grant.items(), key=lambda item: found[item[0]].created_seq)
        ]  # fmt: skip
        return states, {EntryKind(k): v for k, v in kinds.items()}

    def _totals_as_of(self, account_id: str, unit: str, at: int) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        c = balance_checkpoints.c
        checkpoint = self.conn.execute(
            select(c.as_of, c.totals)
            .where(c.account_id == account_id, c.unit == unit, c.as_of <= at)
            .order_by(c.as_of.desc())
            .limit(1)
        ).first()
        start = -(2**62)
        kinds: dict[str, int] = defaultdict(int)
        per_grant: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        if checkpoint is not None:
            start = checkpoint.as_of
            saved = json.loads(checkpoint.totals)
            kinds.update(saved["kinds"])
            for gid, totals in saved["grants"].items():
                per_grant[gid].update(totals)
        e = ledger_entries.c
        window = and_(e.unit == unit, e.effective_at > start, e.effective_at <= at)
        for kind, amount in self.conn.execute(
            select(e.kind, func.sum(e.amount)).where(window, e.account_id == account_id).group_by(e.kind)
        ):
            kinds[kind] += int(amount)
        for grant_id, kind, amount in self.conn.execute(
            select(e.grant_id, e.kind, func.sum(e.amount))
            .where(window, e.owner_id == account_id, e.grant_id.is_not(None))
            .group_by(e.grant_id, e.kind)
        ):
            per_grant[grant_id][kind] += int(amount)
        return dict(kinds), {gid: dict(t) for gid, t in per_grant.items()}

    def drawn_between(
        self,
        *,
        grant_id: str | None = None,
        account_id: str | None = None,
        unit: str = "",
        start: int,
        end: int,
        pooled_only: bool = False,
    ) -> int:
        """Units consumed or held from one grant, or pooled by one account, in ``[start, end)``."""
        e = ledger_entries.c
        query = select(func.coalesce(func.sum(e.amount), 0)).where(
            e.kind.in_([str(EntryKind.CONSUMED), str(EntryKind.HOLD)]), e.effective_at >= start, e.effective_at < end
        )
        if grant_id is not None:
            query = query.where(e.grant_id == grant_id)
        if account_id is not None:
            query = query.where(e.account_id == account_id, e.unit == unit)
        if pooled_only:
            query = query.where(e.owner_id != e.account_id)
        return int(self.conn.execute(query).scalar_one())

    def due_expiries(self, now: int, limit: int) -> list[GrantState]:
        b = grant_balances.c
        ids = [
            gid
            for (gid,) in self.conn.execute(
                select(b.grant_id)
                .where(b.expires_at <= now, b.remaining > 0, b.voided_at.is_(None))
                .order_by(b.expires_at, b.grant_id)
                .limit(limit)
            )
        ]
        if not ids:
            return []
        found = self.conn.execute(
            select(grants, b.remaining).join(grant_balances, b.grant_id == grants.c.id).where(grants.c.id.in_(ids))
        ).mappings()
        return [GrantState(rows.grant_from(r), r["remaining"]) for r in found]

    def iter_all(self, batch: int = 1000) -> Iterator[list[Transaction]]:
        after = 0
        while chunk := self.scan(after, batch):
            yield chunk
            after = chunk[-1].seq

    def add_grant_projection(self, grant: Grant) -> None:
        self.conn.execute(
            insert(grant_balances).values(
                grant_id=grant.id, account_id=grant.account_id, unit=grant.unit, remaining=0, used=0, held=0,
                expired=0, voided=0, voided_at=None,
                expires_at=None if grant.expires_at is None else to_micros(grant.expires_at),
            )
        )  # fmt: skip
