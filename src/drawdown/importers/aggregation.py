"""The SQL of the one-scan aggregation, in two stages.

Stage 1 reads the file once. Per row it does only what must happen per row — convert the
amount and usage times, look up the requested tag keys — and groups by the *raw* values of
billing period, payer, usage account (and name), service, line item type, currency, the
requested keys and, for credit rows only, description and promotion code.

Stage 2 runs on stage 1's few thousand groups: it applies the projection's ``finish`` (trim,
blank → NULL, timestamp and account clean-up), tags each group with its ``ChargeKind``
(classified in Python from the distinct raw types), and re-aggregates because two raw
spellings may normalise alike. Spend, period and credit queries read stage 2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from drawdown.importers.charges import ChargeKind, credit_predicate_sql
from drawdown.importers.engine import quote_literal
from drawdown.importers.projection import NULL_TEXT, Projection, amount_text_sql

STAGE1 = "import_stage1"
STAGE2 = "import_stage2"
SPEND = "import_spend"
LABELS = "import_labels"
"""The caller's label per allocation key, registered from Python (see ``allocated_sql``)."""

_KEYS = (
    "billing_period_start",
    "billing_period_end",
    "payer_account_id",
    "usage_account_id",
    "usage_account_name",
    "charge_type",
    "service",
    "currency",
)


def key_columns(key_count: int) -> list[str]:
    """Aliases of the requested tag values, then cost-category values."""
    return [f"key_{i}" for i in range(key_count)]


def stage1_sql(
    projection: Projection,
    tag_keys: Sequence[str],
    cost_category_keys: Sequence[str],
    credit_types: Sequence[str] | None,
) -> str:
    """Group the file by raw keys. ``credit_types``: raw spellings of Credit, when known."""
    raw = projection.raw
    charge_type = raw["charge_type"]
    if credit_types is None:
        is_credit = credit_predicate_sql(charge_type)
    elif credit_types:
        is_credit = f"{charge_type} IN ({', '.join(quote_literal(t) for t in credit_types)})"
    else:
        is_credit = "false"
    keys = [f"{raw[name]} AS {name}" for name in _KEYS]
    lookups = [projection.keyed_value_sql("tags", k) for k in tag_keys]
    lookups += [projection.keyed_value_sql("cost_categories", k) for k in cost_category_keys]
    keys += [f"{sql} AS {alias}" for sql, alias in zip(lookups, key_columns(len(lookups)), strict=True)]
    keys += [f"CASE WHEN {is_credit} THEN {raw['description']} END AS credit_description"]
    promo = raw["promotion_code"]
    promo_sql = promo if promo == NULL_TEXT else f"CASE WHEN {is_credit} THEN {promo} END"
    keys += [f"{promo_sql} AS credit_promotion_code"]
    return f"""
        CREATE TEMP TABLE {STAGE1} AS
        SELECT {", ".join(keys)},
            sum({raw["cost"]}) AS cost,
            count(*) AS row_count,
            min({raw["usage_start"]}) AS first_usage_start,
            max({raw["usage_start"]}) AS last_usage_start,
            max({raw["usage_end"]}) AS last_usage_end
        FROM {projection.export.source_sql}
        GROUP BY ALL
    """


def stage2_sql(projection: Projection, kinds: Mapping[str | None, ChargeKind], key_count: int) -> str:
    """Normalise stage 1's groups and give each its charge kind."""
    aliases = {"description": "credit_description", "promotion_code": "credit_promotion_code"}

    def ref(field: str) -> str:  # qualified: a stage-1 column, never a stage-2 alias
        return f"{STAGE1}.{aliases.get(field, field)}"

    fields = [f"{projection.finished(name, ref)} AS {name}" for name in _KEYS]
    fields += [f"{projection.finished('description', ref)} AS credit_description"]
    fields += [f"{projection.finished('promotion_code', ref)} AS credit_promotion_code"]
    fields += [f"nullif({STAGE1}.{column}, '') AS {column}" for column in key_columns(key_count)]
    fields += [f"{_kind_case(kinds)} AS charge_kind"]
    fields += [f"{projection.finished('cost', ref)} AS cost"]
    fields += [f"{STAGE1}.{name}" for name in ("row_count", "first_usage_start", "last_usage_start", "last_usage_end")]
    return f"CREATE TEMP VIEW {STAGE2} AS SELECT {', '.join(fields)} FROM {STAGE1}"


