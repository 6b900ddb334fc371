"""Double-entry transactions, the ledger accounts they move value between, and the hash chain.

Every change of value is a :class:`Transaction` whose postings sum to zero per unit. The
ledger accounts are named ``<kind>:<owner>``:

    issued:<account>     where granted credit comes from (its balance is minus all issuance)
    grant:<grant id>     what is left of one grant
    hold:<account>       credit held by open reservations of that account
    consumed:<account>   credit burned by that account's charges
    expired:<account>    breakage: credit that reached its expiry unused
    voided:<account>     credit removed by voiding grants
    overdraft:<account>  credit lent beyond the account's grants (negative while owed); a
                         grant issued later settles it first

Transactions are hash-chained in ``seq`` order: ``hash = sha256(prev_hash ‖ canonical bytes)``
so a changed byte, a deletion or a reordering breaks the chain at the first affected link.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from drawdown.domain import limits
from drawdown.domain.errors import LimitExceeded, UnbalancedTransaction
from drawdown.domain.instants import to_micros

GENESIS_HASH = "0" * 64


class EntryKind(StrEnum):
    ISSUED = "issued"
    GRANT = "grant"
    HOLD = "hold"
    CONSUMED = "consumed"
    EXPIRED = "expired"
    VOIDED = "voided"
    OVERDRAFT = "overdraft"


class TxKind(StrEnum):
    GRANT_ISSUED = "grant_issued"
    CHARGE = "charge"
    EXPIRY = "expiry"
    VOID = "void"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"
    INVOICE = "invoice"  # the credits a finalized invoice drew
    INVOICE_VOID = "invoice_void"  # reinstates them when the invoice is voided


@dataclass(frozen=True, slots=True)
class Posting:
    """One leg: ``amount`` units into (positive) or out of (negative) a ledger account.

    ``account_id`` owns the ledger account; ``grant_id`` names the grant the value belongs
    to (for draws, the grant drawn) and ``owner_id`` that grant's account, so a pooled draw
    by a child is visible both on the child and on the parent that owns the grant.
    """

    kind: EntryKind
    account_id: str
    unit: str
    amount: int
    grant_id: str | None = None
    owner_id: str | None = None
    detail: Mapping[str, Any] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as a constructor call: several times cheaper to load than a slotted
        # dataclass's state protocol (invoice runs ship postings between processes).
        return Posting, (self.kind, self.account_id, self.unit, self.amount, self.grant_id, self.owner_id, self.detail)

    @property
    def ledger_account(self) -> str:
        owner = self.grant_id if self.kind is EntryKind.GRANT else self.account_id
        return f"{self.kind}:{owner}"


@dataclass(frozen=True, slots=True)
class TransactionDraft:
    """A transaction before the ledger has numbered, timed and chained it."""

    kind: TxKind
    effective_at: datetime
    postings: tuple[Posting, ...]
    actor: str
    reason: str
    idempotency_key: str
    fingerprint: str
    links: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transaction:
    """A posted, immutable transaction."""

    id: str
    seq: int
    kind: TxKind
    effective_at: datetime
    recorded_at: datetime
    postings: tuple[Posting, ...]
    actor: str
    reason: str
    idempotency_key: str
    fingerprint: str
    links: Mapping[str, Any]
    data: Mapping[str, Any]
    prev_hash: str
    hash: str


def check_balanced(postings: Sequence[Posting]) -> None:
    """Refuse a transaction whose postings do not sum to zero in every unit."""
    if len(postings) > limits.POSTINGS_PER_TRANSACTION_MAX:
        raise LimitExceeded(
            f"a transaction has at most {limits.POSTINGS_PER_TRANSACTION_MAX} postings, got {len(postings)}"
        )
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        totals[posting.unit] += posting.amount
    unbalanced = {unit: total for unit, total in totals.items() if total != 0}
    if unbalanced:
        raise UnbalancedTransaction(f"postings do not sum to zero per unit: {unbalanced}", totals=unbalanced)


def fingerprint(request: Mapping[str, Any]) -> str:
    """A stable digest of what a caller asked for, compared on idempotent replays."""
    return hashlib.sha256(_canonical(request)).hexdigest()


# ``json.dumps`` with options builds a new encoder per call; these are built once (encoding
# keeps no state in the encoder, so sharing them is safe) and give the very same text.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def canonical_json(value: Any) -> str:
    """The one JSON encoding drawdown hashes and stores: sorted keys, no spaces, ASCII."""
    return _CANONICAL.encode(value)


# A transaction as the primitives the chain covers, in a fixed order: id, seq, kind,
# effective_at and recorded_at (epoch microseconds), actor, reason, idempotency key,
# fingerprint, links and data (canonical JSON text), and the postings, each as
# [kind, account, unit, amount, grant, owner, detail (canonical JSON text or null)].
# Storage keeps links, data and detail as exactly this text, so the verifier can hash
# stored rows without decoding them.
TxParts = tuple[Any, ...]


def parts(tx: Transaction) -> TxParts:
    return (
        tx.id, tx.seq, str(tx.kind), to_micros(tx.effective_at), to_micros(tx.recorded_at), tx.actor, tx.reason,
        tx.idempotency_key, tx.fingerprint, canonical_json(tx.links), canonical_json(tx.data),
        [
            [str(p.kind), p.account_id, p.unit, p.amount, p.grant_id, p.owner_id,
             None if p.detail is None else canonical_json(p.detail)]
            for p in tx.postings
        ],
    )  # fmt: skip


def hash_parts(prev_hash: str, tx_parts: TxParts) -> str:
    """``sha256(prev_hash ‖ canonical JSON of the parts)``: one link of the chain."""
    body = _COMPACT.encode(tx_parts)
    return hashlib.sha256(prev_hash.encode("ascii") + body.encode("ascii")).hexdigest()


def chain_hash(prev_hash: str, tx: Transaction) -> str:
    return hash_parts(prev_hash, parts(tx))


def _canonical(value: Mapping[str, Any]) -> bytes:
    return canonical_json(value).encode("ascii")


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first transaction whose stored hash or position does not match a recomputation."""

    seq: int
    transaction_id: str
    problem: str


@dataclass(frozen=True, slots=True)
class StoredLink:
    """A stored transaction as the verifier sees it: its parts and the hashes saved with it."""

    parts: TxParts
    prev_hash: str
    hash: str
    entries_in_step: bool = True  # every entry row carries its transaction's effective_at (a copy, not hashed)

    @property
    def seq(self) -> int:
        return int(self.parts[1])

    @property
    def id(self) -> str:
        return str(self.parts[0])


def verify_chain(links: Sequence[StoredLink], prev_hash: str, expected_seq: int) -> ChainBreak | None:
    """Check a run of consecutive stored transactions that should follow ``prev_hash``."""
    for link in links:
        if link.seq != expected_seq:
            return ChainBreak(
                expected_seq,
                "",
                f"transaction seq {expected_seq} is missing; the next stored is seq {link.seq} ({link.id})",
            )
        if link.prev_hash != prev_hash:
            return ChainBreak(link.seq, link.id, "prev_hash does not match the previous transaction's hash")
        if hash_parts(prev_hash, link.parts) != link.hash:
            return ChainBreak(link.seq, link.id, "content does not match its hash")
        if not link.entries_in_step:
            return ChainBreak(link.seq, link.id, "an entry's effective_at differs from its transaction's")
        prev_hash = link.hash
        expected_seq += 1
    return None
