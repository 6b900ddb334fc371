"""The invoice commands: run twice (no second invoice), then explain one; void and re-issue one."""

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
    negative = runner.invoke(app, ["invoice", "run", "--period", "2026-10", "--workers", "-1", "--db", db])
    assert negative.exit_code == 2  # refused before anything runs
    second = runner.invoke(app, ["invoice", "run", "--period", "2026-10", "--workers", "0", "--db", db])
    assert first.exit_code == 0, first.output
    assert "2 accounts: 2 finalized, 0 already finalized, 0 failed" in first.output
    assert "2 accounts: 0 finalized, 2 already finalized, 0 failed" in second.output
    with open_book(db) as book:
        invoice_id = book.finalize_invoice("acme", "2026-10").id or ""
    explained = runner.invoke(app, ["invoice", "explain", invoice_id, "--db", db])
    assert explained.exit_code == 0, explained.output
    assert "credit -4.00 USD from grant" in explained.output
    assert "amount due 6.00 USD" in explained.output


def test_contract_amend_sets_a_term_commitment_and_show_lists_every_version(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.db"
    with open_book(db) as book:
        book.publish_price_book("default", "USD", PRICES, effective_at="2026-01-01T00:00:00+00:00")
        book.create_account("acme", currency="USD")
    terms = tmp_path / "terms.json"
    terms.write_text(
        '{"commit": {"rule": "min-50", "amount": "50"},'
        ' "term_commit": {"rule": "fy26", "amount": "12000", "start": "2026-01", "end": "2027-01"}}'
    )
    runner = CliRunner()
    amended = runner.invoke(app, ["contract", "amend", "acme", str(terms), "--effective-at",
                                  "2026-01-01T00:00:00+00:00", "--db", db])  # fmt: skip
    assert amended.exit_code == 0, amended.output
    assert "acme@v1 effective 2026-01-01T00:00:00+00:00" in amended.output
    assert "term 12000 over 2026-01 to 2027-01 (12 months, rule fy26)" in amended.output
    floats = tmp_path / "floats.json"
    floats.write_text('{"term_commit": {"rule": "fy26", "amount": 12000.5, "start": "2026-01", "end": "2027-01"}}')
    refused = runner.invoke(app, ["contract", "amend", "acme", str(floats), "--db", db])
    assert refused.exit_code == 2
    shown = runner.invoke(app, ["contract", "show", "acme", "--json", "--db", db])
    assert shown.exit_code == 0, shown.output
    assert '"term_commit": {\n        "amount": "12000"' in shown.output
    assert runner.invoke(app, ["contract", "show", "acme", "--db", db]).exit_code == 0


def test_invoice_reissue_bills_a_voided_period_again_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.db"
    with open_book(db) as book:
        book.publish_price_book("default", "USD", PRICES, effective_at="2026-01-01T00:00:00+00:00")
        book.create_account("acme", currency="USD")
        book.record_usage("acme", [{"event_id": "e1", "product": "api", "quantity": "1000",
                                    "occurred_at": "2026-10-10T12:00:00+00:00"}])  # fmt: skip
        invoice_id = book.finalize_invoice("acme", "2026-10").id or ""
    runner = CliRunner()
    early = runner.invoke(app, ["invoice", "reissue", invoice_id, "--reason", "too early", "--db", db])
    assert early.exit_code == 4  # a conflict: invoice_not_voided
    voided = runner.invoke(app, ["invoice", "void", invoice_id, "--reason", "wrong entity", "--db", db])
    assert voided.exit_code == 0, voided.output
    first = runner.invoke(app, ["invoice", "reissue", invoice_id, "--reason", "right entity", "--db", db])
    again = runner.invoke(app, ["invoice", "reissue", invoice_id, "--reason", "right entity", "--db", db])
    assert first.exit_code == again.exit_code == 0, first.output + again.output
    assert f"{invoice_id} re-issued as inv_" in first.output
    assert "(revision 2): amount due 10.00 USD" in first.output
    assert f"{invoice_id} already re-issued as" in again.output
    with open_book(db) as book:
        reissued = book.finalize_invoice("acme", "2026-10")
    assert (reissued.revision, reissued.id in first.output) == (2, True)
    explained = runner.invoke(app, ["invoice", "explain", reissued.id or "", "--db", db])
    assert f"revision 2: re-issues voided invoice {invoice_id} (right entity)" in explained.output
