"""Column maps: where each normalised field lives in each export format.

One table per format, crosswalk from ``shared/research/cur_formats.md`` §1.2. Choices:

* **cost** is the invoice-basis, not amortised, cost: CUR ``UnblendedCost`` (what the
  research's credit queries sum; discounts, refunds and credits are their own negative
  lines) and FOCUS ``BilledCost`` (= CUR NetUnblendedCost ?? UnblendedCost). Summing either
  over every row of a period gives the invoice; credit rows carry the credit as a negative
  cost on that basis. FOCUS ``EffectiveCost`` (amortised) is not used: in the real FOCUS
  sample it differs from BilledCost on the credit row (-3.0 vs -2.6137), which FOCUS 1.2
  forbids for credits.
* **service** is CUR ``lineItem/ProductCode`` (e.g. ``AmazonEC2``), FOCUS ``ServiceName``.
* **usage account** is CUR ``UsageAccountId``; FOCUS ``SubAccountId``, falling back to
  ``BillingAccountId`` for providers without sub-accounts (that column is conditional).
* **promotion code**: no CUR or FOCUS release has one (research §1.4, §1.5). The FOCUS map
  lists ``x_PromotionCode`` / ``x_CreditId`` as *assumed* provider extension names (FOCUS
  allows ``x_`` columns); none is standard. A caller may name any column instead.
* **tags** and **cost categories**: one column per key in legacy CUR, a map in CUR 2.0, a
  JSON object in FOCUS (``Tags``; AWS's ``x_CostCategories``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from drawdown.importers.formats import ExportFormat


class KeyedLayout(StrEnum):
    """How a key/value family (tags, cost categories) is laid out in the file."""

    PREFIXED_COLUMNS = "prefixed_columns"
    """One column per key: ``resourceTags/user:team``, ``resource_tags_user_team``."""
    MAP_COLUMN = "map_column"
    """One MAP(VARCHAR, VARCHAR) column (CUR 2.0 Parquet) or its JSON text (CUR 2.0 CSV)."""
    JSON_COLUMN = "json_column"
    """One column holding a JSON object as text (FOCUS ``Tags``)."""


@dataclass(frozen=True, slots=True)
class KeyedColumns:
    """Where a key/value family lives and how raw keys become normalised keys.

    * A raw key starting with ``user_prefix`` is a user-defined tag and loses the prefix
      (``user:team`` → ``team``), unless what is left starts with ``system_prefix`` (then it
      keeps its raw key, so it can never shadow an AWS tag).
    * Any other raw key is kept as it is (AWS tags: ``aws:createdBy``, ``aws_created_by``).
    * A normalised key asked for in an aggregation names an AWS tag when it starts with
      ``system_prefix``, else the user tag: one lookup per key (map lookups are the costly
      part of a scan). A stray raw key that is neither user nor system is therefore seen by
      the row iterator but not by aggregations; real CUR keys always carry a prefix.
    * ``strip_keys`` trims spaces around JSON keys (the FOCUS sample has ``" org"``).
    """

    layout: KeyedLayout
    name: str
    """The column prefix (prefixed layout) or the column name (map / JSON layouts)."""
    user_prefix: str = ""
    system_prefix: str = ""
    strip_keys: bool = False

    def raw_key(self, key: str) -> str:
        """The raw key a normalised key is looked up under."""
        if not self.user_prefix or (self.system_prefix and key.startswith(self.system_prefix)):
            return key
        return self.user_prefix + key

    def normalised_key(self, raw: str) -> str:
        """The normalised key of a raw key (inverse of ``raw_key`` on user and AWS keys)."""
        key = raw.strip(" ") if self.strip_keys else raw
        if not self.user_prefix or not key.startswith(self.user_prefix):
            return key
        stripped = key[len(self.user_prefix) :]
        return key if self.system_prefix and stripped.startswith(self.system_prefix) else stripped


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Source column for every normalised field of one format (None: not in this format)."""

    export_format: ExportFormat
    billing_period_start: str
    billing_period_end: str
    usage_start: str
    usage_end: str
    payer_account_id: str
    usage_account_id: str
    charge_type: str
    service: str
    description: str
    cost: str
    currency: str
    payer_account_name: str | None
    usage_account_name: str | None
    invoice_id: str | None
    account_id_digits: int | None
    """Left-pad integer-typed account ids to this width (AWS: 12); None for FOCUS."""
    usage_account_falls_back_to_payer: bool
    """FOCUS ``SubAccountId`` is conditional: without it, the charge is the billing account's."""
    tags: KeyedColumns
    cost_categories: KeyedColumns
    promotion_code_columns: tuple[str, ...]
    extra_required: tuple[str, ...] = ()
    """Columns that must exist although no field reads them (FOCUS ChargeClass: 1.0+)."""

    def required(self) -> tuple[str, ...]:
        """Columns without which the file cannot be imported."""
        usage_account = () if self.usage_account_falls_back_to_payer else (self.usage_account_id,)
        return (
            self.billing_period_start,
            self.usage_start,
            self.payer_account_id,
            *usage_account,
            self.charge_type,
            self.cost,
            self.currency,
            self.service,
            self.description,
            *self.extra_required,
        )


