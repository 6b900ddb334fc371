"""Request and response bodies of the FinOps endpoints (issue 6, F3–F5).

Same rules as ``schemas``: requests are strict and closed, amounts are decimal strings,
dates ISO 8601 (YYYY-MM-DD). Importing a billing export is a CLI / library job (the file
is local and large): no route uploads one.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from drawdown.api.schemas import Amount, Id, In, Out, Text

Name = Annotated[str, Field(max_length=255)]
Day = Annotated[str, Field(max_length=10, description="A date, YYYY-MM-DD.", examples=["2026-12-31"])]

# -- requests --------------------------------------------------------------------------------


class NodeCreate(In):
    id: Id
    level: Annotated[str, Field(max_length=16, description="business_unit, department, portfolio or product")]
    name: Name
    parent: Id | None = None
    currency: Annotated[str, Field(max_length=32, examples=["USD"])] = "USD"


class RuleCreate(In):
    id: Id
    kind: Annotated[str, Field(max_length=16, description="usage_account, tag or cost_category")]
    key: Annotated[str, Field(max_length=255, description="Tag or cost-category key; empty for usage_account.")] = ""
    value: Name
    node: Id
    priority: Annotated[int, Field(ge=0, le=2**31 - 1, description="Lower is tried first.")] = 100


class AllocateIn(In):
    node: Id
    amount: Amount
    end_date: Day
    reason: Text
    reference: Annotated[str, Field(max_length=255, description="e.g. a MAP contract id.")] | None = None


# -- responses -------------------------------------------------------------------------------


class NodeOut(Out):
    id: str
    level: str
    name: str
    parent: str | None
    currency: str


class NodeList(Out):
    items: list[NodeOut]


class RuleOut(Out):
    id: str
    priority: int
    kind: str
    key: str
    value: str
    node: str


class RuleList(Out):
    items: list[RuleOut]


class CreditOut(Out):
    id: str
    code: str
    payer_account: str
    usage_account: str
    currency: str
    applied: str = Field(description="Applied so far according to the imported exports.")
    issue_date: str
    period: str
    queue_status: str = Field(description="unallocated or allocated")
    node: str | None
    grant_id: str | None
    reference: str | None
    end_date: str | None
    amount: str
    used: str
    remaining: str
    status: str | None = Field(description="active, expiring, expired, exhausted or voided; null until allocated")


class CreditList(Out):
    items: list[CreditOut]


class NetCostOut(Out):
    node: str
    level: str
    period: str
    currency: str
    spend: str
    credits: str
    net: str


class NetCostList(Out):
    items: list[NetCostOut]


class ExpiringOut(Out):
    credit: CreditOut
    expires_at: str
    needed_per_day: str
    recent_per_day: str


class ExpiringList(Out):
    items: list[ExpiringOut]
