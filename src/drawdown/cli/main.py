"""``drawdown`` commands. The database comes from ``--db`` or ``DRAWDOWN_DB``
(default ``sqlite:///drawdown.db``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, TextColumn
from rich.table import Table

from drawdown import bootstrap
from drawdown.book import Book, open_book
from drawdown.domain.errors import Conflict, DrawdownError, InvalidInput, NotFound, Refused
from drawdown.domain.money import format_display

app = typer.Typer(help="drawdown: a credits-and-discounts ledger for usage-based billing.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

# One table from error family to exit code; 1 is reserved for "verify found a break".
EXIT_CODES: dict[type[DrawdownError], int] = {InvalidInput: 2, NotFound: 3, Conflict: 4, Refused: 5}

DbOption = Annotated[str | None, typer.Option("--db", envvar="DRAWDOWN_DB", help="Database URL.")]


def exit_code_for(error: DrawdownError) -> int:
    for family, code in EXIT_CODES.items():
        if isinstance(error, family):
            return code
    return 2


@contextmanager
def opened(db: str | None) -> Iterator[Book]:
    try:
        book = open_book(bootstrap.database_url(db), actor="cli")
    except DrawdownError as error:
        errors.print(f"[red]error[/red] {error.code}: {error.message}")
        raise typer.Exit(exit_code_for(error)) from None
    try:
        yield book
    except DrawdownError as error:
        errors.print(f"[red]error[/red] {error.code}: {error.message}")
        raise typer.Exit(exit_code_for(error)) from None
    finally:
        book.close()


@app.command()
def init(db: DbOption = None) -> None:
    """Create the database (or migrate it to the newest schema)."""
    url = bootstrap.database_url(db)
    with opened(url):
        console.print(f"ready: {url}")


@app.command()
def demo(
    db: Annotated[str, typer.Option("--db", help="Where to create the demo database.")] = "sqlite:///demo.db",
    fresh: Annotated[bool, typer.Option(help="Delete an existing SQLite demo file first.")] = True,
) -> None:
    """Create a demo database with realistic customers, grants and usage, and show it."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from drawdown import demo as demo_data

    url = make_url(db)
    if fresh and url.get_backend_name() == "sqlite" and url.database:
        for suffix in ("", "-wal", "-shm"):
            Path(url.database + suffix).unlink(missing_ok=True)
    with opened(db) as book:
        demo_data.seed(book, book.deps.clock.now())
        for account in demo_data.CUSTOMERS:
            console.print(f"[bold]{account}[/bold]: {_summary(book, account)}")
    console.print(f"\ndemo database: {db}\ntry: drawdown balance acme --db {db}")


def _summary(book: Book, account: str) -> str:
    bal = book.balance(account)
    unit = book.unit(bal.unit)
    return (
        f"available {format_display(bal.available_units, unit)} {bal.unit}, "
        f"consumed {format_display(bal.consumed_units, unit)}, expired {format_display(bal.expired_units, unit)}, "
        f"voided {format_display(bal.voided_units, unit)}, pending {format_display(bal.pending_units, unit)}"
    )


