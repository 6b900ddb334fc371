"""API keys: create (the secret is returned once), revoke, list, and authenticate a token.

Key management is an operator action from the CLI; each create and revoke leaves an audit
record with the operator as the actor, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from drawdown.domain import limits
from drawdown.domain.access import Principal, Role, hash_token, key_id_of, role_of, token_for, token_matches
from drawdown.domain.audit import ApiKey, AuditRecord
from drawdown.domain.errors import InvalidField, KeyNotFound, Unauthenticated
from drawdown.domain.grants import check_text
from drawdown.domain.instants import to_micros
from drawdown.domain.money import parse_decimal
from drawdown.services.common import account_of
from drawdown.services.ports import Deps, UnitOfWork


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    token: str  # shown once, never stored


def create_key(
    deps: Deps,
    role: str,
    *,
    secret: str,
    account: str | None = None,
    grant_limit: str | None = None,
    label: str = "",
    actor: str = "cli",
) -> CreatedKey:
    """Create a key with ``role``; a customer key is bound to ``account``."""
    chosen = role_of(role)
    if (chosen is Role.CUSTOMER) != (account is not None):
        raise InvalidField("a customer key needs --account, and only a customer key takes one", field="account")
    if grant_limit is not None and (chosen is not Role.SUPPORT or parse_decimal(grant_limit, field="grant_limit") < 0):
        raise InvalidField("grant_limit is a non-negative decimal and only for support keys", field="grant_limit")
    name = check_text(label, field="label", required=False, length_max=limits.ACTOR_LENGTH_MAX)
    now = deps.clock.now()
    key_id = deps.ids.new("key")
    token = token_for(key_id, secret)
    with deps.uow(write=True) as uow:
        bound = None if account is None else account_of(uow, account).id
        key = ApiKey(key_id, hash_token(token), str(chosen), bound, grant_limit, name, now)
        uow.api_keys.add(key)
        _audit(deps, uow, actor, "create_key", f"created {chosen} key {key_id}", bound)
    return CreatedKey(key, token)


def revoke_key(deps: Deps, key_id: str, *, actor: str = "cli") -> ApiKey:
    """Revoke a key; it stops working at once. Revoking twice is a no-op."""
    with deps.uow(write=True) as uow:
        key = uow.api_keys.get(key_id)
        if key is None:
            raise KeyNotFound(f"no API key has the id {key_id[:40]!r}; see `drawdown keys list`", field="key_id")
        if key.revoked_at is None:
            uow.api_keys.revoke(key_id, to_micros(deps.clock.now()))
            _audit(deps, uow, actor, "revoke_key", f"revoked key {key_id}", key.account_id)
        revoked = uow.api_keys.get(key_id)
    assert revoked is not None
    return revoked


def list_keys(deps: Deps) -> list[ApiKey]:
    with deps.uow(write=False) as uow:
        return uow.api_keys.all()


def authenticate(deps: Deps, token: str) -> Principal:
    """The principal behind a bearer token; unknown, revoked or mismatched tokens are refused alike."""
    key_id = key_id_of(token)
    with deps.uow(write=False) as uow:
        key = uow.api_keys.get(key_id)
    if key is None or key.revoked_at is not None or not token_matches(token, key.secret_hash):
        raise Unauthenticated("the API key is unknown or revoked; create one with `drawdown keys create`")
    limit = None if key.grant_limit is None else Decimal(key.grant_limit)
    return Principal(key.id, Role(key.role), key.account_id, limit)


def _audit(deps: Deps, uow: UnitOfWork, actor: str, operation: str, reason: str, account: str | None) -> None:
    uow.audit.add(
        AuditRecord(
            id=deps.ids.new("au"), at=deps.clock.now(), key_id=actor, role="operator", request_id="",
            operation=operation, method_path="cli", account_id=account, reason=reason, transaction_ids=(),
        )
    )  # fmt: skip
