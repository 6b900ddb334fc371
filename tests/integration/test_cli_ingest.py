"""``drawdown ingest FILE.ndjson``: streams the file in batches and reports every line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from drawdown.book import open_book
from drawdown.cli.main import app


def test_ingest_streams_batches_reports_rejects_and_is_safe_to_rerun(store_url: str, tmp_path: Path) -> None:
    with open_book(store_url) as book:
        book.create_account("acme", currency="USD")
        book.define_meter("calls", event_type="api_call", aggregation="count")
        now = book.deps.clock.now()
    events = tmp_path / "events.ndjson"
    good = [{"key": f"k{i}", "account": "acme", "type": "api_call", "time": now.isoformat()} for i in range(25)]
    lines = [json.dumps(e) for e in good[:10]] + ["{not json", ""] + [json.dumps(e) for e in good[10:]]
    events.write_text("\n".join(lines) + "\n")
    rejects = tmp_path / "rejects.ndjson"
    args = ["ingest", str(events), "--batch", "7", "--db", store_url, "--rejects", str(rejects)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 2, first.output
    assert "accepted 25 · duplicate 0 · rejected 1" in first.output
    assert [json.loads(line)["line"] for line in rejects.read_text().splitlines()] == [11]
    again = CliRunner().invoke(app, args)
    assert "accepted 0 · duplicate 25 · rejected 1" in again.output
