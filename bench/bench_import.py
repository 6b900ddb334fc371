"""Benchmark: importing a CUR 2.0 Parquet export vs a bare DuckDB scan of the same columns.

    python bench/bench_import.py [--rows N] [--repeat R] [--keep DIR]

1. Generates a realistic, synthetic CUR 2.0 Parquet file with DuckDB (26 columns: bill,
   identity, line item and pricing columns, ``product`` / ``resource_tags`` /
   ``cost_category`` maps; DOUBLE costs with 10 decimals, as AWS writes them; 1 payer, 300
   usage accounts, 40 services, hourly rows). Line item types follow real exports: ~0.1 %
   ``Credit`` rows (on 30 accounts) and ``Tax`` rows (no resource, no tags), 5 % ``EdpDiscount``, Savings Plan
   covered usage and negations on compute services only, RI usage on two services, a few
   fees and refunds. 70 % of usage rows carry tags; each account has one business unit and
   team and a few applications, so tags correlate with accounts as in real organisations.
2. Measures, each in a fresh subprocess so peak memory (``ru_maxrss``) is its own, the best
   of ``--repeat`` runs (wall time, and CPU time over all threads, which shared machines
   disturb less):
   (a) bare: one DuckDB query summing cost and touching every column the importer reads;
   (b) import: ``summarise_export`` — detect the format, sum spend per period / account /
       service / line item type / two tag keys / one cost category, find credits;
   (c) finops: the whole ``drawdown finops import`` path into a fresh SQLite book — (b),
       plus fingerprinting the file, mapping spend to a node of a 10 business unit / 30
       department hierarchy by rules (cost category, then tag; the rules see each distinct
       account and key values once, DuckDB sums per node), storing spend per (period, node,
       service) and queueing the credits. Allocating every detected credit and
       the FIFO draws that follow are timed separately and printed on stderr.
3. Prints rows/s for all three, the ratios (target >= 0.5x the bare scan) and peak memory
   (target < 1 GB).

Targets are printed, not asserted: CI smokes the script with ``--rows 100000 --repeat 1``.
The ratio means something from about 1M rows on: below that, the fixed cost of turning
~40k spend groups into Python records dominates.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

RATIO_TARGET = 0.5
PEAK_MEMORY_TARGET_MB = 1024
TAG_KEYS = ("business_unit", "application")
COST_CATEGORY_KEYS = ("team",)

_GENERATE_SQL = """
COPY (
    WITH base AS (
        SELECT
            i,
            h,
            (h >> 8) % 300 AS account,
            (h >> 16) % 40 AS service,
            CASE
                WHEN i % 100 = 7 AND (h >> 8) % 300 % 10 = 0 THEN 'Credit'
                WHEN i % 1000 = 11 THEN 'Tax'
                WHEN i % 5000 = 13 THEN 'Refund'
                WHEN i % 20 = 17 THEN 'EdpDiscount'
                WHEN i % 10 = 3 AND (h >> 16) % 40 < 3 THEN 'SavingsPlanCoveredUsage'
                WHEN i % 10 = 4 AND (h >> 16) % 40 < 3 THEN 'SavingsPlanNegation'
                WHEN i % 10 = 5 AND (h >> 16) % 40 IN (3, 4) THEN 'DiscountedUsage'
                WHEN i % 2000 = 31 THEN 'Fee'
                ELSE 'Usage'
            END AS item_type
        FROM (SELECT i, hash(i) AS h FROM range({rows}) t(i))
    )
    SELECT
        'li-' || (h % 100000000000)::VARCHAR AS identity_line_item_id,
        '2025-01-01T00:00:00Z/2025-01-01T01:00:00Z' AS identity_time_interval,
        'Anniversary' AS bill_bill_type,
        'EUINGB25-' || (h % 3)::VARCHAR AS bill_invoice_id,
        '012345678901' AS bill_payer_account_id,
        'Example Payer' AS bill_payer_account_name,
        TIMESTAMP '2025-01-01' AS bill_billing_period_start_date,
        TIMESTAMP '2025-02-01' AS bill_billing_period_end_date,
        lpad((account * 7919 % 1000000000)::VARCHAR, 12, '0') AS line_item_usage_account_id,
        'account-' || account::VARCHAR AS line_item_usage_account_name,
        item_type AS line_item_line_item_type,
        TIMESTAMP '2025-01-01' + to_hours((i % 744)::BIGINT) AS line_item_usage_start_date,
        TIMESTAMP '2025-01-01' + to_hours((i % 744 + 1)::BIGINT) AS line_item_usage_end_date,
        'AmazonService' || service::VARCHAR AS line_item_product_code,
        'USE1-Usage' || ((h >> 20) % 200)::VARCHAR AS line_item_usage_type,
        'RunInstances' AS line_item_operation,
        CASE WHEN item_type IN ('Credit', 'Tax', 'Refund', 'Fee') THEN ''
             ELSE 'arn:aws:ec2:us-east-1:012345678901:instance/i-' || (h % 5000000)::VARCHAR
        END AS line_item_resource_id,
        round(((h >> 24) % 100000) / 1000.0, 6) AS line_item_usage_amount,
        'USD' AS line_item_currency_code,
        '0.0116' AS line_item_unblended_rate,
        CASE
            WHEN item_type IN ('Credit', 'EdpDiscount', 'SavingsPlanNegation', 'Refund')
                THEN -round(((h >> 28) % 10000000000) / 1e10 * 3, 10)
            ELSE round(((h >> 28) % 10000000000) / 1e10 * 5, 10)
        END AS line_item_unblended_cost,
        CASE item_type
            WHEN 'Credit' THEN (['AWS Activate Credits', 'MAP 2.0 Migration Credit',
                                 'AWS Open Source Promotional Credits'])[1 + (account % 3)::INTEGER]
            WHEN 'Tax' THEN 'Tax for product code AmazonService' || service::VARCHAR
            ELSE '$0.0116 per On Demand Linux t3.micro Instance Hour'
        END AS line_item_line_item_description,
        MAP {{'product_name': 'Amazon Service ' || service::VARCHAR, 'region': 'us-east-1'}} AS product,
        CASE
            WHEN item_type IN ('Credit', 'Tax', 'Refund', 'Fee') THEN MAP {{}}::MAP(VARCHAR, VARCHAR)
            WHEN h % 10 < 7 THEN
                MAP {{'user_business_unit': 'bu-' || (account % 10)::VARCHAR,
                      'user_application': 'app-' || ((account * 3 + (h >> 36) % 3) % 150)::VARCHAR,
                      'user_environment': (['prod', 'dev', 'test'])[1 + ((h >> 40) % 3)::INTEGER]}}
            ELSE MAP {{'user_environment': 'dev'}}
        END AS resource_tags,
        MAP {{'team': 'team-' || (account % 30)::VARCHAR}} AS cost_category,
        'OnDemand' AS pricing_term
    FROM base
) TO {path} (FORMAT parquet, COMPRESSION snappy)
"""

_BARE_SQL = """
SELECT
    count(*),
    sum(line_item_unblended_cost),
    min(bill_billing_period_start_date), max(bill_billing_period_end_date),
    min(line_item_usage_start_date), max(line_item_usage_end_date),
    max(bill_payer_account_id), max(line_item_usage_account_id),
    max(line_item_usage_account_name), max(line_item_line_item_type),
    max(line_item_product_code), max(line_item_line_item_description),
    max(line_item_currency_code),
    max(resource_tags['user_business_unit']), max(resource_tags['user_application']),
    max(cost_category['team'])
