"""One API write as one database transaction: idempotent replay, the work, the audit record.

``run_write`` opens a write unit of work (which takes the store's writer lock), looks the
caller's idempotency key up, runs the action with services that *join* that unit of work,
records the audit record with the ledger transactions the action posted, stores the
response for replay, and commits — all or nothing. Because every writer holds the lock,
concurrent requests with the same key run one after another: the first executes, the
others find its stored response and replay it. Failed requests roll back, so they leave no
stored response, no audit record and no ledger rows, and may be retried (Stripe's model).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from drawdown.domain import limits
from drawdown.domain.access import Principal
from drawdown.domain.audit import AuditRecord
from drawdown.domain.errors import IdempotencyConflict, InvalidField
from drawdown.domain.instants import to_micros
from drawdown.services.ports import Deps, StoredResponse, UnitOfWork


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """What the audit trail and the replay store need to know about one write request."""

    principal: Principal
    request_id: str
    operation: str
    method_path: str
    body: object  # the validated request, as JSON-ready data; its hash identifies the request
    reason: str = ""
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    """An action's result: HTTP-agnostic status code and JSON body, and the account it touched."""

    status: int
    body: str
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    status: int
    body: str
    replayed: bool
    transaction_ids: tuple[str, ...]


def request_hash(method_path: str, body: object) -> str:
    canonical = json.dumps({"at": method_path, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> None:
    if key is not None and not 1 <= len(key) <= limits.API_IDEMPOTENCY_KEY_LENGTH_MAX:
        raise InvalidField(
            f"Idempotency-Key must be 1–{limits.API_IDEMPOTENCY_KEY_LENGTH_MAX} characters; a UUID is a good choice",
            field="Idempotency-Key",
        )


def book_key(request: WriteRequest, suffix: str = "") -> str | None:
    """The idempotency key passed down to the ledger: namespaced by API key, so two callers'
    keys never collide, and still caught by the ledger after the stored response is purged."""
    if request.idempotency_key is None:
        return None
    return f"{request.principal.key_id}:{request.idempotency_key}{suffix}"


def run_write(deps: Deps, request: WriteRequest, action: Callable[[Deps], Rendered]) -> WriteOutcome:
    check_key(request.idempotency_key)
    digest = request_hash(request.method_path, request.body)
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # under the writer lock, so instants follow the commit order
        stored = _replay(uow, request, digest)
        if stored is not None:
            return WriteOutcome(stored.status, stored.body, True, ())
        joined = replace(deps, uow=lambda write=False: uow.joined())
        rendered = action(joined)
        posted = tuple(uow.ledger.posted)
        uow.audit.add(
            AuditRecord(
                id=deps.ids.new("au"), at=now, key_id=request.principal.key_id, role=str(request.principal.role),
                request_id=request.request_id, operation=request.operation, method_path=request.method_path,
                account_id=rendered.account_id, reason=request.reason, transaction_ids=posted,
                idempotency_key=request.idempotency_key,
            )
        )  # fmt: skip
        if request.idempotency_key is not None:
            response = StoredResponse(request.method_path, digest, rendered.status, rendered.body, now)
            uow.idempotency.add(request.principal.key_id, request.idempotency_key, response)
    return WriteOutcome(rendered.status, rendered.body, False, posted)


def _replay(uow: UnitOfWork, request: WriteRequest, digest: str) -> StoredResponse | None:
    if request.idempotency_key is None:
        return None
    stored = uow.idempotency.get(request.principal.key_id, request.idempotency_key)
    if stored is not None and (stored.request_hash != digest or stored.method_path != request.method_path):
        raise IdempotencyConflict(
            f"Idempotency-Key {request.idempotency_key!r} was already used for a different request "
            f"({stored.method_path}); send a new key for a new request",
            field="Idempotency-Key",
        )
    return stored


def purge_stored_responses(deps: Deps, *, keep_seconds: int = limits.IDEMPOTENCY_RETENTION_SECONDS) -> int:
    """Delete stored responses older than ``keep_seconds`` (never less than 24 hours)."""
    keep = max(keep_seconds, limits.IDEMPOTENCY_RETENTION_SECONDS)
    cutoff = to_micros(deps.clock.now() - timedelta(seconds=keep))
    with deps.uow(write=True) as uow:
        return uow.idempotency.purge_before(cutoff)
