"""The ledger's one writer, its reads, and balances as of any instant.

``post_many`` is the only code that writes ``ledger_transactions`` and ``ledger_entries``,
and it only ever inserts. In the same database transaction it numbers and hash-chains the
new transactions and hands them to :mod:`drawdown.storage.projections`, which folds their
entries into ``grant_balances``, ``account_balances`` (with the classified current balance)
and ``balance_checkpoints``. A balance as of any instant is the newest checkpoint at or
before it plus the entries in between (``_totals_as_of``).

Projections change the cost of reading a balance, never its value: tests compare them with
a replay of the raw entries.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, insert, select

from drawdown.domain import limits
from drawdown.domain.balances import Balance, GrantState
from drawdown.domain.grants import Grant
from drawdown.domain.instants import from_micros, to_micros
from drawdown.domain.ledger import (
    EntryKind,
    Posting,
    StoredLink,
    Transaction,
    TransactionDraft,
    TxKind,
    check_balanced,
    hash_parts,
    parts,
)
from drawdown.storage import rows
from drawdown.storage import statements as sql
from drawdown.storage.grant_cache import GrantCache
from drawdown.storage.projections import ACCOUNT_KINDS, Projector
from drawdown.storage.schema import (
    account_balances,
    grant_balances,
    holds,
    ledger_entries,
    ledger_transactions,
)

_OWNERS_ONE_BY_ONE_MAX = 4  # up to this many owners, a prepared statement each beats one compiled IN query


class LedgerStore:
    def __init__(self, conn: Connection, grant_cache: GrantCache | None = None) -> None:
        self.conn = conn
        self.grant_cache = grant_cache or GrantCache()
        self.posted: list[str] = []  # ids of the transactions this unit of work posted, in order

    def load_grants(self, grant_ids: Sequence[str]) -> dict[str, Grant]:
        return self.grant_cache.load(self.conn, grant_ids)

    def grant_windows(self, grant_ids: Sequence[str]) -> dict[str, tuple[datetime, datetime | None]]:
        return self.grant_cache.windows(self.conn, grant_ids)

    def _own_states(self, account_id: str, unit: str) -> list[GrantState]:
        return self.grant_states([account_id], unit)

    # -- writing -------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        ((seq, digest),) = sql.P_HEAD.rows(self.conn)
        return seq, digest

    def post_many(self, drafts: Sequence[tuple[TransactionDraft, str]], recorded_at: datetime) -> list[Transaction]:
        """Number, chain and insert ``(draft, transaction id)`` pairs; update projections."""
        assert len(drafts) <= limits.TRANSACTIONS_PER_BATCH_MAX
        seq, prev_hash = self.head()
        posted: list[Transaction] = []
        tx_rows: list[dict[str, Any]] = []
        entry_rows: list[dict[str, Any]] = []
        for draft, tx_id in drafts:
            check_balanced(draft.postings)
            seq += 1
            fields = (
                tx_id,
                seq,
                draft.kind,
                draft.effective_at,
                recorded_at,
                draft.postings,
                draft.actor,
                draft.reason,
                draft.idempotency_key,
                draft.fingerprint,
                dict(draft.links),
                dict(draft.data),
                prev_hash,
            )  # Transaction's fields in order, but the hash: built twice, cheaper than dataclasses.replace
            tx_parts = parts(Transaction(*fields, hash=""))
            digest = hash_parts(prev_hash, tx_parts)
            tx_rows.append(rows.transaction_row(tx_parts, prev_hash, digest))
            entry_rows.extend(rows.entry_rows(tx_parts))
            posted.append(Transaction(*fields, hash=digest))
            prev_hash = digest
        if not posted:
            return posted
        sql.P_INSERT_TRANSACTIONS.run_many(self.conn, tx_rows)
        sql.P_INSERT_ENTRIES.run_many(self.conn, entry_rows)
        sql.P_MOVE_HEAD.run(self.conn, {"new_seq": seq, "new_hash": prev_hash})
        Projector(self.conn, self.grant_windows, self._own_states, self._totals_as_of).apply(posted, recorded_at)
        self.posted.extend(tx.id for tx in posted)
        return posted

    # -- reading -------------------------------------------------------------------------

    def find_by_key(self, idempotency_key: str) -> Transaction | None:
        found = sql.P_TRANSACTION_BY_KEY.mappings(self.conn, {"key": idempotency_key})
        return self._with_postings(found)[0] if found else None

    def get(self, tx_id: str) -> Transaction | None:
        found = sql.P_TRANSACTION_BY_ID.mappings(self.conn, {"tx_id": tx_id})
        return self._with_postings(found)[0] if found else None

    def postings_of(self, tx_id: str) -> tuple[Posting, ...]:
        """A transaction's postings in leg order, in one statement (a capture needs only its hold's legs)."""
        return tuple(
            rows.posting_from(leg) for leg in sql.P_ENTRIES_OF_TRANSACTION.mappings(self.conn, {"tx_id": tx_id})
        )

    def scan_links(self, after_seq: int, through_seq: int, limit: int) -> list[StoredLink]:
        """Stored transactions in chain order as undecoded primitives, for verification.

        This is the one hot loop over the whole ledger, so it reads plain tuples straight
        from the driver (the SQL is still built by SQLAlchemy for the connected dialect).
        """
        t, e = ledger_transactions.c, ledger_entries.c
        low, high = after_seq, min(through_seq, after_seq + limit)
        tx_columns = [getattr(t, name) for name in rows.LINK_TX_COLUMNS]
        entry_columns = [getattr(e, name) for name in rows.LINK_ENTRY_COLUMNS]
        txs = self._raw(select(*tx_columns).where(t.seq > low, t.seq <= high).order_by(t.seq))
        legs: dict[int, list[Any]] = defaultdict(list)
        for leg in self._raw(select(*entry_columns).where(e.tx_seq > low, e.tx_seq <= high).order_by(e.tx_seq, e.leg)):
            legs[leg[0]].append(leg)
        return [rows.link_from(tx, legs[tx[1]]) for tx in txs]

    def _raw(self, statement: Select[Any]) -> list[tuple[Any, ...]]:
        """Run a statement whose parameters are all integers and return the driver's tuples."""
        sql = str(statement.compile(dialect=self.conn.dialect, compile_kwargs={"literal_binds": True}))
        cursor = self.conn.connection.cursor()
        try:
            cursor.execute(sql)
            return list(cursor.fetchall())
        finally:
            cursor.close()

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
        if len(tx_rows) == 1:  # one transaction (a replay, a hold being resolved): the prepared statement
            (row,) = tx_rows
            legs_of_one = sql.P_ENTRIES_OF_SEQ.mappings(self.conn, {"seq": row["seq"]})
            return [rows.transaction_from(row, tuple(rows.posting_from(leg) for leg in legs_of_one))]
        seqs = [r["seq"] for r in tx_rows]
        legs: dict[int, list[Any]] = defaultdict(list)
        for row in self.conn.execute(sql.ENTRIES_OF, {"seqs": seqs}).mappings():
            legs[row["tx_seq"]].append(rows.posting_from(row))
        return [rows.transaction_from(r, tuple(legs[r["seq"]])) for r in tx_rows]

    def grant_states(
        self, owner_ids: Sequence[str], unit: str, *, open_only: bool = False, grant_id: str | None = None
    ) -> list[GrantState]:
        """Current state of the grants owned by ``owner_ids`` in ``unit`` (or just ``grant_id``), oldest first."""
        if grant_id is None and len(owner_ids) > _OWNERS_ONE_BY_ONE_MAX:  # a page of accounts: one query a chunk
            many = sql.OPEN_GRANT_STATES if open_only else sql.GRANT_STATES
            chunks = sql.id_chunks(owner_ids)
            found = [tuple(row) for chunk in chunks for row in self.conn.execute(many, {"owners": chunk, "unit": unit})]
        elif grant_id is None:
            query = sql.P_OPEN_GRANT_STATES if open_only else sql.P_GRANT_STATES
            found = [row for owner in owner_ids for row in query.rows(self.conn, {"owner": owner, "unit": unit})]
        else:  # one grant by its key, not all of its owner's: a capture asks for each grant it held
            params = [{"owner": owner, "unit": unit, "grant_id": grant_id} for owner in owner_ids]
            found = [row for p in params for row in sql.P_ONE_GRANT_STATE.rows(self.conn, p)]
            if open_only:
                found = [row for row in found if row[1] > 0 and row[6] is None]
        grants_by_id = self.load_grants([row[0] for row in found])
        # Positional: rows come in statements.GRANT_STATE_COLUMNS order, and this runs per charge.
        states = [
            GrantState(grants_by_id[gid], remaining, used, held, expired, voided, voided_at is not None)
            for gid, remaining, used, held, expired, voided, voided_at in found
        ]
        states.sort(key=lambda s: s.grant.created_seq)
        return states

    def kind_totals(self, account_id: str, unit: str) -> dict[EntryKind, int]:
        found = sql.P_ACCOUNT_BALANCE.mappings(self.conn, {"account_id": account_id, "unit": unit})
        return {} if not found else {k: found[0][str(k)] for k in ACCOUNT_KINDS}

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
            overdraft_units=-row["overdraft"],
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
        found = self.load_grants(list(per_grant))
        states = [
            GrantState(
                found[gid], totals.get("grant", 0), totals.get("consumed", 0), totals.get("hold", 0),
                totals.get("expired", 0), totals.get("voided", 0), voided_at.get(gid, at + 1) <= at,
            )
            for gid, totals in sorted(per_grant.items(), key=lambda item: found[item[0]].created_seq)
        ]  # fmt: skip
        return states, {EntryKind(k): v for k, v in kinds.items()}

    def _totals_as_of(self, account_id: str, unit: str, at: int) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        checkpoint = sql.P_CHECKPOINT_AT_OR_BEFORE.rows(self.conn, {"account_id": account_id, "unit": unit, "at": at})
        start = -(2**62)
        kinds: dict[str, int] = defaultdict(int)
        per_grant: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        if checkpoint:
            ((start, text),) = checkpoint
            saved = json.loads(text)
            kinds.update(saved["kinds"])
            for gid, totals in saved["grants"].items():
                per_grant[gid].update(totals)
        window = {"account_id": account_id, "unit": unit, "start": start, "at": at}
        for kind, amount in sql.P_KIND_TOTALS_BETWEEN.rows(self.conn, window):
            kinds[kind] += int(amount)
        for grant_id, kind, amount in sql.P_GRANT_TOTALS_BETWEEN.rows(self.conn, window):
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
        """Units consumed or held from one grant, or pooled by one account, in ``[start, end)``.

        A hold counts in the period it was made in, and so does its resolution (capture,
        release or expiry): a hold released after midnight gives the day it was held its
        headroom back, never the day of the release a second share of the cap.
        """
        e, t, h = ledger_entries.alias("e"), ledger_transactions.alias("t"), ledger_entries.alias("h")
        resolutions = [str(TxKind.CAPTURE), str(TxKind.RELEASE)]

        def drawn(query: Any, entry: Any, *, by_seq: bool = False) -> Any:
            # by_seq: the entries are found by their transaction's seq; wrapping the columns
            # keeps SQLite from scanning the grant's or account's whole index for each one
            col = (lambda c: func.coalesce(c, "")) if by_seq else (lambda c: c)
            query = query.where(entry.c.kind.in_([str(EntryKind.CONSUMED), str(EntryKind.HOLD)]))
            if grant_id is not None:
                query = query.where(col(entry.c.grant_id) == grant_id)
            if account_id is not None:
                query = query.where(col(entry.c.account_id) == account_id, entry.c.unit == unit)
            if pooled_only:
                query = query.where(entry.c.owner_id != entry.c.account_id)
            return query

        direct = drawn(
            select(func.coalesce(func.sum(e.c.amount), 0))
            .select_from(e.join(t, t.c.seq == e.c.tx_seq))
            .where(e.c.effective_at >= start, e.c.effective_at < end, t.c.kind.not_in(resolutions)),
            e,
        )
        held_here = drawn(
            select(h.c.tx_seq).where(
                h.c.effective_at >= start, h.c.effective_at < end, h.c.kind == str(EntryKind.HOLD), h.c.amount > 0
            ),
            h,
        )
        made, resolution = ledger_transactions.alias("made"), ledger_transactions.alias("resolution")
        resolved = drawn(
            select(func.coalesce(func.sum(e.c.amount), 0))
            .select_from(
                made.join(holds, holds.c.hold_tx_id == made.c.id)
                .join(resolution, resolution.c.id == holds.c.resolution_tx_id)
                .join(e, e.c.tx_seq == resolution.c.seq)
            )
            .where(made.c.seq.in_(held_here.distinct().scalar_subquery())),
            e,
            by_seq=True,
        )
        return int(self.conn.execute(direct).scalar_one()) + int(self.conn.execute(resolved).scalar_one())

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
        remaining = dict(self.conn.execute(select(b.grant_id, b.remaining).where(b.grant_id.in_(ids))).all())
        found = self.load_grants(ids)
        return [GrantState(found[gid], remaining[gid]) for gid in ids]

    def add_grant_projection(self, grant: Grant) -> None:
        self.conn.execute(
            insert(grant_balances).values(
                grant_id=grant.id, account_id=grant.account_id, unit=grant.unit, remaining=0, used=0, held=0,
                expired=0, voided=0, voided_at=None,
                expires_at=None if grant.expires_at is None else to_micros(grant.expires_at),
            )
        )  # fmt: skip