FROM read_parquet({path})
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per path; the fastest counts")
    parser.add_argument("--keep", type=Path, help="write the Parquet file here and keep it")
    parser.add_argument("--phase", choices=("bare", "import", "finops"), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(_run_phase(args.phase, args.file, args.repeat)))
        return
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        _benchmark(args.keep / "cur2.parquet", args.rows, args.repeat)
        return
    with tempfile.TemporaryDirectory(prefix="drawdown-bench-") as directory:
        _benchmark(Path(directory) / "cur2.parquet", args.rows, args.repeat)


def _benchmark(path: Path, rows: int, repeat: int) -> None:
    if not path.exists():
        started = time.perf_counter()
        _generate(path, rows)
        print(f"generated {rows:,} rows in {time.perf_counter() - started:.1f} s")
    print(f"file: {path} ({path.stat().st_size / 1e6:,.1f} MB)")
    bare = _in_subprocess("bare", path, repeat)
    imported = _in_subprocess("import", path, repeat)
    finops = _in_subprocess("finops", path, repeat)
    _report(rows, bare, imported, finops)


def _generate(path: Path, rows: int) -> None:
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(_GENERATE_SQL.format(rows=rows, path=_literal(path))).fetchall()
    finally:
        con.close()


def _in_subprocess(phase: str, path: Path, repeat: int) -> dict[str, float]:
    """Run one path in a fresh interpreter, so its peak memory is its own."""
    command = [sys.executable, __file__, "--phase", phase, "--file", str(path), "--repeat", str(repeat)]
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    if completed.stderr:
        print(completed.stderr.strip())
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _run_phase(phase: str, path: Path, repeat: int) -> dict[str, float]:
    """Best-of-``repeat`` wall time (and its CPU time, all threads) of one path."""
    duckdb.connect().execute("SELECT 1").fetchall()  # load the library before timing
    best: dict[str, float] = {}
    for _ in range(repeat):
        cpu_before, started = _cpu_seconds(), time.perf_counter()
        rows = {"bare": _bare_scan, "import": _import, "finops": _finops_import}[phase](path)
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_before
        if _TIMED:  # the path timed its own measured part (the finops set-up and allocation are not)
            seconds, cpu = _TIMED.pop("seconds"), _TIMED.pop("cpu_seconds")
        if not best or seconds < best["seconds"]:
            best = {"rows": rows, "seconds": seconds, "cpu_seconds": cpu}
    best["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return best


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _bare_scan(path: Path) -> int:
    con = duckdb.connect()
    try:
        row = con.execute(_BARE_SQL.format(path=_literal(path))).fetchall()[0]
    finally:
        con.close()
    return int(row[0])


def _import(path: Path) -> int:
    from drawdown.importers import summarise_export

    summary = summarise_export(path, tag_keys=TAG_KEYS, cost_category_keys=COST_CATEGORY_KEYS)
    assert summary.credits, "the generated file has Credit rows"
    print(
        f"import found {len(summary.spend):,} spend groups, {len(summary.credits)} credits"
        f" from {sum(c.row_count for c in summary.credits):,} credit rows",
        file=sys.stderr,
    )
    return summary.row_count


_TIMED: dict[str, float] = {}


def _finops_import(path: Path) -> int:
    """The full ``drawdown finops import`` path into a fresh SQLite book; returns rows read."""
    from drawdown.book import open_book

    with tempfile.TemporaryDirectory(prefix="drawdown-bench-db-") as directory, open_book(
        f"sqlite:///{directory}/finops.db", actor="bench"
    ) as book:  # fmt: skip
        for bu in range(10):
            book.finops_add_node(f"bu-{bu}", level="business_unit", name=f"BU {bu}")
            book.finops_add_rule(f"tag-{bu}", kind="tag", key="business_unit", value=f"bu-{bu}", node=f"bu-{bu}",
                                 priority=20)  # fmt: skip
        for team in range(30):
            book.finops_add_node(f"team-{team}", level="department", name=f"Team {team}", parent=f"bu-{team % 10}")
            book.finops_add_rule(f"cc-{team}", kind="cost_category", key="team", value=f"team-{team}",
                                 node=f"team-{team}", priority=10)  # fmt: skip
        cpu_before, started = _cpu_seconds(), time.perf_counter()
        report = book.finops_import(path)
        imported = time.perf_counter() - started
        _TIMED.update(seconds=imported, cpu_seconds=_cpu_seconds() - cpu_before)
        credits = book.finops_credits()
        started = time.perf_counter()
        for credit in credits:
            book.finops_allocate(credit.id, node="bu-0", amount="1000", end_date=date(2026, 12, 31),
                                 reason="bench", consume=False)  # fmt: skip
        drawn = book.finops_consume()
        allocated = time.perf_counter() - started
        print(
            f"finops import stored {report.spend_rows:,} spend rows, queued {report.credits_new} credits"
            f" in {imported:.2f} s; allocating them and drawing {drawn / 1e6:,.2f} USD took {allocated:.2f} s",
            file=sys.stderr,
        )
    with duckdb.connect() as con:
        count = con.execute(f"SELECT count(*) FROM read_parquet({_literal(path)})").fetchall()[0][0]
    return int(count)


def _report(rows: int, bare: dict[str, float], imported: dict[str, float], finops: dict[str, float]) -> None:
    assert bare["rows"] == imported["rows"] == finops["rows"] == rows, "every path must see every row"
    runs = (("(a) bare DuckDB scan", bare), ("(b) importer", imported), ("(c) finops import", finops))
    for label, run in runs:
        print(
            f"{label:21}: {run['seconds']:7.2f} s wall {run['cpu_seconds']:7.2f} s CPU"
            f"  {rows / run['seconds']:12,.0f} rows/s  peak {run['peak_mb']:7.1f} MB"
        )
    wall_ratio = bare["seconds"] / imported["seconds"]
    cpu_ratio = bare["cpu_seconds"] / imported["cpu_seconds"]
    verdict = "meets" if wall_ratio >= RATIO_TARGET else "MISSES"
    print(f"importer/bare speed  : {wall_ratio:.2f}x wall, {cpu_ratio:.2f}x CPU ({verdict} the {RATIO_TARGET}x target)")
    wall_ratio = bare["seconds"] / finops["seconds"]
    verdict = "meets" if wall_ratio >= RATIO_TARGET else "MISSES"
    print(f"finops/bare speed    : {wall_ratio:.2f}x wall ({verdict} the {RATIO_TARGET}x target)")
    for label, run in (("importer", imported), ("finops import", finops)):
        peak = run["peak_mb"]
        verdict = "meets" if peak < PEAK_MEMORY_TARGET_MB else "MISSES"
        print(f"{label + ' peak memory':21}: {peak:.1f} MB ({verdict} the {PEAK_MEMORY_TARGET_MB} MB target)")


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


if __name__ == "__main__":
    main()
