"""``drawdown finops …`` end to end on the real FOCUS sample (its one real credit)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from drawdown.cli.main import app
from tests.importers.samples import FOCUS_SAMPLE


def test_import_queue_allocate_and_report_through_the_cli(store_url: str) -> None:
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["finops", *args, "--db", store_url])
        assert result.exit_code == 0, result.output
        return result.output

    run("nodes", "--add", "eng", "--level", "business_unit", "--name", "Engineering")
    run("nodes", "--add", "platform", "--level", "department", "--parent", "eng")
    run(
        "rules",
        "--add",
        "atlas",
        "--kind",
        "tag",
        "--key",
        "business_unit",
        "--value",
        "ViennaAI",
        "--node",
        "platform",
    )
    first = run("import", str(FOCUS_SAMPLE))
    again = run("import", str(FOCUS_SAMPLE))
    (queued,) = json.loads(run("queue", "--format", "json"))
    allocated = run("allocate", queued["id"], "--node", "eng", "--amount", "2.6137", "--end-date", "2025-09-30",
                    "--reason", "OSS credits", "--reference", "MAP-1", "--format", "json")  # fmt: skip
    report = json.loads(run("report", "--format", "json"))
    net_csv = run("report", "--format", "csv")

    assert "2024-09 USD new" in first
    assert "already imported" in again
    assert (queued["account"], queued["applied"], queued["issued"]) == ("11353890204", "2.6137", "2024-09-30")
    (row,) = json.loads(allocated)
    assert (row["node"], row["amount"], row["reference"], row["queue"]) == ("eng", "2.6137", "MAP-1", "allocated")
    assert report["unallocated"] == []
    nodes = {r["node"] for r in report["net_cost"]}
    assert {"eng", "platform", "unallocated"} <= nodes
    tagged = [r for r in report["net_cost"] if r["node"] == "platform"]  # business_unit = ViennaAI
    assert tagged
    assert all(r["spend"] not in ("0", "0.00") for r in tagged)
    assert net_csv.splitlines()[0] == "node,level,period,currency,spend,credits,net"
