"""Request and response bodies of the pricing and invoicing endpoints (issue 5).

Same rules as ``schemas``: strict, closed requests; amounts, prices and percentages as
decimal strings. Contract terms mirror ``Book.amend_contract``'s dict, field for field,
so every rule the library takes can be sent — and nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from drawdown.api.schemas import Amount, Id, In, Instant, Out, Text
from drawdown.domain import limits

Percent = Annotated[str, Field(max_length=limits.DECIMAL_TEXT_LENGTH_MAX, examples=["10"])]
Word = Annotated[str, Field(max_length=32)]
Rules = limits.CONTRACT_RULES_MAX

# -- requests --------------------------------------------------------------------------------


class TierIn(In):
    up_to: Amount | None = None
    unit_price: Amount
    flat_amount: Amount | None = None


class PriceIn(In):
    product: Id
    category: Annotated[Word, Field(description="usage, fixed_fee, license or add_on")] = "usage"
    model: Annotated[Word, Field(description="per_unit, flat, package, graduated or volume")]
    unit_price: Amount | None = None
    flat_amount: Amount | None = None
    package_size: Amount | None = None
    tiers: Annotated[list[TierIn], Field(max_length=limits.PRICE_TIERS_MAX)] | None = None


class PriceBookCreate(In):
    id: Id
    unit: Annotated[str, Field(max_length=limits.UNIT_CODE_LENGTH_MAX, examples=["USD"])]
    prices: Annotated[list[PriceIn], Field(min_length=1, max_length=limits.PRICES_PER_BOOK_MAX)]
    effective_at: Instant | None = None


class OverrideIn(In):
    rule: Id
    price: PriceIn


class DiscountIn(In):
    rule: Id
    percent: Percent
    scope: Annotated[Word, Field(description="invoice, category or product")] = "invoice"
    category: Word | None = None
    product: Id | None = None


class BundleIn(In):
    rule: Id
    products: Annotated[list[Id], Field(max_length=Rules)]
    percent: Percent


class CommitIn(In):
    rule: Id
    amount: Amount


class TermCommitIn(In):
    rule: Id
    amount: Annotated[Amount, Field(description="Committed spend over the term, after discounts, before credits.")]
    start: Annotated[str, Field(max_length=7, description="The term's first billing month, YYYY-MM.",
                                examples=["2026-01"])]  # fmt: skip
    end: Annotated[str, Field(max_length=7, description="The month after the term's last one, YYYY-MM "
                              "(half-open: 2026-01 to 2027-01 is the year 2026).", examples=["2027-01"])]  # fmt: skip


class RebateIn(In):
    rule: Id
    threshold: Amount | None = None
    percent: Percent
    settlement: Annotated[Word, Field(description="grant or credit_note")] = "grant"


class SlaStepIn(In):
    below_percent: Percent
    credit_percent: Percent


class SlaIn(In):
    rule: Id
    products: Annotated[list[Id], Field(max_length=Rules)]
    steps: Annotated[list[SlaStepIn], Field(max_length=Rules)]


class ContractCreate(In):
    price_book: Id = "default"
    price_book_version: Annotated[int, Field(ge=1, le=2**31)] | None = None
    quantities: Annotated[dict[str, Amount], Field(max_length=Rules)] | None = None
    overrides: Annotated[list[OverrideIn], Field(max_length=Rules)] | None = None
    discounts: Annotated[list[DiscountIn], Field(max_length=Rules)] | None = None
    bundles: Annotated[list[BundleIn], Field(max_length=Rules)] | None = None
    commit: CommitIn | None = None
    term_commit: TermCommitIn | None = None
    rebates: Annotated[list[RebateIn], Field(max_length=Rules)] | None = None
    sla: Annotated[list[SlaIn], Field(max_length=Rules)] | None = None
    effective_at: Instant | None = None

    def terms(self) -> dict[str, Any]:
        """The library's terms dict (a category discount keeps its key even when null)."""
        terms = self.model_dump(exclude_none=True, exclude={"effective_at"})
        for discount in terms.get("discounts", []):
            discount.setdefault("category", None)
        return terms


class FinalizeIn(In):
    period: Annotated[str, Field(max_length=7, description="The month, YYYY-MM.", examples=["2026-10"])]


class InvoiceVoid(In):
    reason: Annotated[str, Field(min_length=1, max_length=limits.REASON_LENGTH_MAX)]


class InvoiceReissue(In):
    reason: Annotated[str, Field(min_length=1, max_length=limits.REASON_LENGTH_MAX)]


class CreditNoteCreate(In):
    amount: Amount
    reason: Annotated[Text, Field(min_length=1)]


# -- responses -------------------------------------------------------------------------------


class PriceBookOut(Out):
    id: str
    version: int
    unit: str
    effective_at: str
    prices: list[dict[str, Any]]


class ContractOut(Out):
    account: str
    version: int
    effective_at: str
    terms: dict[str, Any]


class ContractList(Out):
    items: list[ContractOut] = Field(description="Every version, oldest first.")


class CreditNoteOut(Out):
    id: str
    invoice_id: str
    amount: str
    reason: str
    rule: str | None
    created_at: str


class InvoiceOut(Out):
    id: str | None = Field(description="Null for a preview.")
    status: str = Field(description="preview, finalized or voided")
    revision: int = Field(description="1, then one more per re-issue of the period's voided invoice.")
    account: str
    period_start: str
    period_end: str
    currency: str
    amount_due: str
    outstanding: str = Field(description="What is still owed after credit notes.")
    document: dict[str, Any] = Field(description="The invoice document: lines, totals, credits applied.")
    credit_notes: list[CreditNoteOut]


class ExplanationOut(Out):
    id: str
    document: dict[str, Any]
    text: str = Field(description="The same explanation as readable text.")
