"""The embedded Python API: ``drawdown.open(url)`` returns a :class:`Book`.

A book is the same engine the server runs, without the server: every method is one
service call in one database transaction. Amounts go in as decimal strings (or
``Decimal``); floats are refused. Instants are aware datetimes or ISO 8601 strings.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from drawdown import bootstrap, finops_import
from drawdown.domain import limits
from drawdown.domain.access import Principal
from drawdown.domain.accounts import Account
from drawdown.domain.audit import ApiKey, AuditRecord
from drawdown.domain.balances import Balance
from drawdown.domain.contracts import Availability, Contract
from drawdown.domain.enforcement import AccountEnforcement
from drawdown.domain.finops import MappingRule, Node
from drawdown.domain.grants import Grant
from drawdown.domain.holds import Hold
from drawdown.domain.invoice_records import CreditNote
from drawdown.domain.ledger import Transaction
from drawdown.domain.money import Unit
from drawdown.domain.pricing import PriceBook
from drawdown.domain.rates import RateCard
from drawdown.domain.usage import Meter
from drawdown.importers import ProgressCallback
from drawdown.services import (
    accounts,
    charges,
    enforcement,
    finops,
    finops_ledger,
    finops_report,
    grants,
    holds,
    invoice_runs,
    invoices,
    keys,
    pricing,
    queries,
    requests,
    upkeep,
    usage,
    usage_burns,
)
from drawdown.services.charges import ChargeResult
from drawdown.services.enforcement import Decision
from drawdown.services.finops import ImportReport
from drawdown.services.finops_report import CreditView, Expiring, NetCost
from drawdown.services.grants import GrantRequest
from drawdown.services.invoice_runs import RunReport
from drawdown.services.invoices import InvoiceView
from drawdown.services.keys import CreatedKey
from drawdown.services.ports import Clock, Deps
from drawdown.services.queries import GrantView, VerifyReport
from drawdown.services.upkeep import SweepReport
from drawdown.services.usage import IngestReport, MeterReading
from drawdown.services.usage_burns import BurnReport
from drawdown.storage.fast_reads import CurrentBalances


class Book:
    """A credit ledger stored at one database URL."""

    def __init__(self, deps: Deps, engine: Engine, *, actor: str = "library") -> None:
        self.deps = deps
        self.engine = engine
        self.actor = actor

    def close(self) -> None:
        if isinstance(self.deps.current_balances, CurrentBalances):
            self.deps.current_balances.close()
        self.engine.dispose()

    def __enter__(self) -> Book:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- set-up --------------------------------------------------------------------------

    def define_unit(self, code: str, *, scale: int) -> Unit:
        """Define a custom credit unit such as ``API_CREDIT`` kept at ``scale`` decimals."""
        return accounts.define_unit(self.deps, code, scale)

    def create_account(
        self,
        account_id: str,
        *,
        currency: str,
        time_zone: str = "UTC",
        parent: str | None = None,
        drawdown_policy: str = "default",
        pool_caps: Mapping[str, tuple[object, str]] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Account:
        """Create an account. ``pool_caps`` maps a unit to (amount, period): the sub-budget
        this account may draw from its ancestors' grants per day, week, month or lifetime."""
        return accounts.create_account(
            self.deps, account_id, currency=currency, time_zone=time_zone, parent=parent,
            drawdown_policy=drawdown_policy, pool_caps=pool_caps, metadata=metadata,
        )  # fmt: skip

    # -- writes --------------------------------------------------------------------------

    def issue_grant(
        self,
        account: str,
        amount: object,
        unit: str,
        *,
        idempotency_key: str | None = None,
        actor: str | None = None,
        **fields: object,
    ) -> Grant:
        """Issue a grant; ``fields`` are those of :class:`GrantRequest` (source, expires_at,
        priority, scope, cost_basis, cap, cap_period, invoice_cap, reason_code, …)."""
        request = GrantRequest(account=account, amount=amount, unit=unit, **fields)  # type: ignore[arg-type]
        return grants.issue_grant(self.deps, request, actor=actor or self.actor, idempotency_key_=idempotency_key)

    def charge(
        self,
        account: str,
        amount: object,
        unit: str,
        *,
        category: str = "usage",
        product: str = "default",
        at: object = None,
        allow_partial: bool = False,
        idempotency_key: str | None = None,
        actor: str | None = None,
        reason: str = "",
    ) -> ChargeResult:
        """Burn credit for a charge through the drawdown order."""
        return charges.charge(
            self.deps, account, amount, unit, category=category, product=product, at=at,
            allow_partial=allow_partial, actor=actor or self.actor, reason=reason, idempotency_key_=idempotency_key,
        )  # fmt: skip

    def void_grant(
        self, grant_id: str, *, reason: str, idempotency_key: str | None = None, actor: str | None = None
    ) -> Transaction:
        """Void a grant's unused remainder. Irreversible; what was consumed stays consumed."""
        return grants.void_grant(
            self.deps, grant_id, reason=reason, actor=actor or self.actor, idempotency_key_=idempotency_key
        )

    def expire_due(self, *, now: datetime | None = None) -> list[Transaction]:
        """Expire every grant whose expiry has passed; safe to run any number of times."""
        return grants.expire_due(self.deps, now=now)

    # -- metering and enforcement ---------------------------------------------------------

    def define_meter(
        self,
        meter_id: str,
        *,
        event_type: str,
        aggregation: str,
        property: str | None = None,
        filters: Mapping[str, object] | None = None,
    ) -> Meter:
        """Define a meter: ``sum``, ``count``, ``max`` or ``unique_count`` of events of a type."""
        return usage.define_meter(
            self.deps, meter_id, event_type=event_type, aggregation=aggregation, property=property, filters=filters
        )

    def ingest(self, events: Sequence[Mapping[str, Any]]) -> IngestReport:
        """Record up to 10,000 usage events; each gets accepted, duplicate or rejected."""
        return usage.ingest(self.deps, events)

    def ingest_ndjson(self, data: bytes) -> IngestReport:
        """Record up to 10,000 events given as NDJSON bytes; a result's index is its 0-based line."""
        return usage.ingest_ndjson(self.deps, data)

    def set_late_cutoff(self, seconds: int) -> None:
        """How old an event may be when it arrives (default 7 days)."""
        usage.set_late_cutoff(self.deps, seconds)

    def meter(
        self, meter_id: str, account: str, *, start: object, end: object, period: str | None = "day"
    ) -> list[MeterReading]:
        """A meter's value per day, week or month in the account's time zone."""
        return usage.meter_readings(self.deps, meter_id, account, start=start, end=end, period=period)

    def burn_usage(self) -> BurnReport:
        """Charge async-mode accounts for their unburned events; safe to run any number of times."""
        return usage_burns.burn_usage(self.deps)

    def define_rate_card(
        self, card_id: str, unit: str, rates: Mapping[str, object], *, effective_at: object = None
    ) -> RateCard:
        """Add the next version of a rate card: feature → credits per unit of ``unit``."""
        return enforcement.define_rate_card(self.deps, card_id, unit, rates, effective_at)

    def configure_account(
        self,
        account: str,
        *,
        mode: str | None = None,
        overdraft_limits: Mapping[str, object] | None = None,
        rate_card: str | None = None,
        rate_card_version: int | None = None,
    ) -> AccountEnforcement:
        """Set an account's mode (enforce, async, shadow), overdraft limits and rate-card pin."""
        return enforcement.configure_account(
            self.deps, account, mode=mode, overdraft_limits=overdraft_limits, rate_card=rate_card,
            rate_card_version=rate_card_version,
        )  # fmt: skip

    def set_kill_switch(self, engaged: bool) -> None:
        """While engaged, every authorization is denied and every reserve refused."""
        enforcement.set_kill_switch(self.deps, engaged)

    def authorize(self, account: str, feature: str, quantity: object = "1") -> Decision:
        """May ``account`` use ``quantity`` of ``feature`` now? Writes nothing (shadow mode logs)."""
        return enforcement.authorize(self.deps, account, feature, quantity)

    def reserve(
        self,
        account: str,
        feature: str,
        quantity: object = "1",
        *,
        ttl_seconds: int = 300,
        idempotency_key: str | None = None,
        actor: str | None = None,
    ) -> Hold:
        """Hold the credit ``quantity`` of ``feature`` costs until capture, release or expiry."""
        return holds.reserve(
            self.deps, account, feature, quantity, ttl_seconds=ttl_seconds, actor=actor or self.actor,
            idempotency_key_=idempotency_key,
        )  # fmt: skip

    def capture(
        self, hold_id: str, quantity: object, *, idempotency_key: str | None = None, actor: str | None = None
    ) -> Hold:
        """Burn what ``quantity`` costs (at most what is held) and release the rest."""
        return holds.capture(self.deps, hold_id, quantity, actor=actor or self.actor, idempotency_key_=idempotency_key)

    def release(self, hold_id: str, *, idempotency_key: str | None = None, actor: str | None = None) -> Hold:
        """Return all of a hold's credit."""
        return holds.release(self.deps, hold_id, actor=actor or self.actor, idempotency_key_=idempotency_key)

    def hold(self, hold_id: str) -> Hold:
        return holds.hold(self.deps, hold_id)

    def sweep(self) -> SweepReport:
        """One upkeep pass: release expired holds, expire lapsed grants, burn async usage."""
        return upkeep.sweep(self.deps)

    def expire_holds(self, *, now: datetime | None = None) -> list[Hold]:
        """Release every open hold past its TTL; safe to run any number of times."""
        return holds.expire_holds(self.deps, now=now)

    # -- pricing, contracts and invoices -------------------------------------------------

    def publish_price_book(
        self, book_id: str, unit: str, prices: Sequence[Mapping[str, Any]], *, effective_at: object = None
    ) -> PriceBook:
        """Publish the next version of a price book (accounts without a contract use ``default``).
        Each price is a dict: product, category, model, unit_price / flat_amount / package_size / tiers."""
        return pricing.publish_price_book(self.deps, book_id, unit, prices, effective_at=effective_at)

    def amend_contract(self, account: str, terms: Mapping[str, Any], *, effective_at: object = None) -> Contract:
        """Add the next version of an account's contract (the first version creates it)."""
        return pricing.amend_contract(self.deps, account, terms, effective_at=effective_at)

    def contracts(self, account: str) -> list[Contract]:
        """Every version of the account's contract, oldest first (amendments keep history)."""
        return pricing.contracts(self.deps, account)

    def record_usage(self, account: str, events: Sequence[Mapping[str, Any]]) -> int:
        """Store usage events (event_id, product, quantity, occurred_at); repeats are ignored."""
        return pricing.record_usage(self.deps, account, events)

    def record_availability(
        self, account: str, product: str, percent: object, incident_ref: str, *, occurred_at: object = None
    ) -> Availability:
        """Record measured availability of a product and the incident behind it (SLA input)."""
        return pricing.record_availability(self.deps, account, product, percent, incident_ref, occurred_at=occurred_at)

    def preview_invoice(self, account: str, period: str) -> InvoiceView:
        """The invoice for month ``YYYY-MM`` as it would be now; writes nothing."""
        return invoices.preview_invoice(self.deps, account, period)

    def finalize_invoice(self, account: str, period: str, *, actor: str | None = None) -> InvoiceView:
        """Freeze the invoice for an ended month and post the credits it draws (idempotent)."""
        return invoices.finalize_invoice(self.deps, account, period, actor=actor or self.actor)

    def void_invoice(self, invoice_id: str, *, reason: str, actor: str | None = None) -> InvoiceView:
        """Void a finalized invoice and reinstate the credits it drew."""
        return invoices.void_invoice(self.deps, invoice_id, reason=reason, actor=actor or self.actor)

    def reissue_invoice(self, invoice_id: str, *, reason: str, actor: str | None = None) -> InvoiceView:
        """Bill a voided invoice's period again with today's terms and credits, over the usage
        it billed; its revision is one more. Re-issuing it again returns the same replacement."""
        return invoices.reissue_invoice(self.deps, invoice_id, reason=reason, actor=actor or self.actor)

    def issue_credit_note(
        self, invoice_id: str, amount: object, *, reason: str, actor: str | None = None
    ) -> CreditNote:
        """Correct a finalized invoice by reducing what it still owes."""
        return invoices.issue_credit_note(self.deps, invoice_id, amount, reason=reason, actor=actor or self.actor)

    def invoice(self, invoice_id: str) -> InvoiceView:
        """A finalized or voided invoice, with its explanation document."""
        return invoices.get_invoice(self.deps, invoice_id)

    def run_invoices(
        self, period: str, *, on_progress: Callable[[int, int], None] | None = None, workers: int = 0
    ) -> RunReport:
        """Finalize month ``YYYY-MM`` for every account; safe to re-run after a stop.

        ``workers`` > 0 rates pages of accounts in that many worker processes while this
        one writes (an SQLite file store; a script doing this needs the
        ``if __name__ == "__main__":`` guard of any multiprocessing code).
        """
        return invoice_runs.run_invoices(self.deps, period, actor=self.actor, on_progress=on_progress, workers=workers)

    # -- FinOps cloud credits (issue 6) ---------------------------------------------------

    def finops_add_node(
        self, node_id: str, *, level: str, name: str, parent: str | None = None, currency: str = "USD"
    ) -> Node:
        """Add a Business Unit / Department / Portfolio / Product node (and its FIFO account)."""
        return finops.add_node(self.deps, node_id, level=level, name=name, parent=parent, currency=currency)

    def finops_nodes(self) -> list[Node]:
        return finops.nodes(self.deps)

    def finops_add_rule(
        self, rule_id: str, *, kind: str, value: str, node: str, key: str = "", priority: int = 100
    ) -> MappingRule:
        """Map spend to a node by ``usage_account``, ``tag`` (key = tag) or ``cost_category``."""
        return finops.add_rule(self.deps, rule_id, kind=kind, value=value, node=node, key=key, priority=priority)

    def finops_rules(self) -> list[MappingRule]:
        return finops.mapping_rules(self.deps)

    def finops_import(
        self,
        path: str | Path,
        *,
        export_date: date | None = None,
        on_progress: ProgressCallback | None = None,
        actor: str | None = None,
    ) -> ImportReport:
        """Import a CUR 1.0 / CUR 2.0 / FOCUS export: spend per node, detected credits, draws."""
        return finops_import.import_file(
            self.deps, Path(path), actor=actor or self.actor, export_date=export_date, on_progress=on_progress
        )

    def finops_allocate(
        self,
        credit_id: str,
        *,
        node: str,
        amount: object,
        end_date: date,
        reason: str,
        reference: str | None = None,
        actor: str | None = None,
        consume: bool = True,
    ) -> CreditView:
        """Issue a detected credit as a ``cloud`` grant on a node (or reallocate it), then draw
        uncovered spend (``consume=False`` defers that to :meth:`finops_consume`)."""
        finops_ledger.allocate(
            self.deps, credit_id, node=node, amount=amount, end_date=end_date, reference=reference,
            actor=actor or self.actor, reason=reason, consume_now=consume,
        )  # fmt: skip
        return next(c for c in finops_report.credits(self.deps) if c.id == credit_id)

    def finops_consume(self, *, actor: str | None = None) -> int:
        """Draw allocated credit for every spend row not yet covered; returns the units drawn."""
        return finops_ledger.consume(self.deps, actor=actor or self.actor)

    def finops_credits(self) -> list[CreditView]:
        """Every detected credit: the unallocated queue and the allocated credits' figures."""
        return finops_report.credits(self.deps)

    def finops_net_cost(self) -> list[NetCost]:
        return finops_report.net_cost(self.deps)

    def finops_expiring(self) -> list[Expiring]:
        return finops_report.expiring(self.deps)

    # -- reads ---------------------------------------------------------------------------

    def unit(self, code: str) -> Unit:
        """A currency or defined credit unit, with the scale its amounts are kept at."""
        return queries.unit(self.deps, code)

    def balance(self, account: str, unit: str | None = None, *, as_of: object = None) -> Balance:
        return queries.balance(self.deps, account, unit, as_of=as_of)

    def grants(self, account: str, unit: str | None = None, *, as_of: object = None) -> list[GrantView]:
        return queries.grants(self.deps, account, unit, as_of=as_of)

    def ledger(self, account: str, *, as_of: object = None, after_seq: int = 0, limit: int = 100) -> list[Transaction]:
        return queries.ledger(self.deps, account, as_of=as_of, after_seq=after_seq, limit=limit)

    def verify(self) -> VerifyReport:
        return queries.verify(self.deps)

    def account(self, account_id: str) -> Account:
        return queries.account(self.deps, account_id)

    def accounts(self, *, after: str | None = None, limit: int = 100, parent: str | None = None) -> list[Account]:
        return queries.accounts(self.deps, after=after, limit=limit, parent=parent)

    def grant(self, grant_id: str, *, as_of: object = None) -> GrantView:
        return queries.grant(self.deps, grant_id, as_of=as_of)

    def audit(self, *, after: str | None = None, limit: int = 100, account: str | None = None) -> list[AuditRecord]:
        """The audit trail (A1): every write with its actor, request, reason and transactions."""
        return queries.audit(self.deps, after=after, limit=limit, account=account)

    # -- API keys ------------------------------------------------------------------------

    def create_key(
        self, role: str, *, account: str | None = None, grant_limit: str | None = None, label: str = ""
    ) -> CreatedKey:
        """Create an API key; ``CreatedKey.token`` is the only time the secret is shown."""
        return keys.create_key(
            self.deps, role, secret=secrets.token_urlsafe(32), account=account, grant_limit=grant_limit,
            label=label, actor=self.actor,
        )  # fmt: skip

    def revoke_key(self, key_id: str) -> ApiKey:
        return keys.revoke_key(self.deps, key_id, actor=self.actor)

    def keys(self) -> list[ApiKey]:
        return keys.list_keys(self.deps)

    def authenticate(self, token: str) -> Principal:
        return keys.authenticate(self.deps, token)

    def purge_stored_responses(self, *, keep_seconds: int = limits.IDEMPOTENCY_RETENTION_SECONDS) -> int:
        """Delete API responses kept for idempotent replay once older than ``keep_seconds`` (≥ 24 h)."""
        return requests.purge_stored_responses(self.deps, keep_seconds=keep_seconds)


def open_book(url: str | None = None, *, clock: Clock | None = None, actor: str = "library") -> Book:
    """Open (creating and migrating if needed) the book at ``url``.

    ``url`` defaults to ``$DRAWDOWN_DB`` or ``sqlite:///drawdown.db``.
    """
    deps, engine = bootstrap.build(url, clock=clock)
    return Book(deps, engine, actor=actor)
