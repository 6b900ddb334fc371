"""FinOps cloud credits mapped onto the ledger: the pure rules (PRODUCT.md F3–F5).

Purpose
    The cost hierarchy (Business Unit > Department > Portfolio > Product) is data: each node
    is a drawdown account whose parent is the parent node, so a credit allocated at a node is
    a grant every descendant draws (pooled), first in, first out by issue date. This module
    holds what needs no storage: the levels, the mapping rules from spend to nodes, when a
    period's spend is drawn, a credit's expiry status and the spend rate that would use it.

Boundaries
    Standard library only; no I/O, no clock, no ids. ``services.finops`` loads, calls these
    and posts through the ledger.

Invariants
    * A child node is exactly one level below its parent; ``unallocated`` is a root of its
      own and takes the spend no rule maps.
    * Rules are tried in (priority, id) order and the first match wins: the order is total,
      so the same spend always lands on the same node.
    * A billing period's spend is drawn at the period's last instant (capped at the import
      time): any credit live at the end of the month covers that month, whatever day in the
      month it was issued.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

UNALLOCATED = "unallocated"
"""The id of the node that takes spend no rule maps."""

EXPIRING_SOON = timedelta(days=30)
ONE_MICROSECOND = timedelta(microseconds=1)


class Level(StrEnum):
    """A node's level, top down."""

    BUSINESS_UNIT = "business_unit"
    DEPARTMENT = "department"
    PORTFOLIO = "portfolio"
    PRODUCT = "product"
    UNALLOCATED = "unallocated"


LEVEL_ORDER = (Level.BUSINESS_UNIT, Level.DEPARTMENT, Level.PORTFOLIO, Level.PRODUCT)
SERVICE_NAME_LENGTH_MAX = 255  # as stored; see stored_service


def stored_service(name: str) -> str:
    """A service name as spend is stored under it: itself when it fits, else its first
    characters, ``~`` and 16 hex digits of its digest, so two long names that share their
    first characters stay two services (cutting them alone would merge their spend)."""
    if len(name) <= SERVICE_NAME_LENGTH_MAX:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return name[: SERVICE_NAME_LENGTH_MAX - 17] + "~" + digest


class MatchKind(StrEnum):
    """What a mapping rule looks at."""

    USAGE_ACCOUNT = "usage_account"
    TAG = "tag"
    COST_CATEGORY = "cost_category"


class CreditStatus(StrEnum):
    """Where an allocated credit stands at an instant (F4)."""

    ACTIVE = "active"
    EXPIRING = "expiring"
    """Active, and expires within ``EXPIRING_SOON``."""
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    VOIDED = "voided"


class QueueStatus(StrEnum):
    """A detected credit in the unallocated queue, or allocated to a node."""

    UNALLOCATED = "unallocated"
    ALLOCATED = "allocated"


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    level: Level
    name: str
    parent_id: str | None
    currency: str


@dataclass(frozen=True, slots=True)
class MappingRule:
    """Spend whose ``kind`` (usage account, or the tag / cost category ``key``) equals
    ``value`` belongs to ``node_id``. Lower ``priority`` is tried first."""

    id: str
    priority: int
    kind: MatchKind
    key: str
    value: str
    node_id: str


@dataclass(frozen=True, slots=True)
class SpendAttributes:
    """What a spend group offers the rules."""

    usage_account_id: str | None
    tags: Mapping[str, str | None]
    cost_categories: Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class SpendLine:
    """Spend before credits of one node in an export, as the import hands it over.

    The import maps spend to nodes with :func:`match` (per distinct ``SpendAttributes``)
    under the rules in force when it started reading the file.
    """

    period_start: datetime
    node_id: str
    service: str
    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class CreditSighting:
    """A cloud credit as one export shows it (``importers.CloudCredit`` in ledger terms)."""

    payer_account_id: str
    usage_account_id: str
    currency: str
    key_kind: str
    key_value: str
    description: str | None
    applied: Decimal
    billing_periods: tuple[date, ...]
    issue_date: date


