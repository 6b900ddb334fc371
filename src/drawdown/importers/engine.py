"""DuckDB plumbing: one configured connection, file sniffing, SQL quoting, error translation.

Every query the importers run goes through a connection from :func:`connect`, which pins
the session time zone to UTC (so zone-less timestamps read as UTC) and caps DuckDB's memory
(it spills beyond the cap instead of growing). DuckDB and OS errors are turned into
:class:`~drawdown.importers.errors.UnreadableExport` by :func:`translate_errors`.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

import duckdb

from drawdown.importers.errors import UnreadableExport
from drawdown.importers.limits import (
    DUCKDB_MEMORY_LIMIT,
    PROGRESS_POLL_SECONDS,
    SNIFF_BYTES,
)

ProgressCallback = Callable[[int, int | None], None]
"""``on_progress(done_rows, total_rows_or_None)``; total is None when the file does not say."""


class Container(StrEnum):
    """How the rows are stored, told apart by the file's first bytes, not its name."""

    CSV = "csv"
    CSV_GZIP = "csv.gz"
    PARQUET = "parquet"


_MAGIC_PARQUET = b"PAR1"
_MAGIC_GZIP = b"\x1f\x8b"
_MAGIC_ZIP = b"PK\x03\x04"


def connect() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB connection: UTC session, capped memory, silent progress.

    Beyond the memory cap DuckDB spills to a private directory under the system temp dir
    (created only if needed, removed by DuckDB on close) instead of ``./.tmp``.
    """
    spill = Path(tempfile.gettempdir()) / f"drawdown-duckdb-{secrets.token_hex(8)}"
    con = duckdb.connect(":memory:", config={"memory_limit": DUCKDB_MEMORY_LIMIT, "temp_directory": str(spill)})
    con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = true; SET enable_progress_bar_print = false")
    return con


@contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """Re-raise DuckDB and OS failures as ``UnreadableExport`` naming the file."""
    try:
        yield
    except duckdb.Error as exc:
        raise UnreadableExport(path, str(exc).splitlines()[0]) from exc
    except OSError as exc:
        raise UnreadableExport(path, exc.strerror or str(exc)) from exc


def sniff_container(path: Path) -> Container:
    """Parquet and gzip by magic bytes; anything else is read as plain CSV text."""
    with translate_errors(path), path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(_MAGIC_PARQUET):
        return Container.PARQUET
    if head.startswith(_MAGIC_GZIP):
        return Container.CSV_GZIP
    if head.startswith(_MAGIC_ZIP):
        raise UnreadableExport(path, "zip archives are not supported; unzip the CSV first")
    return Container.CSV


def quote_ident(name: str) -> str:
    """A DuckDB identifier literal for any column name (CUR names contain ``/`` and ``:``)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def source_sql(path: Path, container: Container) -> str:
    """The table function that reads the file.

    CSV is read with every column as text so amounts never pass through a float; both empty
    fields and the literal ``NULL`` (a FOCUS sample quirk) read as SQL NULL.
    """
    location = quote_literal(str(path))
    if container is Container.PARQUET:
        return f"read_parquet({location})"
    compression = "gzip" if container is Container.CSV_GZIP else "none"
    return (
        f"read_csv({location}, all_varchar = true, header = true,"
        f" nullstr = ['', 'NULL'], compression = '{compression}')"
    )


def describe(con: duckdb.DuckDBPyConnection, source: str) -> tuple[tuple[str, str], ...]:
    """Column names and DuckDB types, from the Parquet schema or the sniffed CSV header."""
    rows = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    return tuple((str(row[0]), str(row[1])) for row in rows)


def parquet_row_count(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Rows in a Parquet file, read from its footer (no data is scanned)."""
    rows = con.execute(f"SELECT sum(num_rows) FROM parquet_file_metadata({quote_literal(str(path))})").fetchall()
    return int(rows[0][0])


def run_with_progress(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    total_rows: int | None,
    on_progress: ProgressCallback | None,
) -> None:
    """Run a statement, polling DuckDB's progress into ``on_progress`` from this thread.

    The statement runs on a worker thread so that callbacks arrive on the caller's thread;
    ``Future.result`` hands any failure back here. DuckDB reports a percentage; it becomes
    rows when the total is known, else the caller only hears the start (0, None).
    """
    if on_progress is None:
        con.execute(sql).fetchall()
        return
    on_progress(0, total_rows)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drawdown-import") as pool:
        future = pool.submit(_execute, con, sql)
        while not future.done():
            wait([future], timeout=PROGRESS_POLL_SECONDS)
            percent = con.query_progress()
            if total_rows is not None and percent >= 0:
                on_progress(min(total_rows, int(total_rows * percent / 100)), total_rows)
        future.result()


def _execute(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    con.execute(sql).fetchall()
