"""Ledger core benchmarks, each beside a raw baseline measured in the same run.

    .venv/bin/python bench/bench_ledger.py [--large 1000000] [--small 10000] [--quick]

Figures (SQLite, WAL, synchronous=NORMAL, one process):

1. charges/s against one account with 100 active grants, vs a bare sqlite3 transaction that
   does the same I/O by hand (read 100 grant rows, insert a transaction and two entries,
   update one balance row, commit);
2. batched posting (``post_many``, 1,000 two-leg transactions per batch) vs bare
   ``executemany`` of the same transaction and entry rows into the same tables (target ≥ 0.3×);
3. hash-chaining cost: the same batched posting with chaining vs with the hash replaced by a
   constant (target ≤ 10 % slower);
4. current-balance read latency (p50/p99) vs a bare primary-key lookup on the same file, at
   ``--small`` and ``--large`` transactions in the ledger (target p50 ≤ 1.5×); plus the
   as-of read;
5. ``verify`` throughput vs reading the same rows and hashing them (target ≥ 0.5×).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import drawdown
import drawdown.storage.ledger_store as store_module
from common import Report, machine_facts
from drawdown.domain.ledger import EntryKind, Posting, TransactionDraft, TxKind
from drawdown.storage.uow import SqlUnitOfWork

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class StepClock:
    """A clock that ticks one millisecond per reading, so every post is at a new instant."""

    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at


def open_book(directory: Path, name: str) -> drawdown.Book:
    return drawdown.open(f"sqlite:///{directory / name}", clock=StepClock())  # type: ignore[arg-type]


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1e3)
    return samples


# -- 1. charges with 100 active grants -------------------------------------------------------


def bench_charges(directory: Path, report: Report, n: int) -> None:
    book = open_book(directory, "charges.db")
    book.create_account("hot", currency="USD")
    for i in range(100):
        book.issue_grant("hot", "1000000", "USD", priority=1 + i % 100, reason_code="bench")
    counter = iter(range(10**9))

    def one_charge() -> None:
        book.charge("hot", "0.01", "USD", product="api", idempotency_key=f"c{next(counter)}")

    timed(one_charge, 50)
    engine_us = statistics.median(timed(one_charge, n))
    db = directory / "charges.db"
    raw = sqlite3.connect(db, isolation_level=None)
    raw.execute("PRAGMA synchronous=NORMAL")
    seq = iter(range(10**9, 2 * 10**9))

    def bare() -> None:
        s = next(seq)
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("SELECT * FROM grant_balances WHERE account_id = 'hot' AND unit = 'USD'").fetchall()
        raw.execute(
            "INSERT INTO ledger_transactions VALUES (?, ?, 'charge', ?, 'f', 0, 0, 'a', '', '{}', '{}', 'p', 'h')",
            (s, f"b{s}", f"k{s}"),
        )
        raw.executemany(
            "INSERT INTO ledger_entries VALUES (?, ?, 'consumed', 'hot', 'USD', ?, NULL, NULL, NULL, 0)",
            [(s, 0, 1), (s, 1, -1)],
        )
        raw.execute("UPDATE account_balances SET consumed = consumed + 1 WHERE account_id = 'hot' AND unit = 'USD'")
        raw.execute("COMMIT")

    timed(bare, 50)
    bare_us = statistics.median(timed(bare, n))
    report.row("charge, 100 active grants (one per transaction)", 1e6 / engine_us, "charges/s",
               1e6 / bare_us, "bare sqlite3 txn with the same I/O", target=None)  # fmt: skip
    raw.close()
    book.close()


# -- 2 and 3. batched posting and the cost of the hash chain ---------------------------------


def drafts(account: str, start: int, count: int) -> list[tuple[TransactionDraft, str]]:
    out = []
    for i in range(start, start + count):
        legs = (
            Posting(EntryKind.CONSUMED, account, "USD", 1, "g-bench", account),
            Posting(EntryKind.ISSUED, account, "USD", -1, "g-bench", account),
        )
        draft = TransactionDraft(TxKind.CHARGE, T0, legs, "bench", "", f"k{i}", "f" * 64, {"account_id": account})
        out.append((draft, f"tx{i:012d}"))
    return out


def post_batches(book: drawdown.Book, batches: int, size: int, offset: int) -> float:
    start = time.perf_counter()
    for b in range(batches):
        batch = drafts("acct", offset + b * size, size)
        with SqlUnitOfWork(book.engine, write=True) as uow:
            uow.ledger.post_many(batch, T0)
    return batches * size / (time.perf_counter() - start)


def bench_posting(directory: Path, report: Report, batches: int, size: int) -> None:
    book = open_book(directory, "posting.db")
    book.create_account("acct", currency="USD")
    post_batches(book, 2, size, 0)
    chained = post_batches(book, batches, size, 10**6)
    original = store_module.hash_parts
    store_module.hash_parts = lambda prev, tx_parts: "0" * 64  # type: ignore[assignment]
    try:
        unchained = post_batches(book, batches, size, 2 * 10**6)
    finally:
        store_module.hash_parts = original
    raw = sqlite3.connect(directory / "posting.db", isolation_level=None)
    raw.execute("PRAGMA synchronous=NORMAL")
    start = time.perf_counter()
    seq = 10**8
    for b in range(batches):
        tx_rows, entry_rows = [], []
        for i in range(size):
            s = seq + b * size + i
            tx_rows.append((s, f"r{s}", "charge", f"rk{s}", "f" * 64, 0, 0, "bench", "", '{"account_id":"acct"}',
                            "{}", "0" * 64, "1" * 64))  # fmt: skip
            entry_rows.append((s, 0, "consumed", "acct", "USD", 1, "g-bench", "acct", None, 0))
            entry_rows.append((s, 1, "issued", "acct", "USD", -1, "g-bench", "acct", None, 0))
        raw.execute("BEGIN IMMEDIATE")
        raw.executemany("INSERT INTO ledger_transactions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", tx_rows)
        raw.executemany("INSERT INTO ledger_entries VALUES (?,?,?,?,?,?,?,?,?,?)", entry_rows)
        raw.execute("COMMIT")
    bare = batches * size / (time.perf_counter() - start)
    raw.close()
    report.row(f"post_many, batches of {size} two-leg transactions", chained, "tx/s", bare,
               "bare executemany of the same rows", target=0.3)  # fmt: skip
    report.row("post_many with hash chain vs without", chained, "tx/s", unchained, "same, chain hash constant",
               target=0.9)  # fmt: skip
    book.close()


# -- 4. balance reads at two ledger sizes ------------------------------------------------------


def fill(book: drawdown.Book, total: int) -> None:
    """Grow the ledger to ``total`` two-leg transactions spread over 1,000 accounts."""
    for a in range(1000):
        book.create_account(f"a{a}", currency="USD")
    with SqlUnitOfWork(book.engine, write=True) as uow:
        have = uow.ledger.head()[0]
    while have < total:
        size = min(5000, total - have)
        batch = [
            (TransactionDraft(TxKind.CHARGE, T0, _legs_for(f"a{i % 1000}"), "bench", "", f"fill{i}", "f" * 64, {}),
             f"fill{i:012d}")
            for i in range(have, have + size)
        ]  # fmt: skip
        with SqlUnitOfWork(book.engine, write=True) as uow:
            uow.ledger.post_many(batch, T0)
        have += size


def _legs_for(account: str) -> tuple[Posting, ...]:
    return (
        Posting(EntryKind.CONSUMED, account, "USD", 1, None, None),
        Posting(EntryKind.ISSUED, account, "USD", -1, None, None),
    )


def bench_balance(directory: Path, report: Report, total: int, reads: int) -> None:
    name = f"balance-{total}.db"
    book = open_book(directory, name)
    fill(book, total)
    book.create_account("reader", currency="USD")
    for i in range(20):
        book.issue_grant("reader", "100", "USD", reason_code="bench", expires_at=T0 + timedelta(days=400 + i))
    book.charge("reader", "5", "USD")
    raw = sqlite3.connect(directory / name, isolation_level=None)
    lookup = "SELECT * FROM account_balances WHERE account_id = ? AND unit = ?"

    def bare() -> None:
        raw.execute(lookup, ("reader", "USD")).fetchone()

    def engine_read() -> None:
        book.balance("reader")

    def as_of_read() -> None:
        book.balance("reader", as_of=T0 + timedelta(days=1))

    for fn in (bare, engine_read):
        timed(fn, 200)
    engine_samples = timed(engine_read, reads)
    bare_samples = timed(bare, reads)
    as_of_samples = timed(as_of_read, max(reads // 10, 50))
    e50, b50 = statistics.median(engine_samples), statistics.median(bare_samples)
    e99 = statistics.quantiles(engine_samples, n=100)[98]
    b99 = statistics.quantiles(bare_samples, n=100)[98]
    report.latency(f"balance read at {total:,} transactions", e50, e99, b50, b99, "bare primary-key lookup",
                   target=1.5)  # fmt: skip
    a50, a99 = statistics.median(as_of_samples), statistics.quantiles(as_of_samples, n=100)[98]
    report.latency(f"balance read as of a past instant at {total:,} transactions", a50, a99, b50, b99,
                   "bare primary-key lookup", target=None)  # fmt: skip
    raw.close()
    if total >= 10_000:
        bench_verify(book, directory / name, report, total)
    book.close()


# -- 5. verify -----------------------------------------------------------------------------


def bench_verify(book: drawdown.Book, db: Path, report: Report, total: int) -> None:
    start = time.perf_counter()
    result = book.verify()
    engine_rate = result.transactions / (time.perf_counter() - start)
    assert result.ok, result
    raw = sqlite3.connect(db)
    start = time.perf_counter()
    prev = "0" * 64
    count = 0
    entries = raw.execute("SELECT * FROM ledger_entries ORDER BY tx_seq, leg")
    pending = entries.fetchone()
    for tx in raw.execute("SELECT * FROM ledger_transactions ORDER BY seq"):
        legs = []
        while pending is not None and pending[0] == tx[0]:
            legs.append(pending)
            pending = entries.fetchone()
        prev = hashlib.sha256(prev.encode() + json.dumps([tx, legs], separators=(",", ":")).encode()).hexdigest()
        count += 1
    bare_rate = count / (time.perf_counter() - start)
    raw.close()
    report.row(f"verify at {total:,} transactions", engine_rate, "tx/s", bare_rate, "read rows + SHA-256 chain",
               target=0.5)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", type=int, default=1_000_000, help="ledger size for the large balance read")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.large, args.small = 20_000, 2_000
    report = Report("ledger core")
    print(machine_facts())
    with tempfile.TemporaryDirectory(prefix="drawdown-bench-") as tmp:
        directory = Path(tmp)
        bench_charges(directory, report, 300 if args.quick else 2000)
        bench_posting(directory, report, 3 if args.quick else 20, 1000)
        bench_balance(directory, report, args.small, 2000)
        bench_balance(directory, report, args.large, 2000)
    report.print()


if __name__ == "__main__":
    main()
