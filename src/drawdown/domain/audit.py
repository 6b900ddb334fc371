"""Audit records (A1): who did what, when, why, through which request, for every write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One write: the actor (API key id and role), the request, the reason, and the ledger
    transactions it posted. Written in the same database transaction as the write itself."""

    id: str
    at: datetime
    key_id: str
    role: str
    request_id: str
    operation: str
    method_path: str
    account_id: str | None
    reason: str
    transaction_ids: tuple[str, ...]
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as stored: never the secret, only its SHA-256."""

    id: str
    secret_hash: str
    role: str
    account_id: str | None
    grant_limit: str | None
    label: str
    created_at: datetime
    revoked_at: datetime | None = None
