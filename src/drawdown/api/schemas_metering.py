"""Request and response bodies of the usage and enforcement endpoints (issue 3).

Same rules as ``schemas``: requests are strict and closed, quantities and amounts are
decimal strings, instants ISO 8601 with an offset. An event batch is checked for shape
here (a float quantity refuses the whole batch, nothing is written); what only the store
can judge — unknown account or event type, too late, a repeated key — is decided per event.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from drawdown.api.schemas import Amount, BalanceOut, Id, In, Instant, Out
from drawdown.domain import limits

Quantity = Annotated[
    str,
    Field(
        max_length=limits.DECIMAL_TEXT_LENGTH_MAX,
        description='A non-negative decimal string such as "1.5"; JSON numbers are refused.',
        examples=["1"],
    ),
]
PropertyValue = Annotated[str, Field(max_length=limits.EVENT_PROPERTY_VALUE_LENGTH_MAX)] | int | bool
UnitCode = Annotated[str, Field(max_length=limits.UNIT_CODE_LENGTH_MAX, examples=["AI_CREDIT"])]

# -- requests --------------------------------------------------------------------------------


class EventIn(In):
    key: Annotated[str, Field(max_length=limits.IDEMPOTENCY_KEY_LENGTH_MAX, description="The event's idempotency key.")]
    account: Id
    type: Annotated[str, Field(max_length=limits.EVENT_TYPE_LENGTH_MAX, examples=["chat.completion"])]
    time: Instant
    quantity: Quantity = "1"
    properties: Annotated[dict[str, PropertyValue], Field(max_length=limits.EVENT_PROPERTIES_MAX)] | None = None


class EventBatch(In):
    events: Annotated[list[EventIn], Field(min_length=1, max_length=limits.EVENTS_PER_BATCH_MAX)]


class MeterCreate(In):
    id: Id
    event_type: Annotated[str, Field(max_length=limits.EVENT_TYPE_LENGTH_MAX, examples=["chat.completion"])]
    aggregation: Annotated[str, Field(max_length=16, description="sum, count, max or unique_count")]
    property: Annotated[str, Field(max_length=limits.EVENT_PROPERTY_KEY_LENGTH_MAX)] | None = None
    filters: Annotated[dict[str, PropertyValue], Field(max_length=limits.METER_FILTERS_MAX)] | None = None


class AuthorizeIn(In):
    account: Id
    feature: Id
    quantity: Quantity = "1"


class HoldCreate(AuthorizeIn):
    ttl_seconds: Annotated[int, Field(ge=limits.HOLD_TTL_SECONDS_MIN, le=limits.HOLD_TTL_SECONDS_MAX)] = (
        limits.HOLD_TTL_SECONDS_DEFAULT
    )


class CaptureIn(In):
    quantity: Quantity


class ReleaseIn(In):
    pass


class RateCardCreate(In):
    id: Id
    unit: UnitCode
    rates: Annotated[dict[str, Amount], Field(min_length=1, max_length=1000, description="feature → credits per unit")]
    effective_at: Instant | None = None


class EnforcementIn(In):
    mode: Annotated[str, Field(max_length=16, description="enforce, async or shadow")] | None = None
    overdraft_limits: Annotated[dict[str, Amount], Field(max_length=16, description="unit → amount")] | None = None
    rate_card: Id | None = None
    rate_card_version: Annotated[int, Field(ge=1, le=2**31)] | None = None


class KillSwitchIn(In):
    engaged: bool


# -- responses -------------------------------------------------------------------------------


class EventResultOut(Out):
    index: int
    key: str | None
    status: str = Field(description="accepted, duplicate or rejected")
    code: str | None = Field(description="Why it was rejected or a duplicate (a stable error code).")
    message: str | None


class IngestOut(Out):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResultOut]


class MeterOut(Out):
    id: str
    event_type: str
    aggregation: str
    property: str | None
    filters: dict[str, str | int | bool]


class ReadingOut(Out):
    start: str
    end: str
    value: str


class ReadingList(Out):
    meter: str
    account: str
    items: list[ReadingOut]


class DecisionOut(Out):
    allowed: bool
    reason: str
    mode: str
    unit: str
    cost: str
    covered: str
    overdraft_headroom: str
    balance: BalanceOut


class HoldOut(Out):
    id: str
    account: str
    unit: str
    feature: str
    quantity: str
    rate: str
    amount: str
    status: str = Field(description="open, captured, released or expired")
    created_at: str
    expires_at: str
    captured: str
    released: str
    resolved_at: str | None
    hold_transaction_id: str
    resolution_transaction_id: str | None


class RateCardOut(Out):
    id: str
    version: int
    unit: str
    effective_at: str
    rates: dict[str, str]


class EnforcementOut(Out):
    account: str
    mode: str
    overdraft_limits: dict[str, str]
    rate_card: str | None
    rate_card_version: int | None


class KillSwitchOut(Out):
    engaged: bool
