"""The seam between the importers and the FinOps services: a file in, an ``ExportBatch`` out.

Services may not import ``drawdown.importers`` (it sits beside storage, above them), so this
module, at the level of ``bootstrap``, reads a file with the importers and hands the services
plain domain values. It asks the rules which tag and cost-category keys to group spend by, and
maps spend to nodes with them while DuckDB still holds the groups.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from drawdown.domain.finops import (
    CreditSighting,
    ExportBatch,
    MatchKind,
    SpendAttributes,
    SpendLine,
    match,
    rule_keys,
)
from drawdown.importers import AllocationKey, FileFingerprint, ProgressCallback, fingerprint_file, summarise_export
from drawdown.services import finops
from drawdown.services.finops import ImportReport
from drawdown.services.ports import Deps

NO_SERVICE = "(none)"


def import_file(
    deps: Deps,
    path: Path,
    *,
    actor: str,
    export_date: date | None = None,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import one export. A file whose bytes were imported before is not even read again."""
    identity = fingerprint_file(path)
    found = finops.imported(deps, identity.sha256)
    if found is not None:
        return ImportReport(found, True, {}, 0, 0, 0, 0)
    batch = read_batch(deps, path, identity, export_date=export_date, on_progress=on_progress)
    return finops.record_import(deps, batch, actor=actor)


def read_batch(
    deps: Deps,
    path: Path,
    identity: FileFingerprint,
    *,
    export_date: date | None = None,
    on_progress: ProgressCallback | None = None,
) -> ExportBatch:
    """Summarise one export, mapping its spend to nodes by the rules in force now.

    DuckDB sums spend per node: the rules see each distinct (usage account, tag values,
    cost-category values) of the file once, through ``summarise_export(allocate=…)``.
    """
    rules = finops.mapping_rules(deps)

    def node_of(key: AllocationKey) -> str:
        return match(rules, SpendAttributes(key.usage_account_id, dict(key.tags), dict(key.cost_categories)))

    summary = summarise_export(
        path, tag_keys=rule_keys(rules, MatchKind.TAG), cost_category_keys=rule_keys(rules, MatchKind.COST_CATEGORY),
        export_date=export_date, on_progress=on_progress, allocate=node_of,
    )  # fmt: skip
    periods = {
        (p.billing_period_start, p.currency or ""): {
            "rows": str(p.row_count), "cost": str(p.cost), "credit_applied": str(p.credit_applied),
        }
        for p in summary.periods
    }  # fmt: skip
    spend = tuple(
        SpendLine(
            period_start=a.billing_period_start, node_id=a.label, service=a.service or NO_SERVICE,
            currency=a.currency or "", amount=a.cost_before_credits,
        )
        for a in summary.allocated
    )  # fmt: skip
    credits = tuple(
        CreditSighting(
            payer_account_id=c.key.payer_account_id, usage_account_id=c.key.usage_account_id,
            currency=c.key.currency, key_kind=str(c.key.kind), key_value=c.key.value, description=c.description,
            applied=c.applied_amount, billing_periods=c.billing_periods, issue_date=c.issue_date,
        )
        for c in summary.credits
    )  # fmt: skip
    return ExportBatch(
        sha256=identity.sha256, size_bytes=identity.size_bytes, file_name=path.name,
        format=str(summary.export.format), row_count=summary.row_count, periods=periods, spend=spend, credits=credits,
    )  # fmt: skip
