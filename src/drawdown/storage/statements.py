"""Statements on the hot paths, built once.

SQLAlchemy memoises a statement's cache key on the statement object, so a statement built at
import time and executed with parameters skips both construction and cache-key generation:
about four times cheaper per execution than building the same statement in the call.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import bindparam, delete, func, insert, or_, select, update

from drawdown.domain import limits
from drawdown.domain.holds import HoldStatus
from drawdown.storage.prepared import Prepared
from drawdown.storage.schema import (
    account_balances,
    account_enforcement,
    accounts,
    balance_checkpoints,
    grant_balances,
    grants,
    holds,
    invoices,
    ledger_entries,
    ledger_head,
    ledger_transactions,
    rate_cards,
    settings,
    units,
)

_T, _E, _H = ledger_transactions.c, ledger_entries.c, ledger_head.c
_GB, _AB = grant_balances.c, account_balances.c

HEAD = select(_H.seq, _H.hash).where(_H.id == 1)
LOCK_HEAD = select(_H.seq).where(_H.id == 1).with_for_update()
MOVE_HEAD = update(ledger_head).where(_H.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
INSERT_TRANSACTIONS = insert(ledger_transactions)
INSERT_ENTRIES = insert(ledger_entries)
TRANSACTION_BY_KEY = select(ledger_transactions).where(_T.idempotency_key == bindparam("key"))
TRANSACTION_BY_ID = select(ledger_transactions).where(_T.id == bindparam("tx_id"))
ENTRIES_OF = select(ledger_entries).where(_E.tx_seq.in_(bindparam("seqs", expanding=True))).order_by(_E.tx_seq, _E.leg)

ACCOUNT_BY_ID = select(accounts).where(accounts.c.id == bindparam("account_id"))
GRANTS_BY_IDS = select(grants).where(grants.c.id.in_(bindparam("ids", expanding=True)))
GRANT_WINDOWS_BY_IDS = select(grants.c.id, grants.c.effective_at, grants.c.expires_at).where(
    grants.c.id.in_(bindparam("ids", expanding=True))
)

GRANT_STATE_COLUMNS = ("grant_id", "remaining", "used", "held", "expired", "voided", "voided_at")
GRANT_STATES = select(*(getattr(_GB, name) for name in GRANT_STATE_COLUMNS)).where(
    _GB.account_id.in_(bindparam("owners", expanding=True)), _GB.unit == bindparam("unit")
)
OPEN_GRANT_STATES = GRANT_STATES.where(_GB.remaining > 0, _GB.voided_at.is_(None))
GRANT_COLUMNS = ("remaining", "used", "held", "expired", "voided")
FOLD_GRANTS = (
    update(grant_balances)
    .where(_GB.grant_id == bindparam("gid"))
    .values({col: getattr(_GB, col) + bindparam(f"d_{col}") for col in GRANT_COLUMNS})
)
MARK_VOIDED = update(grant_balances).where(_GB.grant_id == bindparam("gid")).values(voided_at=bindparam("at"))

HOLD_RESOLUTION_COLUMNS = ("status", "resolution_tx_id", "captured_units", "released_units", "resolved_at")
ACCOUNT_BALANCE_COLUMNS = tuple(c.name for c in account_balances.columns if c.name not in ("account_id", "unit"))
ACCOUNT_BALANCE = select(account_balances).where(
    _AB.account_id == bindparam("account_id"), _AB.unit == bindparam("unit")
)
INSERT_ACCOUNT_BALANCE = insert(account_balances)
WRITE_ACCOUNT_BALANCE = (
    update(account_balances)
    .where(_AB.account_id == bindparam("key_account"), _AB.unit == bindparam("key_unit"))
    .values({name: bindparam(f"v_{name}") for name in ACCOUNT_BALANCE_COLUMNS})
)

# A fold into an account's row whose classification is still valid at the posting instant
# ("now"): every total and bucket grows by its delta; no row comes back when the row is
# missing or its classification has lapsed, and nothing is written then.
FOLDED_ACCOUNT_COLUMNS = (
    "issued", "hold", "consumed", "expired", "voided", "overdraft", "available", "pending", "lapsed",
    "entries_since_checkpoint",
)  # fmt: skip
FOLD_ACCOUNT_BALANCE = (
    update(account_balances)
    .where(
        _AB.account_id == bindparam("key_account"),
        _AB.unit == bindparam("key_unit"),
        _AB.computed_at <= bindparam("now"),
        or_(_AB.valid_until.is_(None), _AB.valid_until > bindparam("now")),
    )
    .values({name: getattr(_AB, name) + bindparam(f"d_{name}") for name in FOLDED_ACCOUNT_COLUMNS})
    .values(computed_at=bindparam("now"))
    .returning(_AB.entries_since_checkpoint, _AB.checkpoint_at)
)

# Balance checkpoints: the newest at or before an instant, entry totals in (start, at] by
# kind and by grant, and the writes of a new one (every CHECKPOINT_EVERY_ENTRIES entries).
_CP = balance_checkpoints.c
_WINDOW = (_E.unit == bindparam("unit"), _E.effective_at > bindparam("start"), _E.effective_at <= bindparam("at"))
P_CHECKPOINT_AT_OR_BEFORE = Prepared(
    select(_CP.as_of, _CP.totals)
    .where(_CP.account_id == bindparam("account_id"), _CP.unit == bindparam("unit"), _CP.as_of <= bindparam("at"))
    .order_by(_CP.as_of.desc())
    .limit(1)
)
P_KIND_TOTALS_BETWEEN = Prepared(
    select(_E.kind, func.sum(_E.amount)).where(*_WINDOW, _E.account_id == bindparam("account_id")).group_by(_E.kind)
)
P_GRANT_TOTALS_BETWEEN = Prepared(
    select(_E.grant_id, _E.kind, func.sum(_E.amount))
    .where(*_WINDOW, _E.owner_id == bindparam("account_id"), _E.grant_id.is_not(None))
    .group_by(_E.grant_id, _E.kind)
)
_CHECKPOINT_KEY = (_CP.account_id == bindparam("account_id"), _CP.unit == bindparam("unit"))
P_DELETE_CHECKPOINT = Prepared(delete(balance_checkpoints).where(*_CHECKPOINT_KEY, _CP.as_of == bindparam("as_of")))
P_INSERT_CHECKPOINT = Prepared(insert(balance_checkpoints))
P_CHECKPOINT_TAKEN = Prepared(
    update(account_balances)
    .where(_AB.account_id == bindparam("account_id"), _AB.unit == bindparam("unit"))
    .values(entries_since_checkpoint=0, checkpoint_at=bindparam("as_of"))
)

# The same statements prepared for the driver's cursor (see prepared.py), where the ledger
# writer and the balance reads call them on every request.
GRANT_STATES_OF_OWNER = select(*(getattr(_GB, name) for name in GRANT_STATE_COLUMNS)).where(
    _GB.account_id == bindparam("owner"), _GB.unit == bindparam("unit")
)
OPEN_GRANT_STATES_OF_OWNER = GRANT_STATES_OF_OWNER.where(_GB.remaining > 0, _GB.voided_at.is_(None))
ONE_GRANT_STATE_OF_OWNER = GRANT_STATES_OF_OWNER.where(_GB.grant_id == bindparam("grant_id"))

P_HEAD = Prepared(HEAD)
P_MOVE_HEAD = Prepared(MOVE_HEAD)
P_INSERT_TRANSACTIONS = Prepared(INSERT_TRANSACTIONS)
P_INSERT_ENTRIES = Prepared(INSERT_ENTRIES)
P_TRANSACTION_BY_KEY = Prepared(TRANSACTION_BY_KEY)
P_ACCOUNT_BY_ID = Prepared(ACCOUNT_BY_ID)
P_GRANT_STATES = Prepared(GRANT_STATES_OF_OWNER)
P_OPEN_GRANT_STATES = Prepared(OPEN_GRANT_STATES_OF_OWNER)
P_ONE_GRANT_STATE = Prepared(ONE_GRANT_STATE_OF_OWNER)
P_FOLD_GRANTS = Prepared(FOLD_GRANTS)
P_MARK_VOIDED = Prepared(MARK_VOIDED)
P_ACCOUNT_BALANCE = Prepared(ACCOUNT_BALANCE)
P_INSERT_ACCOUNT_BALANCE = Prepared(INSERT_ACCOUNT_BALANCE)
P_WRITE_ACCOUNT_BALANCE = Prepared(WRITE_ACCOUNT_BALANCE)
P_FOLD_ACCOUNT_BALANCE = Prepared(FOLD_ACCOUNT_BALANCE)

# Reserve, capture and release: the holds row, the enforcement settings and units the
# assessment reads, the rate-card version in force, and the hold transaction's entries.
_HOLD, _RC, _AE = holds.c, rate_cards.c, account_enforcement.c
P_TRANSACTION_BY_ID = Prepared(TRANSACTION_BY_ID)
P_UNIT = Prepared(select(units).where(units.c.code == bindparam("code")))
P_ENTRIES_OF_SEQ = Prepared(select(ledger_entries).where(_E.tx_seq == bindparam("seq")).order_by(_E.leg))
P_ENTRIES_OF_TRANSACTION = Prepared(
    select(ledger_entries)
    .where(_E.tx_seq == select(_T.seq).where(_T.id == bindparam("tx_id")).scalar_subquery())
    .order_by(_E.leg)
)
P_SETTING = Prepared(select(settings.c.value).where(settings.c.key == bindparam("key")))
P_ACCOUNT_ENFORCEMENT = Prepared(select(account_enforcement).where(_AE.account_id == bindparam("account_id")))
P_RATE_CARD = Prepared(select(rate_cards).where(_RC.id == bindparam("card_id"), _RC.version == bindparam("version")))
P_RATE_CARD_IN_FORCE = Prepared(
    select(_RC.version)
    .where(_RC.id == bindparam("card_id"), _RC.effective_at <= bindparam("at"))
    .order_by(_RC.version.desc())
    .limit(1)
)
P_NEWEST_RATE_CARD = Prepared(
    select(_RC.version, _RC.effective_at).where(_RC.id == bindparam("card_id")).order_by(_RC.version.desc()).limit(1)
)
P_INSERT_HOLD = Prepared(insert(holds))
P_HOLD_BY_ID = Prepared(select(holds).where(_HOLD.id == bindparam("hold_id")))
P_RESOLVE_HOLD = Prepared(
    update(holds)
    .where(_HOLD.id == bindparam("hold_id"), _HOLD.status == str(HoldStatus.OPEN))
    .values({name: bindparam(f"v_{name}") for name in HOLD_RESOLUTION_COLUMNS})
)

# Invoice runs insert a page of frozen invoices at a time.
P_INSERT_INVOICES = Prepared(insert(invoices))


def id_chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    """``ids`` in lists of at most ``limits.IDS_PER_QUERY_MAX``, one ``IN (…)`` query each."""
    step = limits.IDS_PER_QUERY_MAX
    for start in range(0, len(ids), step):
        yield list(ids[start : start + step])
