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


def test_a_file_saved_with_a_byte_order_mark_and_crlf_lines_is_ingested_whole(store_url: str, tmp_path: Path) -> None:
    """Windows tools save UTF-8 with a BOM and CRLF; RFC 8259 lets a parser ignore the BOM, and
    rejecting line 1 as "invalid character (byte 0)" would leave the user guessing."""
    with open_book(store_url) as book:
        book.create_account("acme", currency="USD")
        book.define_meter("calls", event_type="api_call", aggregation="count")
        now = book.deps.clock.now()

        def saved(prefix: str) -> bytes:
            good = [
                {"key": f"{prefix}{i}", "account": "acme", "type": "api_call", "time": now.isoformat()}
                for i in range(3)
            ]
            return ("\ufeff" + "\r\n".join(json.dumps(e) for e in good) + "\r\n").encode()

        assert [r.status for r in book.ingest_ndjson(saved("lib")).results] == ["accepted"] * 3
    events = tmp_path / "events.ndjson"
    events.write_bytes(saved("cli"))
    result = CliRunner().invoke(app, ["ingest", str(events), "--db", store_url])
    assert result.exit_code == 0, result.output
    assert "accepted 3 · duplicate 0 · rejected 0" in result.output
