"""Domain values to response bodies: amounts as decimal strings at the unit's scale."""

from __future__ import annotations

from collections.abc import Callable

from drawdown.api import schemas as s
from drawdown.domain.accounts import Account
from drawdown.domain.audit import AuditRecord
from drawdown.domain.balances import Balance
from drawdown.domain.ledger import Transaction
from drawdown.domain.money import Unit, format_units
from drawdown.services.charges import ChargeResult
from drawdown.services.queries import GrantView, VerifyReport

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
