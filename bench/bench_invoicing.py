"""Invoice-run benchmark, beside a raw baseline measured in the same run.

    .venv/bin/python bench/bench_invoicing.py [--accounts 10000] [--rows 1000000] [--quick] [--workers N] [--repeat 3]

Set-up (not timed): ``--accounts`` accounts on SQLite (WAL, synchronous=NORMAL); a default
price book with three meters on graduated tiers and a seat licence; every account gets a
contract with three discount kinds (a product discount, a category discount and a bundle
discount, plus a minimum commit on every tenth account) and 0–5 grants at different scopes;
``--rows`` usage rows in October 2026 spread over the accounts and meters.

Timed: ``book.run_invoices("2026-10", workers=...)`` on a fresh book, as the CLI runs it:
rating, discounts, credits through the drawdown order, posting the draws into the
hash-chained ledger and freezing each invoice, one unit of work per page of accounts; once
with ``--workers`` worker processes (default one per CPU) and once in one process, each on
its own copy of the database, ``--repeat`` times each (default 3, alternating), the best
compared, as the baseline's best of three is; every run's figure is printed too. Baseline:
a bare ``SELECT account_id, product, SUM(..), COUNT(*) FROM usage_lines GROUP BY
account_id, product`` over the same rows in the same file (target:
the run at ≥ 0.4× the baseline's speed, i.e. taking at most 2.5× as long). The process CPU
time of both is printed too: on a shared machine it moves less than the wall clock.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import drawdown
from common import Report, machine_facts
from drawdown.domain.contracts import BundleDiscount, Contract, DiscountScope, MinimumCommit, PercentDiscount
from drawdown.domain.grants import Category, Grant, Source, scope_of
from drawdown.domain.instants import to_micros
from drawdown.domain.ledger import TransactionDraft, TxKind, fingerprint
from drawdown.domain.lifecycle import issue_postings
from drawdown.storage.schema import usage_events, usage_lines
from drawdown.storage.uow import SqlUnitOfWork

T0 = datetime(2026, 9, 1, tzinfo=UTC)
OCTOBER = datetime(2026, 10, 1, tzinfo=UTC)
METERS = ("api", "gpu", "storage")
SCOPES = ("invoice", "category:usage", "products:api", "products:gpu,storage", "category:license")
TIERS = [{"up_to": "1000", "unit_price": "0.01"}, {"up_to": "100000", "unit_price": "0.005"},
         {"up_to": None, "unit_price": "0.001"}]  # fmt: skip
PRICES = [{"product": m, "category": "usage", "model": "graduated", "tiers": TIERS} for m in METERS] + [
    {"product": "seat", "category": "license", "model": "per_unit", "unit_price": "20"}
]


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


def setup(book: drawdown.Book, clock: Clock, accounts: int, rows: int, rnd: random.Random, source: str) -> None:
    book.publish_price_book("default", "USD", PRICES, effective_at=T0)
    for meter in METERS:  # each meter bills as the product of the same id
        book.define_meter(meter, event_type=meter, aggregation="sum")
    names = [f"acct{i:06d}" for i in range(accounts)]
    for name in names:
        book.create_account(name, currency="USD")
    with SqlUnitOfWork(book.engine, write=True) as uow:
        for i, name in enumerate(names):
            uow.contracts.add(_contract(name, i), T0)
    seq = 0
    for start in range(0, accounts, 500):
        with SqlUnitOfWork(book.engine, write=True) as uow:
            drafts = []
            for name in names[start : start + 500]:
                for _ in range(rnd.randint(0, 5)):
                    seq += 1
                    grant = _grant(name, seq, rnd)
                    uow.grants.add(grant)
                    drafts.append((_issue(grant), f"tx{seq:09d}"))
            uow.ledger.post_many(drafts, T0)
    recorded = to_micros(OCTOBER + timedelta(days=31))
    with book.engine.begin() as conn:
        batch = []
        for n in range(rows):
            account, meter = names[rnd.randrange(accounts)], rnd.choice(METERS)
            quantity = rnd.randint(1, 500) * 10**6
            at = to_micros(OCTOBER + timedelta(seconds=rnd.randrange(31 * 86400)))
            batch.append(
                {"event_id": f"ev{n:09d}", "account_id": account, "product": meter, "quantity_micros": quantity,
                 "occurred_at": at, "recorded_at": recorded}
                if source == "lines" else
                {"key": f"ev{n:09d}", "account_id": account, "event_type": meter, "event_at": at,
                 "quantity": quantity, "properties": "{}", "recorded_at": recorded, "burned": 1}
            )  # fmt: skip
            if len(batch) == 50_000:
                conn.execute((usage_lines if source == "lines" else usage_events).insert(), batch)
                batch.clear()
        if batch:
            conn.execute((usage_lines if source == "lines" else usage_events).insert(), batch)


def _contract(name: str, i: int) -> Contract:
    return Contract(
        name, 1, T0, quantities={"seat": Decimal(1 + i % 5)},
        discounts=(PercentDiscount("api-5", Decimal(5), DiscountScope.PRODUCT, product="api"),
                   PercentDiscount("usage-8", Decimal(8), DiscountScope.CATEGORY, Category.USAGE)),
        bundles=(BundleDiscount("gpu_storage-12", ("gpu", "storage"), Decimal(12)),),
        commit=MinimumCommit("min-500", Decimal(500)) if i % 10 == 0 else None,
    )  # fmt: skip


def _grant(name: str, seq: int, rnd: random.Random) -> Grant:
    return Grant(
        id=f"gr{seq:09d}", account_id=name, unit="USD", amount_units=rnd.randint(1, 200) * 10**6,
        source=Source.PROMOTIONAL, effective_at=T0, expires_at=None, priority=rnd.randint(1, 100),
        scope=scope_of(rnd.choice(SCOPES)), cost_basis=Decimal(0), period_cap=None,
        invoice_cap_units=rnd.choice([None, 50 * 10**6]), reason_code="bench", issuer="bench", external_ref=None,
        created_seq=seq, created_at=T0,
    )  # fmt: skip


def _issue(grant: Grant) -> TransactionDraft:
    return TransactionDraft(
        TxKind.GRANT_ISSUED, T0, issue_postings(grant), "bench", "bench", f"grant:{grant.id}",
        fingerprint({"grant": grant.id}), {"grant_id": grant.id, "account_id": grant.account_id},
    )  # fmt: skip


BARE = {  # the same GROUP BY over where the rows are
    "lines": "SELECT account_id, product, SUM(quantity_micros), COUNT(*) FROM usage_lines GROUP BY account_id, product",
    "events": "SELECT account_id, event_type, SUM(quantity), COUNT(*) FROM usage_events "
    "GROUP BY account_id, event_type",
}


def baseline(db: Path, source: str) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of the bare GROUP BY."""
    raw = sqlite3.connect(db)
    start, cpu = time.perf_counter(), time.process_time()
    found = raw.execute(BARE[source]).fetchall()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    raw.close()
    assert found
    return elapsed, cpu


