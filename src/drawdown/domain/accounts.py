"""Customer accounts and their hierarchy.

An account has an external id chosen by the caller, a currency, a billing time zone, an
optional parent, and a drawdown policy. A grant on an ancestor is pooled: every descendant
can draw it. A child may carry a cap on what it draws from its ancestors' pool per period,
a sub-budget for a team or an agent inside a shared enterprise pool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from drawdown.domain import limits
from drawdown.domain.errors import InvalidField, InvalidIdentifier

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]*\Z")  # \Z, not $: "$" lets a trailing newline through


def is_text(value: str) -> bool:
    """Whether UTF-8 can encode ``value``. A ``str`` may hold a lone surrogate (``"\\ud800"``),
    which is not Unicode text: no store takes it, so no key, id or property holds one."""
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def require_id(value: object, *, field: str) -> str:
    """Ids are 1–64 printable ASCII characters: letters, digits and . _ : @ -."""
    if not isinstance(value, str) or not value:
        raise InvalidIdentifier(f"{field} must be a non-empty string", field=field)
    if len(value) > limits.ID_LENGTH_MAX or not ID_PATTERN.match(value):
        raise InvalidIdentifier(
            f"{field} {value[:80]!r} must be 1–{limits.ID_LENGTH_MAX} characters of "
            "A–Z, a–z, 0–9 and . _ : @ -, starting with a letter or digit",
            field=field,
        )
    return value


class DrawdownPolicy(StrEnum):
    """Which total order grants are drawn in; see :mod:`drawdown.domain.drawdown`."""

    DEFAULT = "default"
    FIFO = "fifo"


class CapPeriod(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    LIFETIME = "lifetime"


@dataclass(frozen=True, slots=True)
class Cap:
    """At most ``amount_units`` per ``period`` (calendar periods in the account's time zone)."""

    amount_units: int
    period: CapPeriod


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    currency: str
    time_zone: str
    parent_id: str | None
    drawdown_policy: DrawdownPolicy
    created_at: datetime
    pool_caps: dict[str, Cap] = field(default_factory=dict)  # unit code -> cap on pooled draws
    metadata: dict[str, str] = field(default_factory=dict)


def require_metadata(value: object, *, field: str = "metadata") -> dict[str, str]:
    """Metadata is a small flat map of strings to strings."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidField(f"{field} must be an object of string keys and string values", field=field)
    if len(value) > limits.METADATA_ENTRIES_MAX:
        raise InvalidField(f"{field} has {len(value)} entries; at most {limits.METADATA_ENTRIES_MAX}", field=field)
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidField(f"{field} keys and values must be strings ({key!r})", field=field)
        if not key or len(key) > 64 or len(item) > limits.METADATA_VALUE_LENGTH_MAX:
            raise InvalidField(f"{field} entry {key[:64]!r} is empty or too long", field=field)
    return dict(sorted(value.items()))


def ancestry(account_id: str, parents: dict[str, str | None]) -> list[str]:
    """The account followed by its ancestors, nearest first."""
    chain = [account_id]
    parent = parents.get(account_id)
    while parent is not None:
        assert parent not in chain, f"hierarchy cycle through {parent}"
        assert len(chain) <= limits.HIERARCHY_DEPTH_MAX, "hierarchy deeper than the limit"
        chain.append(parent)
        parent = parents.get(parent)
    return chain
