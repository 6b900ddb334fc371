"""``drawdown contract …``: amend an account's contract from a JSON file of terms, and show
every version with its commitments.

Thin: read the file, call the book, render. The terms are exactly ``Book.amend_contract``'s
dict (and the HTTP API's body): amounts as decimal strings, a float is refused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from drawdown.cli.main import DbOption, console, errors, opened
from drawdown.domain.contracts import Contract
from drawdown.domain.terms import contract_data

app = typer.Typer(help="Amend and show enterprise contracts (discounts, commitments, rebates, SLA).",
                  no_args_is_help=True)  # fmt: skip
TERMS_BYTES_MAX = 1024 * 1024


@app.command("amend")
def amend(
    account: str,
    terms: Annotated[Path, typer.Argument(help="A JSON file of contract terms, or - for standard input.")],
    effective_at: Annotated[str | None, typer.Option("--effective-at", help="ISO 8601 with offset.")] = None,
    db: DbOption = None,
) -> None:
    """Add the next version of an account's contract (the first version creates it)."""
    data = _read_terms(terms)
    with opened(db) as book:
        contract = book.amend_contract(account, data, effective_at=effective_at)
    console.print(f"{contract.label} effective {contract.effective_at.isoformat()}")
    for line in _commitments(contract):
        console.print(f"  {line}")


@app.command("show")
def show(account: str, as_json: Annotated[bool, typer.Option("--json")] = False, db: DbOption = None) -> None:
    """Every version of an account's contract, oldest first, with its commitments."""
    with opened(db) as book:
        versions = book.contracts(account)
    if as_json:
        print(json.dumps([_version_data(c) for c in versions], indent=2, sort_keys=True))
        return
    table = Table("version", "effective at", "price book", "commitments", "other rules")
    for c in versions:
        book_ref = c.price_book + ("" if c.price_book_version is None else f"@v{c.price_book_version}")
        others = len(c.overrides) + len(c.discounts) + len(c.bundles) + len(c.rebates) + len(c.sla)
        table.add_row(str(c.version), c.effective_at.isoformat(), book_ref, "\n".join(_commitments(c)) or "-",
                      str(others))  # fmt: skip
    console.print(table)


def _commitments(contract: Contract) -> list[str]:
    found = []
    if contract.commit is not None:
        found.append(f"minimum {contract.commit.amount} per period (rule {contract.commit.rule})")
    term = contract.term_commit
    if term is not None:
        found.append(f"term {term.amount} over {term.start} to {term.end} ({term.months} months, rule {term.rule})")
    return found


def _version_data(contract: Contract) -> dict[str, Any]:
    return {"version": contract.version, "effective_at": contract.effective_at.isoformat(),
            "terms": contract_data(contract)}  # fmt: skip


def _read_terms(path: Path) -> dict[str, Any]:
    try:
        if str(path) == "-":
            raw = sys.stdin.read(TERMS_BYTES_MAX + 1)
        else:
            with path.open(encoding="utf-8") as file:
                raw = file.read(TERMS_BYTES_MAX + 1)
    except OSError as error:
        errors.print(f"[red]error[/red] cannot read {path}: {error.strerror}")
        raise typer.Exit(2) from None
    if len(raw) > TERMS_BYTES_MAX:
        errors.print(f"[red]error[/red] {path} is over {TERMS_BYTES_MAX} bytes")
        raise typer.Exit(2)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        errors.print(f"[red]error[/red] {path} is not JSON: {error}")
        raise typer.Exit(2) from None
    if not isinstance(data, dict):
        errors.print(f"[red]error[/red] {path} must hold one JSON object of contract terms")
        raise typer.Exit(2)
    return data
