"""The hash chain detects any change, deletion or reordering of transactions."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drawdown.domain.errors import UnbalancedTransaction
from drawdown.domain.ledger import (
    GENESIS_HASH,
    EntryKind,
    Posting,
    StoredLink,
    Transaction,
    TxKind,
    chain_hash,
    check_balanced,
    parts,
    verify_chain,
)
from tests.unit.strategies import T0


def links(txs: list[Transaction]) -> list[StoredLink]:
    return [StoredLink(parts(tx), tx.prev_hash, tx.hash) for tx in txs]


def chain(n: int) -> list[Transaction]:
    txs: list[Transaction] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        legs = (
            Posting(EntryKind.ISSUED, "acme", "USD", -seq, f"g{seq}", "acme"),
            Posting(EntryKind.GRANT, "acme", "USD", seq, f"g{seq}", "acme"),
        )
        tx = Transaction(
            f"tx{seq}", seq, TxKind.GRANT_ISSUED, T0 + timedelta(seconds=seq), T0 + timedelta(seconds=seq),
            legs, "test", "why", f"k{seq}", "f", {"grant_id": f"g{seq}"}, {}, prev, "",
        )  # fmt: skip
        tx = replace(tx, hash=chain_hash(prev, tx))
        txs.append(tx)
        prev = tx.hash
    return txs


def test_an_untouched_chain_verifies() -> None:
    assert verify_chain(links(chain(20)), GENESIS_HASH, 1) is None


@given(st.integers(0, 19), st.sampled_from(["amount", "actor", "reason", "effective_at"]))
def test_changing_any_field_of_any_transaction_breaks_the_chain_there(index: int, field: str) -> None:
    txs = chain(20)
    tx = txs[index]
    changed = {
        "amount": replace(tx, postings=(replace(tx.postings[0], amount=tx.postings[0].amount - 1), tx.postings[1])),
        "actor": replace(tx, actor="mallory"),
        "reason": replace(tx, reason=tx.reason + "!"),
        "effective_at": replace(tx, effective_at=tx.effective_at + timedelta(microseconds=1)),
    }[field]
    txs[index] = changed
    broken = verify_chain(links(txs), GENESIS_HASH, 1)
    assert broken is not None
    assert broken.seq == tx.seq


@given(st.integers(0, 18))
def test_deleting_a_transaction_breaks_the_chain_at_the_gap(index: int) -> None:
    txs = chain(20)
    del txs[index]
    broken = verify_chain(links(txs), GENESIS_HASH, 1)
    assert broken is not None
    assert broken.seq == index + 1
    assert "missing" in broken.problem


@given(st.integers(0, 18))
def test_swapping_two_neighbours_breaks_the_chain(index: int) -> None:
    txs = chain(20)
    txs[index], txs[index + 1] = txs[index + 1], txs[index]
    assert verify_chain(links(txs), GENESIS_HASH, 1) is not None


@given(st.lists(st.tuples(st.sampled_from(["USD", "EUR"]), st.integers(-100, 100)), min_size=1, max_size=8))
def test_postings_must_sum_to_zero_in_every_unit(legs: list[tuple[str, int]]) -> None:
    postings = [Posting(EntryKind.GRANT, "a", unit, amount) for unit, amount in legs]
    balanced = all(sum(a for u, a in legs if u == unit) == 0 for unit, _ in legs)
    if balanced:
        check_balanced(postings)
    else:
        with pytest.raises(UnbalancedTransaction):
            check_balanced(postings)
