"""A Jepsen-style "bank" workload: concurrent workers (threads and processes) hammer a few
hot accounts with grants, reserves, captures, releases, expiries, voids and balance reads;
after every step the worker runs the snapshot checker (tests/integration/checker.py).

Every worker uses the real clock, so holds (1–2 s TTL) and some grants (expiring within
seconds) really do expire while other workers capture and release them. Any violation, any
unexpected exception (a deadlock, a duplicate key, a lost update) fails the test.
"""

from __future__ import annotations

import multiprocessing
import random
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from drawdown import bootstrap
from drawdown.book import Book, open_book
from drawdown.domain.errors import (
    GrantAlreadyVoided,
    HoldAlreadyCaptured,
    HoldAlreadyReleased,
    HoldExpired,
    InsufficientCredit,
)
from tests.integration.checker import check

ACCOUNTS = {"hot-a": 0, "hot-b": 5_000, "hot-c": 2_000}  # overdraft limits in units (scale 3)
# A pool: the parent's grants are drawn by both children (one with a per-day cap on what it
# may take from the pool), while each child also holds and burns on its own.
POOL = {"pool": 0, "pool-kid-1": 0, "pool-kid-2": 1_000}
ACCOUNTS |= POOL
LIMITS = {(account, "CREDIT"): limit for account, limit in ACCOUNTS.items()}
THREADS = 4
PROCESSES = 4
STEPS = 30
EXPECTED = (InsufficientCredit, HoldAlreadyCaptured, HoldAlreadyReleased, HoldExpired, GrantAlreadyVoided)


def prepare(url: str) -> None:
    with open_book(url, actor="bank") as book:
        book.define_unit("CREDIT", scale=3)
        book.define_rate_card(
            "bank", "CREDIT", {"call": "0.5", "gpu": "2"}, effective_at=datetime(2020, 1, 1, tzinfo=UTC)
        )
        for account, limit in ACCOUNTS.items():
            parent = "pool" if account.startswith("pool-") else None
            caps = {"CREDIT": ("12", "day")} if account == "pool-kid-1" else None
            book.create_account(account, currency="USD", parent=parent, pool_caps=caps)
            overdraft = {"CREDIT": f"{limit // 1000}"}
            book.configure_account(account, rate_card="bank", overdraft_limits=overdraft)
            book.issue_grant(account, "20", "CREDIT", reason_code="opening")


def _random_hold(book: Book, rng: random.Random, account: str) -> str | None:
    with book.engine.connect() as conn:
        ids = [h for (h,) in conn.execute(text("SELECT id FROM holds WHERE account_id = :a"), {"a": account})]
    return rng.choice(ids) if ids else None


def _random_grant(book: Book, rng: random.Random, account: str) -> str | None:
    ids = [v.state.grant.id for v in book.grants(account, "CREDIT")]
    return rng.choice(ids) if ids else None


def step(book: Book, rng: random.Random, ops: Counter[str]) -> None:
    account = rng.choice(list(ACCOUNTS))
    op = rng.choices(
        ["grant", "reserve", "capture", "release", "expire_holds", "expire_grants", "void", "balance"],
        weights=[2, 6, 4, 2, 1, 1, 1, 2],
    )[0]
    ops[op] += 1
    if op == "grant":
        expires = None if rng.random() < 0.6 else datetime.now(UTC) + timedelta(seconds=rng.uniform(0.2, 3))
        book.issue_grant(account, str(rng.randint(1, 15)), "CREDIT", reason_code="top-up", expires_at=expires)
    elif op == "reserve":
        feature = rng.choice(["call", "gpu"])
        book.reserve(account, feature, str(rng.randint(1, 8)), ttl_seconds=rng.randint(1, 2))
    elif op in ("capture", "release"):
        hold = _random_hold(book, rng, account)
        if hold is not None:
            _ = book.capture(hold, str(rng.randint(0, 10))) if op == "capture" else book.release(hold)
    elif op == "expire_holds":
        book.expire_holds()
    elif op == "expire_grants":
        book.expire_due()
    elif op == "void":
        grant = _random_grant(book, rng, account)
        if grant is not None and rng.random() < 0.5:
            book.void_grant(grant, reason="bank test")
    else:
        b = book.balance(account, "CREDIT")
        parts = b.available_units + b.pending_units + b.reserved_units + b.consumed_units + b.expired_units
        # a pool member's holds and burns also draw the pool's grants: the checker conserves per pool
        if account not in POOL and parts + b.voided_units - b.overdraft_units != b.issued_units:
            raise AssertionError(f"balance read of {account} is not conserved: {b}")
        if min(b.available_units, b.pooled_available_units, b.reserved_units) < 0:
            raise AssertionError(f"balance read of {account} has a negative part: {b}")


def worker(url: str, seed: int) -> tuple[list[str], Counter[str]]:
    """Run STEPS random steps; return every violation and unexpected error, and the op counts."""
    rng = random.Random(seed)
    problems: list[str] = []
    ops: Counter[str] = Counter()
    with Book(*bootstrap.build(url, migrate=False), actor=f"worker-{seed}") as book:  # migrated by prepare
        for _ in range(STEPS):
            try:
                step(book, rng, ops)
            except EXPECTED as error:
                ops[error.code] += 1
            except Exception:
                problems.append(f"worker {seed}: {traceback.format_exc()}")
            problems += [f"worker {seed}: {p}" for p in check(book.engine, LIMITS)]
    return problems, ops


def test_concurrent_workers_never_break_an_invariant(store_url: str) -> None:
    prepare(store_url)
    started = time.monotonic()
    context = multiprocessing.get_context("spawn")
    with (
        context.Pool(PROCESSES) as processes,
        ThreadPoolExecutor(THREADS) as threads,
    ):
        in_processes = [processes.apply_async(worker, (store_url, seed)) for seed in range(PROCESSES)]
        in_threads = [threads.submit(worker, store_url, 100 + seed) for seed in range(THREADS)]
        results = [r.get(timeout=120) for r in in_processes] + [f.result(timeout=120) for f in in_threads]
    problems = [p for found, _ in results for p in found]
    ops = sum((counts for _, counts in results), Counter())
    with open_book(store_url, actor="bank") as book:
        time.sleep(2.1)  # let every hold's TTL pass, then sweep: nothing may stay held
        book.expire_holds()
        problems += check(book.engine, LIMITS)
        assert all(book.balance(a, "CREDIT").reserved_units == 0 for a in ACCOUNTS)
        assert book.verify().ok
        with book.engine.connect() as conn:
            pooled_draws = conn.execute(text(
                "SELECT COUNT(DISTINCT d.tx_seq) FROM ledger_entries d JOIN grants g ON g.id = d.grant_id "
                "JOIN ledger_entries k ON k.tx_seq = d.tx_seq "
                "WHERE g.account_id = 'pool' AND d.amount < 0 AND k.account_id LIKE 'pool-kid-%'"
            )).scalar()  # fmt: skip
        assert pooled_draws, "no child drew the pool's grants: the pool went untested"
    assert problems == [], "\n".join(problems[:5])
    assert sum(ops.values()) >= (THREADS + PROCESSES) * STEPS
    assert all(ops[op] for op in ("reserve", "capture", "release", "expire_holds", "grant")), ops
    assert time.monotonic() - started < 60
