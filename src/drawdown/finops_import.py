"""The seam between the importers and the FinOps services: a file in, an ``ExportBatch`` out.

Services may not import ``drawdown.importers`` (it sits beside storage, above them), so this
module, at the level of ``bootstrap``, reads a file with the importers and hands the services
plain domain values. It asks the rules which tag and cost-category keys to group spend by.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from drawdown.domain.finops import CreditSighting, ExportBatch, MatchKind, SpendAttributes, SpendLine, rule_keys
from drawdown.importers import ChargeKind, FileFingerprint, ProgressCallback, fingerprint_file, summarise_export
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
    """Summarise one export, grouping by the tag and cost-category keys the rules use."""
    rules = finops.mapping_rules(deps)
    tag_keys = rule_keys(rules, MatchKind.TAG)
    category_keys = rule_keys(rules, MatchKind.COST_CATEGORY)
    summary = summarise_export(
        path, tag_keys=tag_keys, cost_category_keys=category_keys, export_date=export_date, on_progress=on_progress
    )
    periods = {
        (p.billing_period_start, p.currency or ""): {
            "rows": str(p.row_count), "cost": str(p.cost), "credit_applied": str(p.credit_applied),
        }
        for p in summary.periods
    }  # fmt: skip
    spend = tuple(
        SpendLine(
            period_start=g.billing_period_start, service=g.service or NO_SERVICE, currency=g.currency or "",
            amount=g.cost - g.cost_of(ChargeKind.CREDIT),
            attributes=SpendAttributes(g.usage_account_id, dict(g.tags), dict(g.cost_categories)),
        )
        for g in summary.spend
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
