"""The relational schema: the one source for Alembic migrations.

Instants are BIGINT microseconds since the epoch (UTC); amounts are BIGINT units at the
unit's scale; structured fields are canonical JSON text. ``ledger_transactions`` and
``ledger_entries`` are append-only (database triggers refuse UPDATE and DELETE); the
``*_balances`` and ``balance_checkpoints`` tables are projections of them that can be
rebuilt from the entries at any time and change only the cost of reading a balance.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

ID = String(64)

units = Table(
    "units",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("scale", Integer, nullable=False),
    Column("minor_digits", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("currency", String(32), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("parent_id", ID, ForeignKey("accounts.id"), nullable=True),
    Column("drawdown_policy", String(16), nullable=False),
    Column("pool_caps", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

grants = Table(
    "grants",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("unit", String(32), nullable=False),
    Column("amount_units", BigInteger, nullable=False),
    Column("source", String(16), nullable=False),
    Column("effective_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("priority", Integer, nullable=False),
    Column("scope_kind", String(16), nullable=False),
    Column("scope_category", String(16), nullable=True),
    Column("scope_products", Text, nullable=False),
    Column("cost_basis", String(48), nullable=False),
    Column("cap_units", BigInteger, nullable=True),
    Column("cap_period", String(16), nullable=True),
    Column("invoice_cap_units", BigInteger, nullable=True),
    Column("reason_code", String(64), nullable=False),
    Column("issuer", String(128), nullable=False),
    Column("external_ref", String(255), nullable=True),
    Column("metadata", Text, nullable=False),
    Column("created_seq", BigInteger, nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_grants_account_unit", "account_id", "unit"),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", ID, nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("fingerprint", String(64), nullable=False),
    Column("effective_at", BigInteger, nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("links", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("tx_seq", BigInteger, ForeignKey("ledger_transactions.seq"), nullable=False),
    Column("leg", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("account_id", ID, nullable=False),
    Column("unit", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("grant_id", ID, nullable=True),
    Column("owner_id", ID, nullable=True),
    Column("detail", Text, nullable=True),
    Column("effective_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("tx_seq", "leg"),
    Index("ix_entries_account_time", "account_id", "unit", "effective_at"),
    Index("ix_entries_owner_time", "owner_id", "unit", "effective_at"),
    Index("ix_entries_grant", "grant_id", "kind", "effective_at"),
)

ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

grant_balances = Table(
    "grant_balances",
    metadata,
    Column("grant_id", ID, primary_key=True),
    Column("account_id", ID, nullable=False),
    Column("unit", String(32), nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("used", BigInteger, nullable=False),
    Column("held", BigInteger, nullable=False),
    Column("expired", BigInteger, nullable=False),
    Column("voided", BigInteger, nullable=False),
    Column("voided_at", BigInteger, nullable=True),
    Column("expires_at", BigInteger, nullable=True),
    Index("ix_grant_balances_account", "account_id", "unit"),
    Index("ix_grant_balances_expiry", "expires_at"),
)

account_balances = Table(
    "account_balances",
    metadata,
    Column("account_id", ID, nullable=False),
    Column("unit", String(32), nullable=False),
    Column("issued", BigInteger, nullable=False),
    Column("hold", BigInteger, nullable=False),
    Column("consumed", BigInteger, nullable=False),
    Column("expired", BigInteger, nullable=False),
    Column("voided", BigInteger, nullable=False),
    Column("overdraft", BigInteger, nullable=False, server_default="0"),
    Column("available", BigInteger, nullable=False),
    Column("pending", BigInteger, nullable=False),
    Column("lapsed", BigInteger, nullable=False),
    Column("computed_at", BigInteger, nullable=False),
    Column("valid_until", BigInteger, nullable=True),
    Column("entries_since_checkpoint", Integer, nullable=False),
    Column("checkpoint_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("account_id", "unit"),
)

balance_checkpoints = Table(
    "balance_checkpoints",
    metadata,
    Column("account_id", ID, nullable=False),
    Column("unit", String(32), nullable=False),
    Column("as_of", BigInteger, nullable=False),
    Column("totals", Text, nullable=False),
    PrimaryKeyConstraint("account_id", "unit", "as_of"),
)

# -- metering and enforcement (migration 0002) ------------------------------------------

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

account_enforcement = Table(
    "account_enforcement",
    metadata,
    Column("account_id", ID, ForeignKey("accounts.id"), primary_key=True),
    Column("mode", String(16), nullable=False),
    Column("overdraft_limits", Text, nullable=False),  # {unit: limit units}
    Column("rate_card_id", ID, nullable=True),
    Column("rate_card_version", Integer, nullable=True),  # NULL: the version effective at use
)

rate_cards = Table(
    "rate_cards",
    metadata,
    Column("id", ID, nullable=False),
    Column("version", Integer, nullable=False),
    Column("unit", String(32), nullable=False),
    Column("effective_at", BigInteger, nullable=False),
    Column("rates", Text, nullable=False),  # {feature: decimal string}
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("id", "version"),
)

meters = Table(
    "meters",
    metadata,
    Column("id", ID, primary_key=True),
    Column("event_type", ID, nullable=False),
    Column("aggregation", String(16), nullable=False),
    Column("property", ID, nullable=True),
    Column("filters", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_meters_event_type", "event_type"),
)

_UNBURNED = text("burned = 0")

usage_events = Table(
    "usage_events",
    metadata,
    Column("key", String(255), primary_key=True),  # the dedupe key, kept forever
    Column("account_id", ID, nullable=False),
    Column("event_type", ID, nullable=False),
    Column("event_at", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),  # millionths
    Column("properties", Text, nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    # 0 while an async-mode event waits for its burn; 1 once burned, or from the start for an
    # account outside async mode when the event was recorded (the mode at ingest decides)
    Column("burned", Integer, nullable=False),
    Index("ix_usage_events_account_type_time", "account_id", "event_type", "event_at"),
    Index("ix_usage_events_unburned", "recorded_at", "key", sqlite_where=_UNBURNED, postgresql_where=_UNBURNED),
    # SQLite: rows live in the key's B-tree, not in a rowid table beside a key index (one
    # B-tree fewer to write per event; the meter index then refers to rows by key)
    sqlite_with_rowid=False,
)

holds = Table(
    "holds",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, nullable=False),
    Column("unit", String(32), nullable=False),
    Column("feature", ID, nullable=False),
    Column("quantity", String(48), nullable=False),
    Column("rate", String(48), nullable=False),
    Column("amount_units", BigInteger, nullable=False),
    Column("requested_units", BigInteger, nullable=False),
    Column("overdraft_units", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("hold_tx_id", ID, nullable=False, unique=True),
    Column("resolution_tx_id", ID, nullable=True),
    Column("captured_units", BigInteger, nullable=False),
    Column("released_units", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    Index("ix_holds_status_expiry", "status", "expires_at"),
    Index("ix_holds_account", "account_id", "status"),
)

enforcement_decisions = Table(
    "enforcement_decisions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, nullable=False),
    Column("feature", ID, nullable=False),
    Column("quantity", String(48), nullable=False),
    Column("unit", String(32), nullable=False),
    Column("cost_units", BigInteger, nullable=False),
    Column("holdable_units", BigInteger, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("decided_at", BigInteger, nullable=False),
    Index("ix_decisions_account_time", "account_id", "decided_at"),
)

# -- pricing, contracts and invoices (migration 0003) ----------------------------------------

price_books = Table(
    "price_books",
    metadata,
    Column("id", ID, nullable=False),
    Column("version", Integer, nullable=False),
    Column("effective_at", BigInteger, nullable=False),
    Column("unit", String(32), nullable=False),
    Column("prices", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("id", "version"),
)

contracts = Table(
    "contracts",
    metadata,
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("effective_at", BigInteger, nullable=False),
    Column("terms", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("account_id", "version"),
)

# One row per finalized invoice; its document is frozen. ``status`` and ``voided_at`` are the
# only columns that ever change (finalized -> voided). ``commit_spend_units`` (migration 0006)
# is the spend a term commitment counts: Σ line amount − discount, term true-ups excluded.
# ``revision`` (migration 0009) numbers a period's invoices: 1, then one more per re-issue of
# a voided one; the latest revision is the period's invoice.
invoices = Table(
    "invoices",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("period_end", BigInteger, nullable=False),
    Column("currency", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("subtotal_units", BigInteger, nullable=False),
    Column("credits_units", BigInteger, nullable=False),
    Column("amount_due_units", BigInteger, nullable=False),
    Column("commit_spend_units", BigInteger, nullable=False, server_default="0"),
    Column("usage_cutoff", BigInteger, nullable=False),
    Column("document", Text, nullable=False),
    Column("finalized_at", BigInteger, nullable=False),
    Column("voided_at", BigInteger, nullable=True),
    Column("revision", Integer, nullable=False, server_default="1"),
    UniqueConstraint("account_id", "period_start", "revision", name="uq_invoices_account_period_revision"),
)

credit_notes = Table(
    "credit_notes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("invoice_id", ID, ForeignKey("invoices.id"), nullable=False),
    Column("amount_units", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("rule", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_credit_notes_invoice", "invoice_id"),
)

# The stored usage source (services.ports.UsageSource) until metering is wired in: one row per
# usage event, quantities as integer millionths so SQL can sum them exactly.
usage_lines = Table(
    "usage_lines",
    metadata,
    Column("event_id", String(255), primary_key=True),
    Column("account_id", ID, nullable=False),
    Column("product", ID, nullable=False),
    Column("quantity_micros", BigInteger, nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Index("ix_usage_lines_account_time", "account_id", "occurred_at"),
    Index("ix_usage_lines_account_recorded", "account_id", "recorded_at"),
)

availability_records = Table(
    "availability_records",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, nullable=False),
    Column("product", ID, nullable=False),
    Column("percent", String(16), nullable=False),
    Column("incident_ref", String(255), nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    Index("ix_availability_account_time", "account_id", "occurred_at"),
)

# The HTTP API (migration 0004): keys, stored responses for idempotent replay, audit trail.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("account_id", ID, nullable=True),
    Column("grant_limit", String(48), nullable=True),
    Column("label", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("principal", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    Column("method_path", String(512), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("principal", "key"),
    Index("ix_idempotency_keys_created", "created_at"),
)

audit_records = Table(
    "audit_records",
    metadata,
    Column("id", ID, primary_key=True),
    Column("at", BigInteger, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("role", String(16), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("method_path", String(512), nullable=False),
    Column("account_id", ID, nullable=True),
    Column("reason", Text, nullable=False),
    Column("transaction_ids", Text, nullable=False),
    Column("idempotency_key", String(255), nullable=True),
)

# -- FinOps cloud credits (issue 6): nodes are accounts; these tables hold what the ledger does not.

finops_nodes = Table(
    "finops_nodes",
    metadata,
    Column("id", ID, primary_key=True),  # also the node's account id
    Column("level", String(16), nullable=False),
    Column("name", String(255), nullable=False),
    Column("parent_id", ID, nullable=True),
    Column("currency", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

finops_rules = Table(
    "finops_rules",
    metadata,
    Column("id", ID, primary_key=True),
    Column("priority", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("match_key", String(255), nullable=False),
    Column("match_value", String(255), nullable=False),
    Column("node_id", ID, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

finops_imports = Table(
    "finops_imports",
    metadata,
    Column("id", ID, primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("format", String(32), nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("imported_at", BigInteger, nullable=False),
)

finops_periods = Table(  # the latest summary of each (billing period, currency): restatement checks
    "finops_periods",
    metadata,
    Column("period_start", BigInteger, nullable=False),
    Column("currency", String(32), nullable=False),
    Column("import_id", ID, nullable=False),
    Column("summary", Text, nullable=False),
    PrimaryKeyConstraint("period_start", "currency"),
)

finops_spend = Table(
    "finops_spend",
    metadata,
    Column("period_start", BigInteger, nullable=False),
    Column("node_id", ID, nullable=False),
    Column("service", String(255), nullable=False),
    Column("currency", String(32), nullable=False),
    Column("spend_units", BigInteger, nullable=False),  # before credits, at the currency's scale
    Column("covered_units", BigInteger, nullable=False),  # drawn from credits through the ledger so far
    Column("import_id", ID, nullable=False),
    Column("imported_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("period_start", "node_id", "service", "currency"),
    Index("ix_finops_spend_node", "node_id", "period_start"),
)

finops_import_changes = Table(
    "finops_import_changes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("import_id", ID, nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("currency", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("recorded_at", BigInteger, nullable=False),
    Index("ix_finops_changes_period", "period_start", "currency"),
)

finops_credits = Table(  # the detected credits: the unallocated queue and their allocations
    "finops_credits",
    metadata,
    Column("id", ID, primary_key=True),
    Column("payer_account_id", String(64), nullable=False),
    Column("usage_account_id", String(64), nullable=False),
    Column("currency", String(32), nullable=False),
    Column("key_kind", String(16), nullable=False),
    Column("key_value", String(512), nullable=False),
    Column("description", Text, nullable=True),
    Column("applied", Text, nullable=False),  # JSON: billing periods of a file -> amount applied
    Column("first_seen", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("issue_date", String(10), nullable=False),
    Column("status", String(16), nullable=False),
    Column("node_id", ID, nullable=True),
    Column("grant_id", ID, nullable=True),
    Column("amount_units", BigInteger, nullable=True),
    Column("end_date", String(10), nullable=True),
    Column("reference", String(255), nullable=True),
    Column("allocations", Integer, nullable=False),
    UniqueConstraint("payer_account_id", "usage_account_id", "currency", "key_kind", "key_value"),
)

APPEND_ONLY_TABLES = ("ledger_transactions", "ledger_entries")
