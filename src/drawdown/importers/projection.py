"""The normalised projection: SQL turning one format's columns into one shape, in two steps.

Each normalised field has a **raw** expression over the source columns and a **finish**
function applied to it. The row iterator selects ``finish(raw)``. The aggregation groups by
the cheap raw values row by row and applies ``finish`` once per group afterwards, so text
clean-up never runs ten million times. Conversions done by ``finish`` (or, for amounts and
usage timestamps, which are aggregated, already by ``raw``):

* amounts → exact decimals. Text converts exactly to ``DECIMAL(38, 18)``; a stored DOUBLE is
  rounded to ``DECIMAL(18, 10)``, which recovers the decimal CUR wrote (see ``limits``). No
  arithmetic happens in float; a non-numeric amount fails the import instead of becoming
  NULL. ``finish`` casts either to ``DECIMAL(38, 18)``.
* timestamps → ``TIMESTAMP`` holding UTC wall time (the session runs in UTC, so zone-less
  text such as ``2024-09-01 00:00:00`` reads as UTC; ``...Z`` and offsets are converted).
* text → trimmed, blank as NULL; integer-typed AWS account ids get their 12 digits back.
* tags / cost categories → raw ``{key, value}`` entries for the iterator (normalised in
  Python by :func:`normalise_keyed`); one value per requested key for aggregations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from drawdown.importers.columns import (
    ColumnMap,
    KeyedColumns,
    KeyedLayout,
    column_map_for,
)
from drawdown.importers.engine import quote_ident, quote_literal
from drawdown.importers.errors import MissingColumns
from drawdown.importers.formats import DetectedExport
from drawdown.importers.limits import (
    AMOUNT_PRECISION,
    AMOUNT_SCALE,
    DESCRIPTION_CHARS_MAX,
    FLOAT_AMOUNT_PRECISION,
    FLOAT_AMOUNT_SCALE,
    TAGS_PER_ITEM_MAX,
)

AMOUNT_SQL_TYPE = f"DECIMAL({AMOUNT_PRECISION}, {AMOUNT_SCALE})"
NULL_TEXT = "CAST(NULL AS VARCHAR)"
_FLOAT_TYPES = frozenset({"DOUBLE", "FLOAT", "REAL"})
_INTEGER_TYPES = frozenset({"BIGINT", "INTEGER", "HUGEINT", "UBIGINT", "UINTEGER"})
_TIMESTAMP_TYPES = frozenset({"TIMESTAMP", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP_S"})
_EMPTY_ENTRIES = "CAST([] AS STRUCT(key VARCHAR, value VARCHAR)[])"

Ref = Callable[[str], str]
"""Gives the SQL of a field's raw value in the current query (source column or alias)."""

FIELDS = (
    "billing_period_start",
    "billing_period_end",
    "usage_start",
    "usage_end",
    "payer_account_id",
    "payer_account_name",
    "usage_account_id",
    "usage_account_name",
    "charge_type",
    "service",
    "description",
    "cost",
    "currency",
    "invoice_id",
    "promotion_code",
    "tags",
    "cost_categories",
)
"""Normalised fields, in ``LineItem`` order."""


@dataclass(frozen=True, slots=True)
class Projection:
    """Raw and finishing SQL for every normalised field of one detected file."""

    export: DetectedExport
    column_map: ColumnMap
    raw: Mapping[str, str]
    finishers: Mapping[str, Callable[[Ref], str]]

    def finished(self, field: str, ref: Ref | None = None) -> str:
        """SQL of a normalised field; ``ref`` resolves raw values (default: the source)."""
        return self.finishers[field](ref or self.raw.__getitem__)

    def keyed_value_sql(self, family: str, key: str) -> str:
        """Raw SQL for one normalised tag / cost-category key's value (NULL when absent)."""
        keyed = self.column_map.tags if family == "tags" else self.column_map.cost_categories
        return _keyed_value_sql(self.export, keyed, key)


def build_projection(export: DetectedExport, promotion_code_column: str | None = None) -> Projection:
    """The normalised projection of a detected file; checks required columns first."""
    column_map = column_map_for(export.format)
    missing = tuple(c for c in column_map.required() if export.column_type(c) is None)
    if promotion_code_column and export.column_type(promotion_code_column) is None:
        missing += (promotion_code_column,)
    if missing:
        raise MissingColumns(export.path, export.format.value, missing)
    promo = promotion_code_column or _first_present(export, column_map.promotion_code_columns)
    raw, finishers = _fields(export, column_map, promo)
    return Projection(export, column_map, raw, finishers)