def _kind_case(kinds: Mapping[str | None, ChargeKind]) -> str:
    whens = [
        f"WHEN {STAGE1}.charge_type = {quote_literal(raw)} THEN '{kind.value}'" for raw, kind in kinds.items() if raw
    ]
    if not whens:
        return f"'{ChargeKind.OTHER.value}'"
    return f"CASE {' '.join(whens)} ELSE '{ChargeKind.OTHER.value}' END"


def spend_sql(key_count: int) -> str:
    """Spend per period, payer, usage account, service, currency and requested keys."""
    keys = ", ".join(key_columns(key_count))
    by_kind = ", ".join(f"{amount_text_sql(_kind_sum(kind))} AS cost_{kind.value}" for kind in ChargeKind)
    group = f"billing_period_start, payer_account_id, usage_account_id, service, currency{', ' if keys else ''}{keys}"
    return f"""
        CREATE TEMP TABLE {SPEND} AS
        SELECT {group}, max(usage_account_name) AS usage_account_name,
            {amount_text_sql("sum(cost)")} AS cost, CAST(sum(row_count) AS BIGINT) AS row_count, {by_kind}
        FROM {STAGE2}
        GROUP BY {group}
    """


def _kind_sum(kind: ChargeKind) -> str:
    return f"sum(cost) FILTER (WHERE charge_kind = '{kind.value}')"


def periods_sql() -> str:
    """One row per (billing period, currency)."""
    return f"""
        SELECT billing_period_start, currency,
            max(billing_period_end) AS billing_period_end,
            CAST(sum(row_count) AS BIGINT) AS row_count,
            {amount_text_sql("sum(cost)")} AS cost,
            {amount_text_sql(_kind_sum(ChargeKind.CREDIT))} AS credit_cost,
            min(first_usage_start) AS first_usage_start,
            max(last_usage_end) AS last_usage_end
        FROM {STAGE2}
        GROUP BY billing_period_start, currency
        ORDER BY billing_period_start, currency NULLS FIRST
    """


def credits_sql() -> str:
    """Credit rows summed per period, accounts, currency, description, code and service."""
    group = (
        "billing_period_start, payer_account_id, usage_account_id, currency,"
        " credit_description, credit_promotion_code, service"
    )
    return f"""
        SELECT {group}, max(usage_account_name) AS usage_account_name,
            {amount_text_sql("sum(cost)")} AS cost, CAST(sum(row_count) AS BIGINT) AS row_count,
            min(first_usage_start) AS first_usage_start,
            max(last_usage_start) AS last_usage_start
        FROM {STAGE2}
        WHERE charge_kind = '{ChargeKind.CREDIT.value}'
        GROUP BY {group}
    """


def ordered_spend_sql(key_count: int) -> str:
    """The spend table in a stable order."""
    keys = "".join(f", {column} NULLS FIRST" for column in key_columns(key_count))
    return (
        f"SELECT * FROM {SPEND} ORDER BY billing_period_start, payer_account_id NULLS FIRST,"
        f" usage_account_id NULLS FIRST, service NULLS FIRST, currency NULLS FIRST{keys}"
    )


def allocation_keys_sql(key_count: int) -> str:
    """The distinct (usage account, requested key values) of the spend, in a stable order."""
    columns = ", ".join(["usage_account_id", *key_columns(key_count)])
    order = ", ".join(f"{column} NULLS FIRST" for column in ["usage_account_id", *key_columns(key_count)])
    return f"SELECT DISTINCT {columns} FROM {STAGE2} ORDER BY {order}"


def allocated_sql(key_count: int) -> str:
    """Spend per period, label (from ``LABELS``), service and currency.

    Joins each stage-2 group to its allocation key's label, NULL matching NULL; every group
    has exactly one label, so every row is counted once.
    """
    on = " AND ".join(
        f"{STAGE2}.{column} IS NOT DISTINCT FROM {LABELS}.{column}"
        for column in ["usage_account_id", *key_columns(key_count)]
    )
    group = "billing_period_start, label, service, currency"
    credit = _kind_sum(ChargeKind.CREDIT)
    return f"""
        SELECT {group}, {amount_text_sql("sum(cost)")} AS cost, {amount_text_sql(credit)} AS credit_cost,
            CAST(sum(row_count) AS BIGINT) AS row_count
        FROM {STAGE2} JOIN {LABELS} ON {on}
        GROUP BY {group}
        ORDER BY billing_period_start, label, service NULLS FIRST, currency NULLS FIRST
    """
