"""Ledger invariants under random operations, on SQLite and PostgreSQL.

Each example runs a random mix of grants (some future-dated or expiring), charges (some
back-dated, some on a child drawing a parent's pool), voids, expiry sweeps and clock moves on
fresh accounts, then checks the engine's balances — current and as of random instants —
against a naive replay of the raw rows, and checks conservation and the hash chain.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drawdown.book import Book
from drawdown.domain import limits
from drawdown.domain.errors import DrawdownError
from drawdown.domain.instants import to_micros
from tests.conftest import FixedClock
from tests.integration.replay import replay, unbalanced_transactions

_run = itertools.count()

ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("issue"),
            st.sampled_from(["p", "c"]),
            st.integers(1, 500),
            st.integers(-10, 10),
            st.one_of(st.none(), st.integers(1, 48)),
            st.integers(1, 3),
            st.sampled_from(["0", "1"]),
            st.sampled_from([None, "category:usage", "products:api", "products:gpu"]),
        ),
        st.tuples(
            st.just("charge"),
            st.sampled_from(["p", "c"]),
            st.integers(1, 400),
            st.integers(0, 5),
            st.sampled_from(["api", "gpu", "disk"]),
        ),
        st.tuples(st.just("void"), st.integers(0, 20)),
        st.tuples(st.just("expire")),
        st.tuples(st.just("advance"), st.integers(1, 12)),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops, st.lists(st.integers(-30, 2), min_size=1, max_size=4))
def test_balances_match_a_full_replay_and_value_is_conserved(
    book: Book, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, script: list[tuple[object, ...]], probes: list[int]
) -> None:
    monkeypatch.setattr(limits, "CHECKPOINT_EVERY_ENTRIES", 6)  # exercise checkpoints and their invalidation
    run = next(_run)
    parent, child = f"p{run}", f"c{run}"
    book.create_account(parent, currency="USD")
    book.create_account(child, currency="USD", parent=parent, pool_caps={"USD": ("300", "day")})
    names = {"p": parent, "c": child}
    issued: list[str] = []
    start = clock.now()
    _run_script(book, clock, names, issued, script)
    engine = book.engine
    assert unbalanced_transactions(engine) == []
    now = clock.now()
    for account in (parent, child):
        _check(book, account, now, current=True)
        for hours in probes:
            _check(book, account, start + timedelta(hours=hours), current=False)
    assert book.verify().ok


def _run_script(
    book: Book, clock: FixedClock, names: dict[str, str], issued: list[str], script: list[tuple[object, ...]]
) -> None:
    """Apply every operation; the only refusals a valid script may meet are the expected ones."""
    refusals = []
    for op in script:
        try:
            _apply(book, clock, names, issued, op)
        except DrawdownError as error:
            refusals.append(error.code)
    assert set(refusals) <= {"grant_already_voided", "insufficient_credit"}


def _apply(book: Book, clock: FixedClock, names: dict[str, str], issued: list[str], op: tuple[object, ...]) -> None:
    now = clock.now()
    match op:
        case ("issue", who, amount, eff, exp, prio, basis, scope):
            effective = now + timedelta(hours=int(eff))  # type: ignore[call-overload]
            expires = None if exp is None else effective + timedelta(hours=int(exp))  # type: ignore[call-overload]
            grant = book.issue_grant(
                names[str(who)], str(amount), "USD", effective_at=effective, expires_at=expires,
                priority=prio, cost_basis=basis, scope=scope, reason_code="test",
            )  # fmt: skip
            issued.append(grant.id)
        case ("charge", who, amount, back, product):
            at = now - timedelta(hours=int(back))  # type: ignore[call-overload]
            book.charge(names[str(who)], str(amount), "USD", product=str(product), at=at, allow_partial=True)
        case ("void", index):
            if issued:
                book.void_grant(issued[int(index) % len(issued)], reason="test")  # type: ignore[call-overload]
        case ("expire",):
            book.expire_due()
        case ("advance", hours):
            clock.advance(hours=int(hours))  # type: ignore[call-overload]


def _check(book: Book, account: str, at: datetime, *, current: bool) -> None:
    balance = book.balance(account, "USD", as_of=None if current else at)
    truth = replay(book.engine, account, "USD", to_micros(at))
    got = (balance.available_units, balance.pending_units, balance.reserved_units, balance.consumed_units,
           balance.expired_units, balance.voided_units, balance.issued_units)  # fmt: skip
    want = (truth.available, truth.pending, truth.reserved, truth.consumed, truth.expired, truth.voided, truth.issued)
    assert got == want, f"{account} at {at}: engine {got} != replay {want}"
    views = book.grants(account, "USD", as_of=None if current else at)
    assert {v.state.grant.id: v.state.remaining_units for v in views if v.state.remaining_units} == {
        gid: left for gid, left in truth.grant_remaining.items() if left
    }
    for view in views:
        assert 0 <= view.state.remaining_units <= view.state.grant.amount_units
    if current:
        # Value is conserved: everything issued to this account's grants is still there,
        # pending, expired, voided, or was consumed (by it or, for pooled grants, by children).
        used_from_own_grants = sum(v.state.used_units for v in views)
        assert balance.issued_units == (
            balance.available_units + balance.pending_units + balance.expired_units
            + balance.voided_units + balance.reserved_units + used_from_own_grants
        )  # fmt: skip


def _never_drawn_outside_its_life(book: Book) -> list[tuple[object, ...]]:
    """Consumed legs whose grant was not effective, was expired, or was voided at the charge.

    A draw at the very instant of a void is fine if it was recorded before the void.
    """
    from sqlalchemy import text

    with book.engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT e.tx_seq, e.grant_id FROM ledger_entries e JOIN grants g ON g.id = e.grant_id "
                    "JOIN grant_balances b ON b.grant_id = g.id WHERE e.kind = 'consumed' AND ("
                    "e.effective_at < g.effective_at OR (g.expires_at IS NOT NULL AND e.effective_at >= g.expires_at) "
                    "OR (b.voided_at IS NOT NULL AND (e.effective_at > b.voided_at OR (e.effective_at = b.voided_at "
                    "AND e.tx_seq > (SELECT MIN(t.seq) FROM ledger_transactions t JOIN ledger_entries v "
                    "ON v.tx_seq = t.seq WHERE t.kind = 'void' AND v.grant_id = e.grant_id)))))"
                )
            )
        )


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops)
def test_no_grant_is_ever_drawn_before_effective_at_after_expiry_or_after_a_void(
    book: Book, clock: FixedClock, script: list[tuple[object, ...]]
) -> None:
    run = next(_run)
    names = {"p": f"p{run}", "c": f"c{run}"}
    book.create_account(names["p"], currency="USD")
    book.create_account(names["c"], currency="USD", parent=names["p"])
    issued: list[str] = []
    _run_script(book, clock, names, issued, script)
    assert _never_drawn_outside_its_life(book) == []
    for grant_id in issued:
        states = [v.state for name in names.values() for v in book.grants(name) if v.state.grant.id == grant_id]
        assert all(s.remaining_units >= 0 for s in states)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.integers(1, 50), st.integers(1, 100), st.sampled_from([None, 24, 72])), min_size=1, max_size=6
    ),
    st.integers(1, 200),
    st.integers(1, 200),
)
def test_charging_a_then_b_leaves_the_same_balances_as_charging_a_plus_b(
    book: Book, clock: FixedClock, grants: list[tuple[int, int, int | None]], a: int, b: int
) -> None:
    run = next(_run)
    split, whole = f"split{run}", f"whole{run}"
    for account in (split, whole):
        book.create_account(account, currency="USD")
        for amount, priority, hours in grants:
            expires = None if hours is None else clock.now() + timedelta(hours=hours)
            book.issue_grant(account, str(amount), "USD", priority=priority, expires_at=expires, reason_code="t")
    book.charge(split, str(a), "USD", allow_partial=True)
    book.charge(split, str(b), "USD", allow_partial=True)
    book.charge(whole, str(a + b), "USD", allow_partial=True)
    left = {(v.state.grant.amount_units, v.state.grant.priority, v.state.remaining_units) for v in book.grants(split)}
    right = {(v.state.grant.amount_units, v.state.grant.priority, v.state.remaining_units) for v in book.grants(whole)}
    assert sorted(left) == sorted(right)
    one, other = book.balance(split), book.balance(whole)
    assert (one.available_units, one.consumed_units) == (other.available_units, other.consumed_units)
