"""Term commitments: committed spend over a whole contract term, trued up once at its end.

The rules (docs/ARCHITECTURE.md repeats them):

- **basis** — spend after discounts, before credits, exactly as for the per-period minimum:
  Σ (line amount − discount) of an invoice, including the late-usage adjustments billed on
  it and its per-period minimum-commit true-up, never a term true-up. Spend counts where it
  is invoiced: an adjustment billed on an invoice inside the term counts, usage of the term
  billed after it ended does not. Credit notes and rebates do not change it.
- **which invoices** — the finalized invoices whose billing month lies inside the term and
  before the month being rated, one per month (its latest revision), plus the invoice
  being rated. A voided invoice counts nothing, so a void followed by a re-issue of that
  month can never count it twice; the re-issue counts like any finalized invoice.
- **when** — only the invoice of the term's last billing month carries the true-up; a
  preview of that month shows the projected true-up, a preview of an earlier month none.
- **which terms** — the contract version in force for the term's last billing month (at
  its start, as for every rule) decides the amount, the term and the rule; an amendment
  that extends the term moves the true-up, one that drops the commitment cancels it.
- **with a per-period minimum** — the minimum's true-up comes first and is spend that
  counts, so the term true-up is only what the term is still missing: nothing is charged
  twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from drawdown.domain.contracts import Contract, TermCommit
from drawdown.domain.instants import Period, month_period


@dataclass(frozen=True, slots=True)
class TermInvoice:
    """A stored invoice of the term, with the spend it counts toward commitments."""

    invoice_id: str
    period: Period
    spend_units: int
    voided: bool = False


@dataclass(frozen=True, slots=True)
class TermCheck:
    """The term commitment the invoice being rated closes, and what counted toward it."""

    commit: TermCommit
    contract: str  # the contract version's label, "acme@v3"
    contract_version: int
    term: Period
    committed_units: int  # the amount, rounded half-even to the minor unit
    counted: tuple[TermInvoice, ...]  # earlier invoices of the term, by period
    current_units: int  # spend of the invoice being rated

    @property
    def spend_units(self) -> int:
        return sum(i.spend_units for i in self.counted) + self.current_units

    @property
    def shortfall_units(self) -> int:
        return max(self.committed_units - self.spend_units, 0)


def term_period(commit: TermCommit, tz: ZoneInfo) -> Period:
    """The term as a half-open UTC period: local midnights of its first and end months."""
    return Period(month_period(commit.start, tz).start, month_period(commit.end, tz).start)


def closing_term(contract: Contract | None, billing: Period, tz: ZoneInfo) -> Period | None:
    """The term ``contract``'s commitment closes on ``billing``'s invoice, or None when
    ``billing`` is not the term's last billing month."""
    if contract is None or contract.term_commit is None:
        return None
    term = term_period(contract.term_commit, tz)
    return term if term.end == billing.end else None


def counted(term: Period, billing: Period, invoices: Iterable[TermInvoice]) -> tuple[TermInvoice, ...]:
    """The earlier invoices that count toward ``term``: inside it, before ``billing``, not voided."""
    found = sorted(
        (i for i in invoices
         if not i.voided and term.start <= i.period.start and i.period.end <= min(term.end, billing.start)),
        key=lambda i: i.period.start,
    )  # fmt: skip
    assert len({i.period.start for i in found}) == len(found), "one finalized invoice per account and month"
    return tuple(found)


def check(
    contract: Contract,
    term: Period,
    billing: Period,
    invoices: Iterable[TermInvoice],
    committed_units: int,
    current_units: int,
) -> TermCheck:
    assert contract.term_commit is not None
    return TermCheck(
        contract.term_commit, contract.label, contract.version, term, committed_units,
        counted(term, billing, invoices), current_units,
    )  # fmt: skip
