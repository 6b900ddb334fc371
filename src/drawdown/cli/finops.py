"""``drawdown finops …``: import cloud billing exports, define the hierarchy and its rules,
allocate detected credits, and report net cost, the queue and credits expiring soon.

Thin: parse, call the book, render a Rich table or ``--format json|csv``. Amounts are shown
as decimal strings in the node's currency.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from drawdown.book import Book
from drawdown.cli.main import DbOption, console, errors, opened
from drawdown.domain.money import CURRENCIES, format_display
from drawdown.importers import BillingExportError

app = typer.Typer(help="FinOps cloud credits: AWS CUR 1.0 / 2.0 and FOCUS exports.", no_args_is_help=True)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


FormatOption = Annotated[Format, typer.Option("--format", help="table, json or csv.")]


def _money(units: int, currency: str) -> str:
    unit = CURRENCIES.get(currency)
    return str(units) if unit is None else format_display(units, unit)


def _emit(title: str, rows: list[dict[str, Any]], output: Format) -> None:
    if output is Format.JSON:
        print(json.dumps(rows, indent=2, default=str))
        return
    if output is Format.CSV:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["empty"])
        writer.writeheader()
        writer.writerows(rows)
        return
    table = Table(title=title)
    for column in rows[0] if rows else ["(none)"]:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*("" if v is None else _short(str(v)) for v in row.values()))
    console.print(table)


def _short(text: str, length_max: int = 40) -> str:
    return text if len(text) <= length_max else text[: length_max - 1] + "…"


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="CUR 1.0 / CUR 2.0 / FOCUS files: CSV, gzip CSV or Parquet.")],
    export_date: Annotated[str | None, typer.Option(help="The file's export date (YYYY-MM-DD), if known.")] = None,
    db: DbOption = None,
) -> None:
    """Import exports: spend per node, detected credits to the queue, credit drawn for spend.

    Importing the same file again adds nothing; a restated billing period replaces its spend.
    """
    when = None if export_date is None else date.fromisoformat(export_date)
    with opened(db) as book, Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=errors
    ) as bar:  # fmt: skip
        for path in files:
            task = bar.add_task(f"import {path.name}", total=None)

            def progress(done: int, total: int | None, task: Any = task) -> None:
                bar.update(task, completed=done, total=total)

            try:
                report = book.finops_import(path, export_date=when, on_progress=progress)
            except BillingExportError as error:
                errors.print(f"[red]error[/red] {error.code}: {error}")
                raise typer.Exit(2) from None
            if report.duplicate:
                console.print(f"{path.name}: already imported ({report.import_id}); nothing added")
                continue
            periods = ", ".join(f"{k} {v}" for k, v in report.periods.items())
            drawn = _money(report.drawn_units, "USD")
            console.print(
                f"{path.name}: {report.import_id} · periods {periods} · spend rows {report.spend_rows} · "
                f"credits new {report.credits_new} seen {report.credits_seen} · drawn {drawn} USD"
            )


@app.command()
def nodes(
    add: Annotated[str | None, typer.Option(help="Id of a node to add.")] = None,
    level: Annotated[str, typer.Option(help="business_unit, department, portfolio or product.")] = "business_unit",
    name: Annotated[str | None, typer.Option(help="Display name (default the id).")] = None,
    parent: Annotated[str | None, typer.Option(help="Parent node id (one level up).")] = None,
    currency: Annotated[str, typer.Option(help="The node account's currency.")] = "USD",
    output: FormatOption = Format.TABLE,
    db: DbOption = None,
) -> None:
    """List the hierarchy, or add a node with --add."""
    with opened(db) as book:
        if add is not None:
            book.finops_add_node(add, level=level, name=name or add, parent=parent, currency=currency)
        rows = [{"id": n.id, "level": str(n.level), "name": n.name, "parent": n.parent_id, "currency": n.currency}
                for n in book.finops_nodes()]  # fmt: skip
    _emit("FinOps nodes", rows, output)


@app.command()
def rules(
    add: Annotated[str | None, typer.Option(help="Id of a rule to add.")] = None,
    kind: Annotated[str, typer.Option(help="usage_account, tag or cost_category.")] = "usage_account",
    key: Annotated[str, typer.Option(help="Tag or cost-category key, e.g. business_unit.")] = "",
    value: Annotated[str | None, typer.Option(help="The value that maps spend to the node.")] = None,
    node: Annotated[str | None, typer.Option(help="The node spend goes to.")] = None,
    priority: Annotated[int, typer.Option(help="Lower is tried first.")] = 100,
    output: FormatOption = Format.TABLE,
    db: DbOption = None,
) -> None:
    """List the mapping rules, or add one with --add (first match by priority wins)."""
    with opened(db) as book:
        if add is not None:
            if value is None or node is None:
                errors.print("[red]error[/red] a rule needs --value and --node")
                raise typer.Exit(2)
            book.finops_add_rule(add, kind=kind, key=key, value=value, node=node, priority=priority)
        rows = [{"id": r.id, "priority": r.priority, "kind": str(r.kind), "key": r.key, "value": r.value,
                 "node": r.node_id} for r in book.finops_rules()]  # fmt: skip
    _emit("mapping rules (unmatched spend goes to 'unallocated')", rows, output)


@app.command()
def allocate(
    credit: Annotated[str, typer.Argument(help="The credit id from `drawdown finops queue`.")],
    node: Annotated[str, typer.Option(help="The node the credit covers (and its descendants).")],
    amount: Annotated[str, typer.Option(help="The amount actually issued, e.g. 5000.")],
    end_date: Annotated[str, typer.Option(help="The last day the credit can be used (YYYY-MM-DD).")],
    reason: Annotated[str, typer.Option(help="Why: recorded on the ledger transaction.")],
    reference: Annotated[str | None, typer.Option(help="e.g. a MAP contract id.")] = None,
    output: FormatOption = Format.TABLE,
    db: DbOption = None,
) -> None:
    """Allocate a detected credit to a node (a reallocation voids the old grant first)."""
    with opened(db) as book:
        view = book.finops_allocate(
            credit, node=node, amount=amount, end_date=date.fromisoformat(end_date), reference=reference, reason=reason
        )
    _emit("allocated", [_credit_row(view)], output)


@app.command()
def queue(
    all_credits: Annotated[bool, typer.Option("--all", help="Allocated credits too.")] = False,
    output: FormatOption = Format.TABLE,
    db: DbOption = None,
) -> None:
    """The unallocated queue: detected credits with code, account, amount applied so far."""
    with opened(db) as book:
        views = [v for v in book.finops_credits() if all_credits or v.queue_status == "unallocated"]
    _emit("cloud credits", [_credit_row(v) for v in views], output)


def _credit_row(v: Any) -> dict[str, Any]:
    return {
        "id": v.id, "code": v.code, "account": v.usage_account_id, "applied": str(v.applied),
        "issued": v.issue_date.isoformat(), "period": v.period, "queue": v.queue_status, "node": v.node_id,
        "amount": _money(v.amount_units, v.currency), "used": _money(v.used_units, v.currency),
        "remaining": _money(v.remaining_units, v.currency), "ends": v.end_date, "status": v.status,
        "reference": v.reference,
    }  # fmt: skip


@app.command()
def report(output: FormatOption = Format.TABLE, db: DbOption = None) -> None:
    """Net cost per node and period (rolled up), the queue, and credits expiring soon."""
    with opened(db) as book:
        _report(book, output)


def _report(book: Book, output: Format) -> None:
    net = [{"node": r.node_id, "level": r.level, "period": r.period, "currency": r.currency,
            "spend": _money(r.spend_units, r.currency), "credits": _money(r.credits_units, r.currency),
            "net": _money(r.net_units, r.currency)} for r in book.finops_net_cost()]  # fmt: skip
    waiting = [_credit_row(v) for v in book.finops_credits() if v.queue_status == "unallocated"]
    soon = [{**_credit_row(e.credit), "expires_at": e.expires_at.isoformat(),
             "needed_per_day": _money(e.needed_per_day_units, e.credit.currency),
             "recent_per_day": _money(e.recent_per_day_units, e.credit.currency)}
            for e in book.finops_expiring()]  # fmt: skip
    if output is Format.TABLE:
        _emit("net cost per node and period (descendants included)", net, output)
        _emit("unallocated queue", waiting, output)
        _emit("credits expiring within 30 days", soon, output)
    elif output is Format.JSON:
        print(json.dumps({"net_cost": net, "unallocated": waiting, "expiring": soon}, indent=2, default=str))
    else:
        _emit("", net, output)  # CSV holds one table: the net cost; queue and expiring have their own commands
