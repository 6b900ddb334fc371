"""Who may do what: roles, principals and API key tokens. Pure: no clock, no randomness.

An API key token is ``dd_<key id>_<secret>``. Only the SHA-256 of the whole token is stored;
the key id (the part before the secret) finds the row, so a lookup is one primary-key read
and the secret is compared in constant time. Which role may call which endpoint is an
edge concern and lives in one table in ``drawdown.api.access``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from drawdown.domain.errors import GrantLimitExceeded, InvalidField, Unauthenticated

TOKEN_PREFIX = "dd"
_TOKEN = re.compile(r"^dd_(key_[0-9A-Z]{26})_([A-Za-z0-9_-]{32,64})$")


class Role(StrEnum):
    ADMIN = "admin"  # everything
    FINANCE = "finance"  # accounts, grants, voids, audit, verify
    SUPPORT = "support"  # grants up to a limit, voids, reads
    SERVICE = "service"  # charges (authorize/reserve/capture/release later), balance reads
    CUSTOMER = "customer"  # read-only, one account


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind a request: an API key's id, role and, for customers, its account."""

    key_id: str
    role: Role
    account_id: str | None = None
    grant_limit: Decimal | None = None

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"


def role_of(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidField(f"role {value!r} is not one of {', '.join(Role)}", field="role") from None


def token_for(key_id: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}_{key_id}_{secret}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def key_id_of(token: str) -> str:
    """The key id inside a token; any malformed token is simply unauthenticated."""
    match = _TOKEN.match(token)
    if match is None:
        raise Unauthenticated("the API key is malformed; send 'Authorization: Bearer dd_key_…' as printed when created")
    return match.group(1)


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


def check_grant_limit(principal: Principal, amount: Decimal) -> None:
    """Support keys may issue grants up to their limit; other roles are not limited here."""
    if principal.role is Role.SUPPORT and principal.grant_limit is not None and amount > principal.grant_limit:
        raise GrantLimitExceeded(
            f"a support key may issue grants of at most {principal.grant_limit} per grant, "
            f"this one is {amount}; ask a finance or admin key holder to issue it",
            field="amount",
            limit=str(principal.grant_limit),
        )