def _first_present(export: DetectedExport, names: Iterable[str]) -> str | None:
    return next((name for name in names if export.column_type(name) is not None), None)


def _fields(
    export: DetectedExport, cmap: ColumnMap, promo: str | None
) -> tuple[dict[str, str], dict[str, Callable[[Ref], str]]]:
    sources = {
        "billing_period_start": cmap.billing_period_start,
        "billing_period_end": cmap.billing_period_end,
        "payer_account_id": cmap.payer_account_id,
        "payer_account_name": cmap.payer_account_name,
        "usage_account_id": cmap.usage_account_id,
        "usage_account_name": cmap.usage_account_name,
        "charge_type": cmap.charge_type,
        "service": cmap.service,
        "description": cmap.description,
        "currency": cmap.currency,
        "invoice_id": cmap.invoice_id,
        "promotion_code": promo,
    }
    raw = {field: _column_or_null(export, column) for field, column in sources.items()}
    raw |= {
        "usage_start": _timestamp(export, cmap.usage_start, quote_ident(cmap.usage_start)),
        "usage_end": _timestamp(export, cmap.usage_end, quote_ident(cmap.usage_end)),
        "cost": _amount(export, cmap.cost),
        "tags": _entries_sql(export, cmap.tags),
        "cost_categories": _entries_sql(export, cmap.cost_categories),
    }
    return raw, _finishers(export, cmap, sources)


def _finishers(
    export: DetectedExport, cmap: ColumnMap, sources: Mapping[str, str | None]
) -> dict[str, Callable[[Ref], str]]:
    def text(field: str) -> Callable[[Ref], str]:
        return lambda ref: _text(ref(field))

    def timestamp(field: str) -> Callable[[Ref], str]:
        return lambda ref: _timestamp(export, sources[field], ref(field))

    def account(field: str) -> Callable[[Ref], str]:
        return lambda ref: _account(export, sources[field], ref(field), cmap.account_id_digits)

    def usage_account(ref: Ref) -> str:
        own = _account(export, cmap.usage_account_id, ref("usage_account_id"), cmap.account_id_digits)
        if not cmap.usage_account_falls_back_to_payer:
            return own
        return f"coalesce({own}, {_text(ref('payer_account_id'))})"

    def identity(field: str) -> Callable[[Ref], str]:
        return lambda ref: ref(field)

    finishers = {field: text(field) for field in sources}
    finishers |= {
        "billing_period_start": timestamp("billing_period_start"),
        "billing_period_end": timestamp("billing_period_end"),
        "payer_account_id": account("payer_account_id"),
        "usage_account_id": usage_account,
        "description": lambda ref: f"left({_text(ref('description'))}, {DESCRIPTION_CHARS_MAX})",
    }
    finishers |= {field: identity(field) for field in ("usage_start", "usage_end", "tags", "cost_categories")}
    finishers["cost"] = lambda ref: f"CAST({ref('cost')} AS {AMOUNT_SQL_TYPE})"
    return finishers


def amount_text_sql(amount: str) -> str:
    """An exact DECIMAL as its shortest decimal text ("2.6137", "0", "-5"), for ``Decimal()``.

    Trimming trailing zeros here, vectorised, is much cheaper than normalising each
    ``Decimal`` in Python; the value is unchanged.
    """
    text = f"CAST({amount} AS VARCHAR)"
    return f"CASE WHEN {amount} = 0 THEN '0' ELSE rtrim(rtrim({text}, '0'), '.') END"


def _column_or_null(export: DetectedExport, column: str | None) -> str:
    if column is None or export.column_type(column) is None:
        return NULL_TEXT
    return quote_ident(column)


def _text(value: str) -> str:
    """Trimmed text, NULL when blank."""
    return f"nullif(trim(CAST({value} AS VARCHAR)), '')"


def _account(export: DetectedExport, column: str | None, value: str, digits: int | None) -> str:
    """An account id as text; integer-typed columns get their leading zeros back."""
    duck_type = export.column_type(column) if column else None
    if digits is None or duck_type not in _INTEGER_TYPES:
        return _text(value)
    return f"lpad(CAST({value} AS VARCHAR), {digits}, '0')"


