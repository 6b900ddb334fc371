"""The invoice commands: run twice (no second invoice), then explain one."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from drawdown.book import open_book
from drawdown.cli.main import app

PRICES = [{"product": "api", "category": "usage", "model": "per_unit", "unit_price": "0.01"}]


def test_invoice_run_is_idempotent_and_explain_reads_the_frozen_invoice(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.db"
    with open_book(db) as book:
        book.publish_price_book("default", "USD", PRICES, effective_at="2026-01-01T00:00:00+00:00")
        for name in ("acme", "beta"):
            book.create_account(name, currency="USD", time_zone="America/New_York")
        book.issue_grant("acme", "4", "USD", scope="products:api", reason_code="welcome")
        book.record_usage("acme", [{"event_id": "e1", "product": "api", "quantity": "1000",
                                    "occurred_at": "2026-10-10T12:00:00+00:00"}])  # fmt: skip
    runner = CliRunner()
    first = runner.invoke(app, ["invoice", "run", "--period", "2026-10", "--db", db])
    second = runner.invoke(app, ["invoice", "run", "--period", "2026-10", "--db", db])
    assert first.exit_code == 0, first.output
    assert "2 accounts: 2 finalized, 0 already finalized, 0 failed" in first.output
    assert "2 accounts: 0 finalized, 2 already finalized, 0 failed" in second.output
    with open_book(db) as book:
        invoice_id = book.finalize_invoice("acme", "2026-10").id or ""
    explained = runner.invoke(app, ["invoice", "explain", invoice_id, "--db", db])
    assert explained.exit_code == 0, explained.output
    assert "credit -4.00 USD from grant" in explained.output
    assert "amount due 6.00 USD" in explained.output
