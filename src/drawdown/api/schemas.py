"""Request and response bodies of the HTTP API, separate from the domain's types.

Requests are strict and closed (``extra="forbid"``): unknown fields, wrong JSON types and
numbers where text is expected are refused before anything runs. Amounts travel as decimal
strings ("12.50"), never JSON numbers; instants as ISO 8601 strings with an offset. The
domain checks the content (amount precision, time zones, ids); these models check shape.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drawdown.domain import limits

Amount = Annotated[
    str,
    Field(
        max_length=limits.DECIMAL_TEXT_LENGTH_MAX,
        description='A positive decimal string such as "12.50"; JSON numbers are refused: no float rounding.',
        examples=["12.50"],
    ),
]
Instant = Annotated[
    str,
    Field(max_length=64, description="An ISO 8601 instant with an offset, e.g. 2026-01-31T00:00:00Z.",
          examples=["2026-01-31T00:00:00Z"]),
]  # fmt: skip
Id = Annotated[str, Field(max_length=limits.ID_LENGTH_MAX, examples=["acme"])]
Text = Annotated[str, Field(max_length=limits.REASON_LENGTH_MAX)]
Metadata = Annotated[
    dict[str, Annotated[str, Field(max_length=limits.METADATA_VALUE_LENGTH_MAX)]],
    Field(max_length=limits.METADATA_ENTRIES_MAX),
]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="after")
    def _no_nul_characters(self) -> Self:
        if _has_nul(self.model_dump()):
            raise ValueError("text may not contain NUL (U+0000) characters")
        return self


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests --------------------------------------------------------------------------------


class PoolCapIn(In):
    amount: Amount
    period: Annotated[str, Field(max_length=16, description="day, week, month or lifetime")]


class AccountCreate(In):
    id: Id
    currency: Annotated[str, Field(max_length=32, examples=["USD"])]
    time_zone: Annotated[str, Field(max_length=64, examples=["Europe/Paris"])] = "UTC"
    parent: Id | None = None
    drawdown_policy: Annotated[str, Field(max_length=16, description="default or fifo")] = "default"
    pool_caps: Annotated[dict[str, PoolCapIn], Field(max_length=16)] | None = None
    metadata: Metadata | None = None


class UnitCreate(In):
    code: Annotated[str, Field(max_length=limits.UNIT_CODE_LENGTH_MAX, examples=["AI_CREDIT"])]
    scale: Annotated[int, Field(ge=0, le=limits.UNIT_SCALE_MAX)]


class GrantCreate(In):
    amount: Amount
    unit: Annotated[str, Field(max_length=limits.UNIT_CODE_LENGTH_MAX, examples=["USD"])]
    source: Annotated[str, Field(max_length=16, description="purchased, promotional, support, sla, …")] = "promotional"
    effective_at: Instant | None = None
    expires_at: Instant | None = None
    priority: Annotated[int, Field(ge=limits.PRIORITY_MIN, le=limits.PRIORITY_MAX)] = limits.PRIORITY_DEFAULT
    scope: Annotated[str, Field(max_length=4096, description="invoice, category:<c> or products:<a,b>")] | None = None
    cost_basis: Amount = "0"
    cap: Amount | None = None
    cap_period: Annotated[str, Field(max_length=16)] | None = None
    invoice_cap: Amount | None = None
    reason_code: Annotated[str, Field(max_length=64)] = "unspecified"
    external_ref: Annotated[str, Field(max_length=255)] | None = None
    metadata: Metadata | None = None


class GrantBatchItem(GrantCreate):
    account: Id


class GrantBatch(In):
    grants: Annotated[list[GrantBatchItem], Field(min_length=1, max_length=limits.GRANTS_PER_BATCH_MAX)]


class VoidCreate(In):
    reason: Annotated[str, Field(min_length=1, max_length=limits.REASON_LENGTH_MAX)]


class ChargeCreate(In):
    amount: Amount
    unit: Annotated[str, Field(max_length=limits.UNIT_CODE_LENGTH_MAX, examples=["USD"])]
    category: Annotated[str, Field(max_length=16, description="usage, fixed_fee, license or add_on")] = "usage"
    product: Id = "default"
    at: Instant | None = None
    allow_partial: bool = False
    reason: Text = ""


# -- responses -------------------------------------------------------------------------------


class Problem(Out):
    """RFC 9457 problem details, with drawdown's stable ``code`` and the offending ``field``."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None
    request_id: str
    errors: list[dict[str, Any]] | None = None


class Health(Out):
    status: str
    version: str


class UnitOut(Out):
    code: str
    kind: str
    scale: int
    minor_digits: int


class PoolCapOut(Out):
    amount: str
    period: str


class AccountOut(Out):
    id: str
    currency: str
    time_zone: str
    parent: str | None
    drawdown_policy: str
    pool_caps: dict[str, PoolCapOut]
    metadata: dict[str, str]
    created_at: str


class AccountPage(Out):
    items: list[AccountOut]
    next_cursor: str | None = Field(description="Pass as ?after= to read the next page; null on the last page.")


class GrantOut(Out):
    id: str
    account: str
    unit: str
    amount: str
    source: str
    status: str
    used: str
    remaining: str
    held: str
    expired: str
    voided: str
    effective_at: str
    expires_at: str | None
    priority: int
    scope: str
    cost_basis: str
    cap: str | None
    cap_period: str | None
    invoice_cap: str | None
    reason_code: str
    issuer: str
    external_ref: str | None
    metadata: dict[str, str]
    created_at: str


class GrantList(Out):
    items: list[GrantOut]


class PostingOut(Out):
    kind: str
    account: str
    unit: str
    amount: str
    grant_id: str | None
    owner: str | None


class TransactionOut(Out):
    id: str
    seq: int
    kind: str
    effective_at: str
    recorded_at: str
    actor: str
    reason: str
    links: dict[str, Any]
    data: dict[str, Any]
    postings: list[PostingOut]
    hash: str
    prev_hash: str


class LedgerPage(Out):
    items: list[TransactionOut]
    next_cursor: int | None = Field(description="Pass as ?after_seq= to read the next page; null on the last page.")


class BalanceOut(Out):
    account: str
    unit: str
    as_of: str
    available: str
    reserved: str
    consumed: str
    expired: str
    voided: str
    pending: str
    issued: str
    pooled_available: str


class DrawOut(Out):
    grant_id: str
    amount: str
    position: int


class ChargeOut(Out):
    transaction_id: str
    amount: str
    drawn: str
    shortfall: str
    draws: list[DrawOut]


class VoidOut(Out):
    grant_id: str
    transaction_id: str
    voided: str


class ChainBreakOut(Out):
    seq: int
    transaction_id: str
    problem: str


class VerifyOut(Out):
    ok: bool
    transactions: int
    head_seq: int
    head_hash: str
    first_break: ChainBreakOut | None


class AuditOut(Out):
    id: str
    at: str
    key_id: str
    role: str
    request_id: str
    operation: str
    method_path: str
    account: str | None
    reason: str
    transaction_ids: list[str]
    idempotency_key: str | None


class AuditPage(Out):
    items: list[AuditOut]
    next_cursor: str | None