CUR1_MAP = ColumnMap(
    export_format=ExportFormat.CUR1,
    billing_period_start="bill/BillingPeriodStartDate",
    billing_period_end="bill/BillingPeriodEndDate",
    usage_start="lineItem/UsageStartDate",
    usage_end="lineItem/UsageEndDate",
    payer_account_id="bill/PayerAccountId",
    usage_account_id="lineItem/UsageAccountId",
    charge_type="lineItem/LineItemType",
    service="lineItem/ProductCode",
    description="lineItem/LineItemDescription",
    cost="lineItem/UnblendedCost",
    currency="lineItem/CurrencyCode",
    payer_account_name=None,
    usage_account_name=None,
    invoice_id="bill/InvoiceId",
    account_id_digits=12,
    usage_account_falls_back_to_payer=False,
    tags=KeyedColumns(KeyedLayout.PREFIXED_COLUMNS, "resourceTags/", user_prefix="user:", system_prefix="aws:"),
    cost_categories=KeyedColumns(KeyedLayout.PREFIXED_COLUMNS, "costCategory/"),
    promotion_code_columns=(),
)

CUR1_ATHENA_MAP = ColumnMap(
    export_format=ExportFormat.CUR1_ATHENA,
    billing_period_start="bill_billing_period_start_date",
    billing_period_end="bill_billing_period_end_date",
    usage_start="line_item_usage_start_date",
    usage_end="line_item_usage_end_date",
    payer_account_id="bill_payer_account_id",
    usage_account_id="line_item_usage_account_id",
    charge_type="line_item_line_item_type",
    service="line_item_product_code",
    description="line_item_line_item_description",
    cost="line_item_unblended_cost",
    currency="line_item_currency_code",
    payer_account_name=None,
    usage_account_name=None,
    invoice_id="bill_invoice_id",
    account_id_digits=12,
    usage_account_falls_back_to_payer=False,
    tags=KeyedColumns(KeyedLayout.PREFIXED_COLUMNS, "resource_tags_", user_prefix="user_", system_prefix="aws_"),
    cost_categories=KeyedColumns(KeyedLayout.PREFIXED_COLUMNS, "cost_category_"),
    promotion_code_columns=(),
)

# CUR 2.0 names its columns as the Athena CUR 1.0 export does, adds account names, and keeps
# tags and cost categories in map columns.
CUR2_MAP = replace(
    CUR1_ATHENA_MAP,
    export_format=ExportFormat.CUR2,
    payer_account_name="bill_payer_account_name",
    usage_account_name="line_item_usage_account_name",
    tags=KeyedColumns(KeyedLayout.MAP_COLUMN, "resource_tags", user_prefix="user_", system_prefix="aws_"),
    cost_categories=KeyedColumns(KeyedLayout.MAP_COLUMN, "cost_category"),
)

FOCUS_MAP = ColumnMap(
    export_format=ExportFormat.FOCUS,
    billing_period_start="BillingPeriodStart",
    billing_period_end="BillingPeriodEnd",
    usage_start="ChargePeriodStart",
    usage_end="ChargePeriodEnd",
    payer_account_id="BillingAccountId",
    usage_account_id="SubAccountId",
    charge_type="ChargeCategory",
    service="ServiceName",
    description="ChargeDescription",
    cost="BilledCost",
    currency="BillingCurrency",
    payer_account_name="BillingAccountName",
    usage_account_name="SubAccountName",
    invoice_id="InvoiceId",
    account_id_digits=None,
    usage_account_falls_back_to_payer=True,
    tags=KeyedColumns(KeyedLayout.JSON_COLUMN, "Tags", strip_keys=True),
    cost_categories=KeyedColumns(KeyedLayout.JSON_COLUMN, "x_CostCategories", strip_keys=True),
    promotion_code_columns=("x_PromotionCode", "x_CreditId"),
    extra_required=("ChargeClass",),
)

COLUMN_MAPS = {column_map.export_format: column_map for column_map in (CUR1_MAP, CUR1_ATHENA_MAP, CUR2_MAP, FOCUS_MAP)}


def column_map_for(export_format: ExportFormat) -> ColumnMap:
    """The column map of a detected format."""
    return COLUMN_MAPS[export_format]