def _timestamp(export: DetectedExport, column: str | None, value: str) -> str:
    duck_type = export.column_type(column) if column else None
    if duck_type is None:
        return "CAST(NULL AS TIMESTAMP)"
    if duck_type in _TIMESTAMP_TYPES:
        return f"CAST({value} AS TIMESTAMP)"
    # Text, DATE and TIMESTAMPTZ go through TIMESTAMPTZ; in the UTC session the second
    # cast yields UTC wall time.
    return f"CAST(CAST({value} AS TIMESTAMPTZ) AS TIMESTAMP)"


def _amount(export: DetectedExport, column: str) -> str:
    duck_type = export.column_type(column)
    ident = quote_ident(column)
    if duck_type in _FLOAT_TYPES:
        return f"CAST({ident} AS DECIMAL({FLOAT_AMOUNT_PRECISION}, {FLOAT_AMOUNT_SCALE}))"
    if duck_type == "VARCHAR":
        return f"CAST(nullif(trim({ident}), '') AS {AMOUNT_SQL_TYPE})"
    return f"CAST({ident} AS {AMOUNT_SQL_TYPE})"


def _entries_sql(export: DetectedExport, keyed: KeyedColumns) -> str:
    """All non-blank raw (key, value) entries of a keyed family, as LIST(STRUCT(key, value))."""
    if keyed.layout is KeyedLayout.PREFIXED_COLUMNS:
        columns = [name for name, _ in export.columns if name.startswith(keyed.name)]
        if not columns:
            return _EMPTY_ENTRIES
        entries = ", ".join(
            f"struct_pack(key := {quote_literal(name[len(keyed.name) :])},"
            f" value := CAST({quote_ident(name)} AS VARCHAR))"
            for name in columns[:TAGS_PER_ITEM_MAX]
        )
        return f"list_filter([{entries}], lambda e: e.value IS NOT NULL AND e.value <> '')"
    source = _map_sql(export, keyed.name)
    if source is None:
        return _EMPTY_ENTRIES
    return f"coalesce(list_slice(map_entries({source}), 1, {TAGS_PER_ITEM_MAX}), {_EMPTY_ENTRIES})"


def _map_sql(export: DetectedExport, column: str) -> str | None:
    """A MAP(VARCHAR, VARCHAR) expression for a map column or JSON-object text column."""
    duck_type = export.column_type(column)
    if duck_type is None:
        return None
    if duck_type.startswith("MAP("):
        return (
            quote_ident(column)
            if duck_type == "MAP(VARCHAR, VARCHAR)"
            else f"CAST({quote_ident(column)} AS MAP(VARCHAR, VARCHAR))"
        )
    # JSON text: anything that is not a JSON object (the literal NULL, garbage) reads as no
    # tags; tags are allocation hints, never money, so they are not worth failing over.
    return f"TRY_CAST(TRY_CAST({quote_ident(column)} AS JSON) AS MAP(VARCHAR, VARCHAR))"


def _keyed_value_sql(export: DetectedExport, keyed: KeyedColumns, key: str) -> str:
    """One normalised key's raw value (blank → NULL happens per group, in stage 2).

    See ``KeyedColumns`` for the lookup rules; JSON keys with stray spaces are matched
    trimmed, first non-blank entry first, as ``normalise_keyed`` does."""
    raw_key = keyed.raw_key(key)
    if keyed.layout is KeyedLayout.PREFIXED_COLUMNS:
        column = keyed.name + raw_key
        if export.column_type(column) is None:
            return NULL_TEXT
        return f"CAST({quote_ident(column)} AS VARCHAR)"
    source = _map_sql(export, keyed.name)
    if source is None:
        return NULL_TEXT
    if not keyed.strip_keys:
        return f"{source}[{quote_literal(raw_key)}]"
    match = f"trim(e.key) = {quote_literal(raw_key)} AND e.value <> ''"
    return f"list_filter(map_entries({source}), lambda e: {match})[1].value"


def normalise_keyed(entries: Iterable[Mapping[str, str | None]], keyed: KeyedColumns) -> dict[str, str]:
    """Raw (key, value) entries → {normalised key: value}, mirroring ``keyed_value_sql``.

    Blank values are dropped; when two raw keys normalise alike, the user tag wins, then the
    first entry.
    """
    user: dict[str, str] = {}
    other: dict[str, str] = {}
    for entry in entries:
        raw, value = entry["key"], entry["value"]
        if raw is None or not value:
            continue
        key = keyed.normalised_key(raw)
        is_user = bool(keyed.user_prefix) and key != raw.strip(" ")
        (user if is_user else other).setdefault(key, value)
    return other | user
