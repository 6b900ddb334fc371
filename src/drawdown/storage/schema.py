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
    Column("available", BigInteger, nullable=False),
    Column("pending", BigInteger, nullable=False),
    Column("lapsed", BigInteger, nullable=False),
    Column("computed_at", BigInteger, nullable=False),
    Column("valid_until", BigInteger, nullable=True),
    Column("entries_since_checkpoint", Integer, nullable=False),
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

# The HTTP API (migration 0003): keys, stored responses for idempotent replay, audit trail.
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

APPEND_ONLY_TABLES = ("ledger_transactions", "ledger_entries")