def run_once(db: Path, clock: Clock, accounts: int, workers: int) -> tuple[float, float, float]:
    """Finalize October on ``db`` with ``workers``; wall and process CPU seconds, and a re-run's wall."""
    book = drawdown.open(f"sqlite:///{db}", clock=clock)
    start, cpu = time.perf_counter(), time.process_time()
    result = book.run_invoices("2026-10", workers=workers)
    run, run_cpu = time.perf_counter() - start, time.process_time() - cpu
    again_start = time.perf_counter()
    again = book.run_invoices("2026-10", workers=workers)
    rerun = time.perf_counter() - again_start
    assert not result.failed, sorted(set(result.failed.values()))
    assert result.finalized == accounts
    assert again.finalized == 0
    assert again.already_finalized == accounts
    assert book.verify().ok
    book.close()
    return run, run_cpu, rerun


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--usage", choices=("events", "lines"), default="events",
                        help="usage events read through meters (default), or usage lines recorded as such")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="500 accounts, 50,000 rows")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes for the run (default: one per CPU)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each kind on fresh copies; the best one counts, as for the baseline")  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.accounts, args.rows = 500, 50_000
    print(machine_facts())
    rnd = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        pristine = Path(tmp) / "invoicing.db"
        clock = Clock()
        book = drawdown.open(f"sqlite:///{pristine}", clock=clock)
        started = time.perf_counter()
        setup(book, clock, args.accounts, args.rows, rnd, args.usage)
        book.close()  # checkpointed: the file alone is the whole store, and can be copied
        print(f"set-up: {args.accounts:,} accounts, {args.rows:,} usage rows in {time.perf_counter() - started:.1f}s")
        with pristine.open("rb") as warm:  # the file read once through, so the baseline reads it warm
            while warm.read(1 << 24):
                pass
        timings = [baseline(pristine, args.usage) for _ in range(3)]
        base, base_cpu = min(t[0] for t in timings), min(t[1] for t in timings)
        clock.at = datetime(2026, 11, 2, tzinfo=UTC)
        runs, alone = [], []
        for n in range(args.repeat):  # alternated, so a slow spell of the machine hits both kinds
            for workers, found in ((args.workers, runs), (0, alone)):
                copy = Path(tmp) / f"run-{workers}-{n}.db"
                shutil.copy(pristine, copy)
                found.append(run_once(copy, clock, args.accounts, workers))
                copy.unlink()
    run, run_cpu, rerun = min(runs)
    one, one_cpu, _ = min(alone)
    spread = ", ".join(f"{r[0]:.2f}s" for r in runs)
    report = Report(
        f"invoice run: {args.accounts:,} accounts, {args.rows:,} usage rows (SQLite), best of {args.repeat}"
    )
    report.row(f"invoice run, {args.workers} worker processes", args.rows / run, "usage rows/s", args.rows / base,
               "bare GROUP BY account, meter (best of 3)", target=0.4)  # fmt: skip
    report.row("invoice run in one process (--workers 0)", args.rows / one, "usage rows/s", args.rows / base,
               "bare GROUP BY account, meter (best of 3)", target=None)  # fmt: skip
    ratios = ", ".join(f"{base / r[0]:.2f}×" for r in runs)
    report.lines.append(f"invoice run: {run:.2f}s ({run / args.accounts * 1e3:.2f} ms per account; every run: "
                        f"{spread}, ratios {ratios}); in one process: {one:.2f}s; GROUP BY: {base:.3f}s; "
                        f"re-run (all already finalized): {rerun:.2f}s")  # fmt: skip
    report.lines.append(
        f"process CPU of this process: invoice run {run_cpu:.2f}s (its workers not counted), in one process "
        f"{one_cpu:.2f}s, GROUP BY {base_cpu:.3f}s → {base_cpu / one_cpu:.2f}× in one process"
    )
    report.print()


if __name__ == "__main__":
    main()
