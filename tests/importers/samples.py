"""Where the real sample exports live, and helpers that write *synthetic* copies of them.

The real files (``shared/data/cur``, see README.md here for sources and licences) are never
modified. Scenarios the real data lacks — more credit rows, discounts, restatements — are
built by copying a real file into ``tmp_path`` with extra rows appended through DuckDB.
Every such row is synthetic and every helper says so in its name.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb

# tests/importers/<module>.py -> parents: importers, tests, <repo>, <dir holding repo and shared/>
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "cur"
FOCUS_SAMPLE = DATA / "focus-sample-data" / "focus_sample.csv"
CUR1_CSV_SAMPLE = DATA / "focus-converters-aws-cur" / "sample-anonymous-aws-export-dataset.csv"
WA_DIR = DATA / "wa-labs-workshop-cur"
WA_OCT = WA_DIR / "Oct2018-WorkshopCUR-00001.snappy.parquet"
WA_NOV = WA_DIR / "Nov2018-WorkshopCUR-00001.snappy.parquet"
WA_DEC = WA_DIR / "Dec2018-WorkshopCUR-00001.snappy.parquet"

EXPORT_SUFFIXES = (".csv", ".parquet", ".gz")


def sample_files() -> list[Path]:
    """Every export file in the shared sample directory (SOURCE.md / README.md excluded)."""
    return sorted(p for p in DATA.rglob("*") if p.is_file() and p.name.endswith(EXPORT_SUFFIXES))


def gzip_copy(source: Path, target: Path) -> Path:
    """A gzip-compressed copy of a CSV file."""
    with source.open("rb") as raw, gzip.open(target, "wb") as packed:
        shutil.copyfileobj(raw, packed)
    return target


def with_synthetic_rows(
    source: Path, target: Path, rows: Sequence[Mapping[str, str]], *, template_where: str = "true"
) -> Path:
    """Copy ``source`` to ``target`` with SYNTHETIC rows appended.

    Each synthetic row is a real row (the first matching ``template_where``) with some
    columns replaced by SQL expressions, so every other column stays realistic; a column the
    file lacks is added (NULL on the real rows). CSV in, CSV out (all text); Parquet in,
    Parquet out (same column types).
    """
    is_csv = source.suffix == ".csv"
    reader = f"read_csv('{source}', all_varchar = true, header = true)" if is_csv else f"read_parquet('{source}')"
    con = duckdb.connect()
    try:
        # CSV samples are small: load once instead of re-sniffing per synthetic row. Parquet is
        # read in place (a view), so a 100k-row copy never has to sit in memory.
        kind = "TABLE" if is_csv else "VIEW"
        con.execute(f"CREATE {kind} real_rows AS SELECT * FROM {reader}").fetchall()
        columns = {row[0] for row in con.execute("DESCRIBE real_rows").fetchall()}
        selects = ["SELECT * FROM real_rows"] + [_synthetic_select(row, columns, template_where) for row in rows]
        options = "FORMAT csv, HEADER true" if is_csv else "FORMAT parquet, ROW_GROUP_SIZE 20000"
        con.execute(f"COPY ({' UNION ALL BY NAME '.join(selects)}) TO '{target}' ({options})").fetchall()
    finally:
        con.close()
    return target


def _synthetic_select(row: Mapping[str, str], columns: set[str], template_where: str) -> str:
    replaced = ", ".join(f"{sql} AS {_ident(c)}" for c, sql in row.items() if c in columns)
    added = "".join(f", {sql} AS {_ident(c)}" for c, sql in row.items() if c not in columns)
    star = f"* REPLACE ({replaced})" if replaced else "*"
    return f"(SELECT {star}{added} FROM real_rows WHERE {template_where} LIMIT 1)"


def write_sql_file(sql: str, target: Path) -> Path:
    """Write the result of a SELECT to CSV or Parquet, chosen by the target's suffix."""
    options = "FORMAT parquet" if target.suffix == ".parquet" else "FORMAT csv, HEADER true"
    con = duckdb.connect()
    try:
        con.execute(f"COPY ({sql}) TO '{target}' ({options})").fetchall()
    finally:
        con.close()
    return target


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
