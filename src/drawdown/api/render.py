"""Domain values to response bodies: amounts as decimal strings at the unit's scale."""

from __future__ import annotations

from collections.abc import Callable

from drawdown.api import schemas as s
from drawdown.api import schemas_metering as m
from drawdown.domain.accounts import Account
from drawdown.domain.audit import AuditRecord
from drawdown.domain.balances import Balance
from drawdown.domain.enforcement import AccountEnforcement
from drawdown.domain.holds import Hold
from drawdown.domain.ledger import Transaction
from drawdown.domain.money import Unit, format_units
from drawdown.domain.rates import RateCard
from drawdown.domain.usage import Meter
from drawdown.services.charges import ChargeResult
from drawdown.services.enforcement import Decision
from drawdown.services.queries import GrantView, VerifyReport
from drawdown.services.usage import IngestReport, MeterReading

UnitOf = Callable[[str], Unit]


def account(a: Account, unit_of: UnitOf) -> s.AccountOut:
    caps = {
        code: s.PoolCapOut(amount=format_units(cap.amount_units, unit_of(code)), period=str(cap.period))
        for code, cap in a.pool_caps.items()
    }
    return s.AccountOut(
        id=a.id, currency=a.currency, time_zone=a.time_zone, parent=a.parent_id,
        drawdown_policy=str(a.drawdown_policy), pool_caps=caps, metadata=dict(a.metadata),
        created_at=a.created_at.isoformat(),
    )  # fmt: skip


def grant(view: GrantView, unit: Unit) -> s.GrantOut:
    st, g = view.state, view.state.grant

    def amt(units: int) -> str:
        return format_units(units, unit)

    cap = g.period_cap
    return s.GrantOut(
        id=g.id, account=g.account_id, unit=g.unit, amount=amt(g.amount_units), source=str(g.source),
        status=view.status, used=amt(st.used_units), remaining=amt(st.remaining_units), held=amt(st.held_units),
        expired=amt(st.expired_units), voided=amt(st.voided_units), effective_at=g.effective_at.isoformat(),
        expires_at=None if g.expires_at is None else g.expires_at.isoformat(), priority=g.priority,
        scope=g.scope.describe(), cost_basis=str(g.cost_basis),
        cap=None if cap is None else amt(cap.amount_units), cap_period=None if cap is None else str(cap.period),
        invoice_cap=None if g.invoice_cap_units is None else amt(g.invoice_cap_units), reason_code=g.reason_code,
        issuer=g.issuer, external_ref=g.external_ref, metadata=dict(g.metadata), created_at=g.created_at.isoformat(),
    )  # fmt: skip


def balance(b: Balance, unit: Unit) -> s.BalanceOut:
    def amt(units: int) -> str:
        return format_units(units, unit)

    return s.BalanceOut(
        account=b.account_id, unit=b.unit, as_of=b.as_of.isoformat(), available=amt(b.available_units),
        reserved=amt(b.reserved_units), consumed=amt(b.consumed_units), expired=amt(b.expired_units),
        voided=amt(b.voided_units), pending=amt(b.pending_units), issued=amt(b.issued_units),
        pooled_available=amt(b.pooled_available_units),
    )  # fmt: skip


def transaction(tx: Transaction, unit_of: UnitOf, *, only_account: str | None = None) -> s.TransactionOut:
    """``only_account`` (a customer key's view) keeps just that account's postings and hides
    which other account's grant paid a pooled draw: owner and grant id become null."""
    postings = []
    for p in tx.postings:
        if only_account is not None and p.account_id != only_account:
            continue
        hidden = only_account is not None and p.owner_id not in (None, only_account)
        postings.append(
            s.PostingOut(
                kind=str(p.kind),
                account=p.account_id,
                unit=p.unit,
                amount=format_units(p.amount, unit_of(p.unit)),
                grant_id=None if hidden else p.grant_id,
                owner=None if hidden else p.owner_id,
            )
        )
    return s.TransactionOut(
        id=tx.id, seq=tx.seq, kind=str(tx.kind), effective_at=tx.effective_at.isoformat(),
        recorded_at=tx.recorded_at.isoformat(), actor=tx.actor, reason=tx.reason, links=dict(tx.links),
        data=dict(tx.data), postings=postings, hash=tx.hash, prev_hash=tx.prev_hash,
    )  # fmt: skip


