"""Repositories for the HTTP API's tables: API keys, stored responses, audit records."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, insert, select, update

from drawdown.domain.audit import ApiKey, AuditRecord
from drawdown.domain.instants import from_micros, to_micros
from drawdown.services.ports import StoredResponse
from drawdown.storage.prepared import Prepared
from drawdown.storage.schema import api_keys, audit_records, idempotency_keys

# Every API request runs the first, every API write the others (see prepared.py: compiled once,
# run on the driver's cursor).
_API_KEY = Prepared(select(api_keys).where(api_keys.c.id == bindparam("key_id")))
_STORED_RESPONSE = Prepared(
    select(idempotency_keys).where(
        idempotency_keys.c.principal == bindparam("principal"), idempotency_keys.c.key == bindparam("key")
    )
)
_INSERT_STORED_RESPONSE = Prepared(insert(idempotency_keys))
_INSERT_AUDIT_RECORD = Prepared(insert(audit_records))


def _key_from(row: Mapping[Any, Any]) -> ApiKey:
    revoked = row["revoked_at"]
    return ApiKey(
        id=row["id"], secret_hash=row["secret_hash"], role=row["role"], account_id=row["account_id"],
        grant_limit=row["grant_limit"], label=row["label"], created_at=from_micros(row["created_at"]),
        revoked_at=None if revoked is None else from_micros(revoked),
    )  # fmt: skip


class ApiKeys:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, key_id: str) -> ApiKey | None:
        found = _API_KEY.mappings(self.conn, {"key_id": key_id})
        return _key_from(found[0]) if found else None

    def add(self, key: ApiKey) -> None:
        self.conn.execute(
            insert(api_keys).values(
                id=key.id, secret_hash=key.secret_hash, role=key.role, account_id=key.account_id,
                grant_limit=key.grant_limit, label=key.label, created_at=to_micros(key.created_at), revoked_at=None,
            )
        )  # fmt: skip

    def revoke(self, key_id: str, at: int) -> None:
        self.conn.execute(
            update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=at)
        )

    def all(self) -> list[ApiKey]:
        return [_key_from(r) for r in self.conn.execute(select(api_keys).order_by(api_keys.c.id)).mappings()]


class IdempotencyKeys:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, principal: str, key: str) -> StoredResponse | None:
        rows = _STORED_RESPONSE.mappings(self.conn, {"principal": principal, "key": key})
        if not rows:
            return None
        found = rows[0]
        return StoredResponse(
            found["method_path"], found["request_hash"], found["status"], found["body"],
            from_micros(found["created_at"]),
        )  # fmt: skip

    def add(self, principal: str, key: str, response: StoredResponse) -> None:
        # The primary key (principal, key) is the claim: a second insert of the same key fails.
        _INSERT_STORED_RESPONSE.run(
            self.conn,
            {
                "principal": principal, "key": key, "method_path": response.method_path,
                "request_hash": response.request_hash, "status": response.status, "body": response.body,
                "created_at": to_micros(response.created_at),
            },
        )  # fmt: skip

    def purge_before(self, at: int) -> int:
        result = self.conn.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < at))
        return int(result.rowcount or 0)


def _audit_row(record: AuditRecord) -> dict[str, Any]:
    return {
        "id": record.id, "at": to_micros(record.at), "key_id": record.key_id, "role": record.role,
        "request_id": record.request_id, "operation": record.operation, "method_path": record.method_path,
        "account_id": record.account_id, "reason": record.reason,
        "transaction_ids": json.dumps(list(record.transaction_ids)), "idempotency_key": record.idempotency_key,
    }  # fmt: skip


def _audit_from(row: RowMapping) -> AuditRecord:
    return AuditRecord(
        id=row["id"], at=from_micros(row["at"]), key_id=row["key_id"], role=row["role"],
        request_id=row["request_id"], operation=row["operation"], method_path=row["method_path"],
        account_id=row["account_id"], reason=row["reason"],
        transaction_ids=tuple(json.loads(row["transaction_ids"])), idempotency_key=row["idempotency_key"],
    )  # fmt: skip


class AuditRecords:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, record: AuditRecord) -> None:
        _INSERT_AUDIT_RECORD.run(self.conn, _audit_row(record))

    def page(self, after: str | None, limit: int, *, account_id: str | None = None) -> list[AuditRecord]:
        query = select(audit_records).order_by(audit_records.c.id).limit(limit)
        if after is not None:
            query = query.where(audit_records.c.id > after)
        if account_id is not None:
            query = query.where(audit_records.c.account_id == account_id)
        return [_audit_from(r) for r in self.conn.execute(query).mappings()]