@dataclass(frozen=True, slots=True)
class ExportBatch:
    """What one file contributes: its identity, per-period summaries, spend and credits."""

    sha256: str
    size_bytes: int
    file_name: str
    format: str
    row_count: int
    periods: Mapping[tuple[datetime, str], Mapping[str, str]]
    """(billing period start, currency) -> a summary whose change means a restatement."""
    spend: tuple[SpendLine, ...]
    credits: tuple[CreditSighting, ...]


class PeriodChangeKind(StrEnum):
    NEW = "new"
    UNCHANGED = "unchanged"
    RESTATED = "restated"


def period_change(before: Mapping[str, str] | None, after: Mapping[str, str]) -> PeriodChangeKind:
    """A period a file holds is new, the same as last time, or restated (it replaces)."""
    if before is None:
        return PeriodChangeKind.NEW
    return PeriodChangeKind.UNCHANGED if dict(before) == dict(after) else PeriodChangeKind.RESTATED


def check_parent(level: Level, parent: Node | None) -> str | None:
    """Why a node of ``level`` cannot sit under ``parent``, or None when it can."""
    if level is Level.UNALLOCATED:
        return "the unallocated node is created by drawdown itself"
    if parent is None:
        return None if level is Level.BUSINESS_UNIT else f"a {level} needs a parent one level up"
    if parent.level is Level.UNALLOCATED:
        return "nothing sits under the unallocated node"
    if LEVEL_ORDER.index(level) != LEVEL_ORDER.index(parent.level) + 1:
        return f"a {level} cannot sit under a {parent.level}; levels go {' > '.join(LEVEL_ORDER)}"
    return None


def ordered(rules: Iterable[MappingRule]) -> list[MappingRule]:
    return sorted(rules, key=lambda r: (r.priority, r.id))


def match(rules: Sequence[MappingRule], spend: SpendAttributes) -> str:
    """The node of the first rule (in :func:`ordered` order) that matches, else unallocated."""
    for rule in rules:
        if _matches(rule, spend):
            return rule.node_id
    return UNALLOCATED


def _matches(rule: MappingRule, spend: SpendAttributes) -> bool:
    if rule.kind is MatchKind.USAGE_ACCOUNT:
        return spend.usage_account_id == rule.value
    source = spend.tags if rule.kind is MatchKind.TAG else spend.cost_categories
    return source.get(rule.key) == rule.value


def rule_keys(rules: Iterable[MappingRule], kind: MatchKind) -> tuple[str, ...]:
    """The tag or cost-category keys the rules need the import to group by."""
    return tuple(sorted({r.key for r in rules if r.kind is kind}))


def month_start(day: date) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def draw_instant(period_start: datetime, imported_at: datetime) -> datetime:
    """When a billing period's spend is drawn: its last instant, or the import time if that
    is earlier (a month still running)."""
    return min(next_month(period_start) - ONE_MICROSECOND, imported_at)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def end_of_day(day: date) -> datetime:
    """A credit's end date is inclusive: it expires when the next UTC day starts."""
    return day_start(day) + timedelta(days=1)


def credit_status(*, remaining_units: int, voided: bool, expires_at: datetime | None, now: datetime) -> CreditStatus:
    if voided:
        return CreditStatus.VOIDED
    if remaining_units == 0:  # used up: what happened to it, whether or not its end date passed since
        return CreditStatus.EXHAUSTED
    if expires_at is not None and now >= expires_at:
        return CreditStatus.EXPIRED
    if expires_at is not None and expires_at - now <= EXPIRING_SOON:
        return CreditStatus.EXPIRING
    return CreditStatus.ACTIVE


def units_per_day(units: int, start: datetime, end: datetime) -> int:
    """``units`` spread evenly over ``[start, end)``, per day, rounded up: the daily spend
    that would use them all. Integer arithmetic on microseconds, no floats."""
    span = max((end - start) // ONE_MICROSECOND, 1)
    day = timedelta(days=1) // ONE_MICROSECOND
    return -(-units * day // span)
