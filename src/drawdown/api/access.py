"""Who may call what: THE table from route to roles, and the customer-key account fence.

Every route under ``/v1`` appears here by its operation id (a test fails otherwise, and a
test calls every route with every role). A role missing from a route's set gets 403
``forbidden``. A customer key is further fenced to its one account: any other account's or
grant's id answers 404 exactly as if it did not exist, so ids cannot be probed.
"""

from __future__ import annotations

from drawdown.domain.access import Principal, Role
from drawdown.domain.errors import Forbidden, HoldNotFound, InvoiceNotFound
from drawdown.services.common import account_not_found, grant_not_found

A, F, S, V, C = Role.ADMIN, Role.FINANCE, Role.SUPPORT, Role.SERVICE, Role.CUSTOMER
PUBLIC: frozenset[Role] = frozenset()  # no key needed

ROUTE_ROLES: dict[str, frozenset[Role]] = {
    "health": PUBLIC,
    "create_unit": frozenset({A}),
    "get_unit": frozenset({A, F, S, V, C}),
    "create_account": frozenset({A, F}),
    "list_accounts": frozenset({A, F, S, C}),
    "get_account": frozenset({A, F, S, C}),
    "issue_grant": frozenset({A, F, S}),  # support: up to its grant limit
    "issue_grants": frozenset({A, F, S}),  # support: each grant up to its grant limit
    "list_grants": frozenset({A, F, S, C}),
    "get_grant": frozenset({A, F, S, C}),
    "void_grant": frozenset({A, F, S}),
    "get_balance": frozenset({A, F, S, V, C}),
    "get_ledger": frozenset({A, F, S, C}),
    "create_charge": frozenset({A, V}),
    "verify": frozenset({A, F}),
    "list_audit": frozenset({A, F}),
    # usage and enforcement (issue 3)
    "ingest_events": frozenset({A, V}),
    "ingest_events_ndjson": frozenset({A, V}),
    "create_meter": frozenset({A, F}),
    "get_meter_readings": frozenset({A, F, S, V, C}),  # customer: its own account only
    "authorize": frozenset({A, V}),
    "create_hold": frozenset({A, V}),
    "capture_hold": frozenset({A, V}),
    "release_hold": frozenset({A, V}),
    "get_hold": frozenset({A, F, S, V, C}),  # customer: its own account's holds only
    "create_rate_card": frozenset({A, F}),
    "configure_enforcement": frozenset({A, F}),
    "set_kill_switch": frozenset({A, F}),
    # pricing and invoicing (issue 5)
    "publish_price_book": frozenset({A, F}),
    "amend_contract": frozenset({A, F}),
    "list_contracts": frozenset({A, F, S, C}),  # customer: its own account only
    "preview_invoice": frozenset({A, F, S, C}),  # customer: its own account only
    "finalize_invoice": frozenset({A, F}),
    "get_invoice": frozenset({A, F, S, C}),  # customer: its own invoices only
    "explain_invoice": frozenset({A, F, S, C}),
    "void_invoice": frozenset({A, F}),
    "reissue_invoice": frozenset({A, F}),
    "issue_credit_note": frozenset({A, F}),
    # FinOps cloud credits (issue 6)
    "list_finops_nodes": frozenset({A, F, S}),
    "create_finops_node": frozenset({A, F}),
    "list_finops_rules": frozenset({A, F, S}),
    "create_finops_rule": frozenset({A, F}),
    "list_finops_credits": frozenset({A, F, S}),
    "allocate_finops_credit": frozenset({A, F}),
    "get_finops_report": frozenset({A, F, S}),
    "list_finops_expiring": frozenset({A, F, S}),
}


def allow(route: str, principal: Principal) -> None:
    if principal.role not in ROUTE_ROLES[route]:
        allowed = ", ".join(sorted(ROUTE_ROLES[route]))
        raise Forbidden(
            f"a {principal.role} key may not call {route}; it needs one of: {allowed}", role=str(principal.role)
        )


def fence_account(principal: Principal, account_id: str, *, field: str = "account") -> None:
    """A customer key sees its own account only; any other id looks like a missing account."""
    if principal.role is Role.CUSTOMER and account_id != principal.account_id:
        raise account_not_found(account_id, field=field)


def fence_grant(principal: Principal, grant_id: str, grant_account: str) -> None:
    if principal.role is Role.CUSTOMER and grant_account != principal.account_id:
        raise grant_not_found(grant_id)


def fence_hold(principal: Principal, hold_id: str, hold_account: str) -> None:
    if principal.role is Role.CUSTOMER and hold_account != principal.account_id:
        raise HoldNotFound(f"no hold has the id {hold_id[:80]!r}", field="hold_id")


def fence_invoice(principal: Principal, invoice_id: str, invoice_account: str) -> None:
    if principal.role is Role.CUSTOMER and invoice_account != principal.account_id:
        raise InvoiceNotFound(f"no invoice has the id {invoice_id[:80]!r}", field="invoice_id")