def charge(result: ChargeResult) -> s.ChargeOut:
    return s.ChargeOut(
        transaction_id=result.transaction.id, amount=str(result.amount), drawn=str(result.drawn),
        shortfall=str(result.shortfall),
        draws=[s.DrawOut(grant_id=d.grant_id, amount=str(d.amount), position=d.position) for d in result.draws],
    )  # fmt: skip


def verify(report: VerifyReport) -> s.VerifyOut:
    brk = report.first_break
    return s.VerifyOut(
        ok=report.ok, transactions=report.transactions, head_seq=report.head_seq, head_hash=report.head_hash,
        first_break=None if brk is None else s.ChainBreakOut(seq=brk.seq, transaction_id=brk.transaction_id,
                                                              problem=brk.problem),
    )  # fmt: skip


def audit(r: AuditRecord) -> s.AuditOut:
    return s.AuditOut(
        id=r.id, at=r.at.isoformat(), key_id=r.key_id, role=r.role, request_id=r.request_id, operation=r.operation,
        method_path=r.method_path, account=r.account_id, reason=r.reason, transaction_ids=list(r.transaction_ids),
        idempotency_key=r.idempotency_key,
    )  # fmt: skip


# -- usage and enforcement -------------------------------------------------------------------


def ingest(report: IngestReport) -> m.IngestOut:
    results = [m.EventResultOut(index=r.index, key=r.key, status=r.status, code=r.code, message=r.message)
               for r in report.results]  # fmt: skip
    return m.IngestOut(
        accepted=report.accepted, duplicates=report.duplicates, rejected=report.count("rejected"), results=results
    )


def meter(x: Meter) -> m.MeterOut:
    return m.MeterOut(id=x.id, event_type=x.event_type, aggregation=str(x.aggregation), property=x.property,
                      filters=dict(x.filters))  # fmt: skip


def readings(meter_id: str, account_id: str, found: list[MeterReading]) -> m.ReadingList:
    items = [m.ReadingOut(start=r.period.start.isoformat(), end=r.period.end.isoformat(),
                          value=format(r.value.normalize(), "f")) for r in found]  # fmt: skip
    return m.ReadingList(meter=meter_id, account=account_id, items=items)


def decision(d: Decision, unit: Unit) -> m.DecisionOut:
    return m.DecisionOut(
        allowed=d.allowed, reason=d.reason, mode=d.mode, unit=d.cost.unit.code, cost=str(d.cost),
        covered=str(d.covered), overdraft_headroom=str(d.overdraft_headroom), balance=balance(d.balance, unit),
    )  # fmt: skip


def hold(h: Hold, unit: Unit) -> m.HoldOut:
    return m.HoldOut(
        id=h.id, account=h.account_id, unit=h.unit, feature=h.feature, quantity=format(h.quantity, "f"),
        rate=format(h.rate, "f"), amount=format_units(h.amount_units, unit), status=str(h.status),
        created_at=h.created_at.isoformat(), expires_at=h.expires_at.isoformat(),
        captured=format_units(h.captured_units, unit), released=format_units(h.released_units, unit),
        resolved_at=None if h.resolved_at is None else h.resolved_at.isoformat(), hold_transaction_id=h.hold_tx_id,
        resolution_transaction_id=h.resolution_tx_id,
    )  # fmt: skip


def rate_card(c: RateCard) -> m.RateCardOut:
    return m.RateCardOut(id=c.id, version=c.version, unit=c.unit, effective_at=c.effective_at.isoformat(),
                         rates={k: format(v, "f") for k, v in c.rates.items()})  # fmt: skip


def enforcement(e: AccountEnforcement, unit_of: UnitOf) -> m.EnforcementOut:
    overdraft = {code: format_units(units, unit_of(code)) for code, units in (e.overdraft_limits or {}).items()}
    return m.EnforcementOut(account=e.account_id, mode=str(e.mode), overdraft_limits=overdraft,
                            rate_card=e.rate_card_id, rate_card_version=e.rate_card_version)  # fmt: skip