@app.command()
def verify(db: DbOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Recompute the ledger's hash chain; exit 1 at the first broken link."""
    with opened(db) as book:
        report = book.verify()
    if as_json:
        brk = report.first_break
        found = None if brk is None else {"seq": brk.seq, "transaction_id": brk.transaction_id, "problem": brk.problem}
        summary = {"ok": report.ok, "transactions": report.transactions, "head_seq": report.head_seq}
        print(json.dumps({**summary, "head_hash": report.head_hash, "first_break": found}))
    elif report.ok:
        console.print(f"[green]ok[/green] {report.transactions} transactions, head {report.head_hash[:16]}…")
    else:
        assert report.first_break is not None
        brk = report.first_break
        console.print(f"[red]broken[/red] at seq {brk.seq} ({brk.transaction_id or 'missing'}): {brk.problem}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def balance(
    account: str,
    unit: Annotated[str | None, typer.Option(help="Currency or credit unit; default the account's currency.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO 8601 instant, e.g. 2026-10-01T00:00:00Z.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOption = None,
) -> None:
    """Show an account's balance, now or as of an instant, with its grants."""
    with opened(db) as book:
        bal = book.balance(account, unit, as_of=_instant(as_of))
        views = book.grants(account, bal.unit, as_of=_instant(as_of))
        unit_obj = book.unit(bal.unit)
    fields = ["available", "reserved", "consumed", "expired", "voided", "pending", "issued", "pooled_available"]
    figures = {name: format_display(getattr(bal, f"{name}_units"), unit_obj) for name in fields}
    if as_json:
        print(json.dumps({"account": account, "unit": bal.unit, "as_of": bal.as_of.isoformat(), **figures}))
        return
    table = Table(title=f"{account} · {bal.unit} · as of {bal.as_of.isoformat()}")
    for name in fields:
        table.add_column(name.replace("_", " "), justify="right")
    table.add_row(*figures.values())
    console.print(table)
    grants = Table(title="grants (drawdown order is documented in docs/ARCHITECTURE.md)")
    for column in ("grant", "source", "status", "priority", "expires", "amount", "used", "remaining"):
        grants.add_column(column)
    for view in views:
        g = view.state.grant
        grants.add_row(
            g.id, str(g.source), view.status, str(g.priority),
            "never" if g.expires_at is None else g.expires_at.isoformat(),
            format_display(g.amount_units, unit_obj), format_display(view.state.used_units, unit_obj),
            format_display(view.state.remaining_units, unit_obj),
        )  # fmt: skip
    console.print(grants)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="Usage events, one JSON object per line (NDJSON).")],
    batch: Annotated[int, typer.Option(help="Events per call (at most 10,000).")] = 10_000,
    rejects: Annotated[Path | None, typer.Option(help="Write each rejected line's reason here (NDJSON).")] = None,
    db: DbOption = None,
) -> None:
    """Ingest usage events from an NDJSON file in batches, with a progress bar.

    Each event is accepted, a duplicate (already ingested: safe to re-run the file), or
    rejected with a reason. Exit code 2 if any line was rejected.
    """
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    size = file.stat().st_size
    with (
        opened(db) as book,
        file.open("rb") as lines,
        Progress(*Progress.get_default_columns(), TextColumn("{task.fields[summary]}"), console=errors) as bar,
        rejects.open("w") if rejects else nullcontext() as sink,
    ):
        task = bar.add_task(f"ingest {file.name}", total=size, summary="")
        for chunk, consumed in _batches(lines, max(1, min(batch, 10_000))):
            parsed: list[dict[str, Any]] = []
            where: list[int] = []
            for number, line in chunk:
                try:
                    parsed.append(json.loads(line))
                    where.append(number)
                except ValueError as error:
                    totals["rejected"] += 1
                    _reject(sink, number, "invalid_json", str(error))
            for result in book.ingest(parsed).results:
                totals[result.status] += 1
                if result.status == "rejected":
                    _reject(sink, where[result.index], result.code or "", result.message or "")
            bar.update(task, advance=consumed, summary=" ".join(f"{k} {v}" for k, v in totals.items()))
    console.print(" · ".join(f"{k} {v}" for k, v in totals.items()))
    if totals["rejected"]:
        raise typer.Exit(2)


def _batches(lines: IO[bytes], size: int) -> Iterator[tuple[list[tuple[int, bytes]], int]]:
    """``([(line number, line)], bytes read)`` per batch of non-blank lines; streams the file."""
    chunk: list[tuple[int, bytes]] = []
    consumed = 0
    for number, line in enumerate(lines, start=1):
        consumed += len(line)
        if line.strip():
            chunk.append((number, line))
        if len(chunk) == size:
            yield chunk, consumed
            chunk, consumed = [], 0
    if chunk or consumed:
        yield chunk, consumed


def _reject(sink: Any, line: int, code: str, message: str) -> None:
    if sink is not None:
        sink.write(json.dumps({"line": line, "code": code, "message": message}) + "\n")


def _instant(text: str | None) -> Any:
    return None if text is None else text.replace("Z", "+00:00")


def _register_finops() -> None:
    from drawdown.cli import finops

    app.add_typer(finops.app, name="finops")


_register_finops()
