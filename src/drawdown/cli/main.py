"""``drawdown`` commands. The database comes from ``--db`` or ``DRAWDOWN_DB``
(default ``sqlite:///drawdown.db``)."""

from __future__ import annotations

import json
import os
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
from drawdown.domain import limits
from drawdown.domain.errors import AccessDenied, Conflict, DrawdownError, InvalidInput, NotFound, Refused
from drawdown.domain.money import format_display

app = typer.Typer(help="drawdown: a credits-and-discounts ledger for usage-based billing.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

# One table from error family to exit code; 1 is reserved for "verify found a break".
EXIT_CODES: dict[type[DrawdownError], int] = {InvalidInput: 2, NotFound: 3, Conflict: 4, Refused: 5, AccessDenied: 6}

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


HostOption = Annotated[str | None, typer.Option("--host", envvar="DRAWDOWN_HOST", help="Address to listen on.")]
PortOption = Annotated[int | None, typer.Option("--port", envvar="DRAWDOWN_PORT", help="Port to listen on.")]


@app.command()
def serve(
    db: DbOption = None,
    host: HostOption = None,
    port: PortOption = None,
    support_grant_limit: Annotated[
        str | None,
        typer.Option(
            envvar="DRAWDOWN_SUPPORT_GRANT_LIMIT", help="Largest grant a support key may issue (default 100)."
        ),
    ] = None,
    log_level: Annotated[str | None, typer.Option(envvar="DRAWDOWN_LOG_LEVEL")] = None,
    sweep_seconds: Annotated[
        str | None,
        typer.Option(
            envvar="DRAWDOWN_SWEEP_SECONDS",
            help="Seconds between upkeep sweeps (expired holds, lapsed grants, async usage); 0 = off.",
        ),
    ] = None,
) -> None:
    """Run the HTTP API (uvicorn) on the embedded SQLite store by default, or --db postgresql+psycopg://…"""
    settings = bootstrap.ServerSettings.from_env(
        db=bootstrap.database_url(db), host=host, port=port, support_grant_limit=support_grant_limit,
        log_level=log_level, sweep_seconds=sweep_seconds,
    )  # fmt: skip
    with opened(settings.db):  # create or migrate the store first, reporting errors as the CLI does
        pass
    _serve(settings)


def _serve(settings: bootstrap.ServerSettings) -> None:
    import os

    import uvicorn

    os.environ.update({
        "DRAWDOWN_DB": settings.db, "DRAWDOWN_HOST": settings.host, "DRAWDOWN_PORT": str(settings.port),
        "DRAWDOWN_SUPPORT_GRANT_LIMIT": str(settings.support_grant_limit), "DRAWDOWN_LOG_LEVEL": settings.log_level,
        "DRAWDOWN_SWEEP_SECONDS": str(settings.sweep_seconds),
    })  # fmt: skip
    # A factory by import path: the CLI and the API are sibling edges and never import each other.
    uvicorn.run(
        "drawdown.api.main:app_from_env", factory=True, host=settings.host, port=settings.port,
        log_config=None, timeout_graceful_shutdown=10, server_header=False,
        h11_max_incomplete_event_size=4 * limits.REQUEST_HEADER_BYTES_MAX,  # so the app's 431 problem answers first
    )  # fmt: skip


@app.command()
def demo(
    db: Annotated[str, typer.Option("--db", help="Where to create the demo database.")] = "sqlite:///demo.db",
    fresh: Annotated[bool, typer.Option(help="Delete an existing SQLite demo file first.")] = True,
    host: HostOption = None,
    port: PortOption = None,
    serve: Annotated[bool, typer.Option(help="Serve the API after seeding (--no-serve to only seed).")] = True,
) -> None:
    """Create a demo database with realistic customers, grants and usage, print an admin key, and serve it."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from drawdown import demo as demo_data

    url = make_url(db)
    if fresh and url.get_backend_name() == "sqlite" and url.database:
        for suffix in ("", "-wal", "-shm"):
            Path(url.database + suffix).unlink(missing_ok=True)
    settings = bootstrap.ServerSettings.from_env(db=db, host=host, port=port)
    with opened(db) as book:
        demo_data.seed(book, book.deps.clock.now())
        for account in demo_data.CUSTOMERS:
            console.print(f"[bold]{account}[/bold]: {_summary(book, account)}")
        admin = book.create_key("admin", label="demo admin")
        customer = book.create_key("customer", account="acme", label="demo customer acme")
        support = book.create_key("support", label="demo support")
    base = f"http://{settings.host}:{settings.port}"
    print(f"\ndemo database: {db}")
    print(f"admin key:    {admin.token}")
    print(f"support key:  {support.token}   (grants up to {settings.support_grant_limit})")
    print(f"customer key: {customer.token}   (sees acme only)")
    print(f"API:          {base}/v1   docs: {base}/docs   metrics: {base}/metrics")
    print(f'try:          curl -H "Authorization: Bearer {admin.token}" {base}/v1/accounts/acme/balance', flush=True)
    if serve:
        _serve(settings)


keys_app = typer.Typer(help="API keys: create (the secret is shown once), list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin, finance, support, service or customer.")],
    account: Annotated[str | None, typer.Option(help="The one account a customer key may see.")] = None,
    grant_limit: Annotated[
        str | None, typer.Option(help="Support keys: largest grant (default: server setting).")
    ] = None,
    label: Annotated[str, typer.Option(help="A note for whoever holds the key.")] = "",
    db: DbOption = None,
) -> None:
    """Create an API key and print its secret token. It is shown this once and stored only hashed."""
    with opened(db) as book:
        created = book.create_key(role, account=account, grant_limit=grant_limit, label=label)
    print(json.dumps({"id": created.key.id, "role": created.key.role, "account": created.key.account_id,
                      "token": created.token}))  # fmt: skip


@keys_app.command("revoke")
def keys_revoke(key_id: str, db: DbOption = None) -> None:
    """Revoke an API key; requests with it fail with 401 at once."""
    with opened(db) as book:
        key = book.revoke_key(key_id)
    console.print(f"revoked {key.id} ({key.role})")


@keys_app.command("list")
def keys_list(db: DbOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List API keys (never their secrets)."""
    with opened(db) as book:
        found = book.keys()
    rows = [{"id": k.id, "role": k.role, "account": k.account_id, "grant_limit": k.grant_limit, "label": k.label,
             "created_at": k.created_at.isoformat(),
             "revoked_at": None if k.revoked_at is None else k.revoked_at.isoformat()} for k in found]  # fmt: skip
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title="API keys")
    for column in ("id", "role", "account", "grant_limit", "label", "created_at", "revoked_at"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v or "") for v in row.values()))
    console.print(table)


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
def sweep(db: DbOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One upkeep pass: release holds past their TTL, expire lapsed grants, burn async usage.

    `drawdown serve` sweeps every few seconds by itself; run this from cron when the server's
    sweep is off (DRAWDOWN_SWEEP_SECONDS=0) or for a store no server runs on.
    """
    with opened(db) as book:
        report = book.sweep()
    counts = {"holds_expired": report.holds_expired, "grants_expired": report.grants_expired,
              "usage_charged": report.usage_charged, "usage_skipped": report.usage_skipped}  # fmt: skip
    if as_json:
        print(json.dumps(counts))
    else:
        console.print(" · ".join(f"{name.replace('_', ' ')} {count}" for name, count in counts.items()))


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
            for result in book.ingest_ndjson(b"\n".join(line.rstrip(b"\r\n") for _, line in chunk)).results:
                totals[result.status] += 1
                if result.status == "rejected":
                    _reject(sink, chunk[result.index][0], result.code or "", result.message or "")
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


invoice_app = typer.Typer(help="Preview, finalize, explain, void, re-issue and run invoices.", no_args_is_help=True)
app.add_typer(invoice_app, name="invoice")


@invoice_app.command("preview")
def invoice_preview(
    account: str,
    period: Annotated[str, typer.Option("--period", help="Billing month, e.g. 2026-10.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOption = None,
) -> None:
    """Show the invoice for a month as it would be now, without writing anything."""
    with opened(db) as book:
        view = book.preview_invoice(account, period)
    print(view.canonical_json() if as_json else view.explain())


@invoice_app.command("finalize")
def invoice_finalize(
    account: str,
    period: Annotated[str, typer.Option("--period", help="Billing month, e.g. 2026-10.")],
    db: DbOption = None,
) -> None:
    """Freeze the invoice for an ended month and post the credits it draws."""
    with opened(db) as book:
        view = book.finalize_invoice(account, period)
    state = "already finalized" if view.replayed else "finalized"
    console.print(f"{view.id} {state}: amount due {view.document['totals']['amount_due']} {view.amount_due.unit.code}")


@invoice_app.command("explain")
def invoice_explain(
    invoice_id: str, as_json: Annotated[bool, typer.Option("--json")] = False, db: DbOption = None
) -> None:
    """Explain every line of an invoice: quantities, prices, discounts and the grants drawn."""
    with opened(db) as book:
        view = book.invoice(invoice_id)
    print(view.canonical_json() if as_json else view.explain())


@invoice_app.command("void")
def invoice_void(
    invoice_id: str, reason: Annotated[str, typer.Option("--reason", help="Why, in words.")], db: DbOption = None
) -> None:
    """Void a finalized invoice and reinstate the credits it drew."""
    with opened(db) as book:
        view = book.void_invoice(invoice_id, reason=reason)
    console.print(f"{view.id} voided")


@invoice_app.command("reissue")
def invoice_reissue(
    invoice_id: str, reason: Annotated[str, typer.Option("--reason", help="Why, in words.")], db: DbOption = None
) -> None:
    """Bill a voided invoice's period again with today's terms and credits, over the usage it billed."""
    with opened(db) as book:
        view = book.reissue_invoice(invoice_id, reason=reason)
    state = "already re-issued as" if view.replayed else "re-issued as"
    console.print(
        f"{invoice_id} {state} {view.id} (revision {view.revision}): "
        f"amount due {view.document['totals']['amount_due']} {view.amount_due.unit.code}"
    )


@invoice_app.command("run")
def invoice_run(
    period: Annotated[str, typer.Option("--period", help="Billing month, e.g. 2026-10.")],
    db: DbOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            max=limits.INVOICE_RUN_WORKERS_MAX,
            help="Worker processes that rate pages while this one writes (SQLite file stores); "
            "default: one per CPU (none on a single CPU); 0 rates everything in this process.",
        ),
    ] = None,
) -> None:
    """Finalize a month for every account, with progress; safe to re-run (no second invoice)."""
    from rich.progress import Progress

    with opened(db) as book, Progress(console=console) as progress:
        task = progress.add_task(f"invoicing {period}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        count = _default_workers() if workers is None else workers
        report = book.run_invoices(period, on_progress=advance, workers=count)
    console.print(
        f"{report.accounts} accounts: {report.finalized} finalized, {report.already_finalized} already finalized, "
        f"{len(report.failed)} failed"
    )
    if report.rerated_pages:
        console.print(f"{report.rerated_pages} pages rated again here: the store changed while a worker rated them")
    for account, code in sorted(report.failed.items()):
        errors.print(f"[red]failed[/red] {account}: {code}")
    if report.failed:
        raise typer.Exit(5)


def _default_workers() -> int:
    """One invoice-run worker per CPU this process may use; none on a single CPU, where a
    worker would only take turns with the process that writes."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cpus, limits.INVOICE_RUN_WORKERS_MAX) if cpus > 1 else 0


def _register_subcommands() -> None:
    from drawdown.cli import contracts, finops

    app.add_typer(contracts.app, name="contract")
    app.add_typer(finops.app, name="finops")


_register_subcommands()
