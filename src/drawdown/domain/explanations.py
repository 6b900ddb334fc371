"""An invoice as plain data (the frozen document) and as readable text (I3).

:func:`document` is what finalization stores and what ``explain`` reads back: for every
line the quantity and events, the price and its version, the discount rule with its
contract version, and each grant drawn with its order position, key and reason; on the
invoice of a term's last month, the term commitment: its rule, contract version, term,
committed amount, the spend counted per invoice and the shortfall; on a re-issue, the
voided invoice it replaces and why (:func:`replacing`). Amounts are
decimal strings at the currency's minor digits. Its canonical JSON is byte-identical for
identical inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drawdown.domain.commitments import TermCheck
from drawdown.domain.invoices import APPLICATION_ORDER, Invoice, Line, LineKind, Outcome
from drawdown.domain.money import Unit


def money(units: int, unit: Unit) -> str:
    """``units`` as a decimal string at the unit's minor digits (half-even, as Decimal would)."""
    step = 10 ** (unit.scale - unit.minor_digits)
    if units % step or unit.minor_digits > 6:  # Decimal's str turns to exponents below 1E-6
        return _decimal_money(units, unit)
    # A whole number of minor units, which is every invoice amount: plain integer formatting
    # gives the very string Decimal would, at a fraction of the cost (invoice runs call this
    # a few dozen times per invoice).
    minor = units // step
    if unit.minor_digits == 0:
        return str(minor)
    whole, fraction = divmod(abs(minor), 10**unit.minor_digits)
    return f"{'-' if minor < 0 else ''}{whole}.{fraction:0{unit.minor_digits}d}"


def _decimal_money(units: int, unit: Unit) -> str:
    return str(Decimal(units).scaleb(-unit.scale).quantize(Decimal(1).scaleb(-unit.minor_digits)))


def document(invoice: Invoice, grant_reasons: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """``grant_reasons`` maps a grant id to its reason_code, source and scope for the text."""
    unit = invoice.unit
    reasons = grant_reasons or {}
    subtotal = discounts = credits = 0  # one pass; net and due follow line by line
    for line in invoice.lines:
        subtotal += line.amount_units
        discounts += line.discount_units
        credits += line.credited_units
    totals = {
        "subtotal": money(subtotal, unit),
        "discounts": money(discounts, unit),
        "net": money(subtotal - discounts, unit),
        "credits": money(credits, unit),
        "amount_due": money(subtotal - discounts - credits, unit),
    }
    doc: dict[str, Any] = {
        "account": invoice.account_id,
        "currency": unit.code,
        "period": {"start": invoice.period.start.isoformat(), "end": invoice.period.end.isoformat()},
        "time_zone": invoice.time_zone,
        "issued_at": invoice.issued_at.isoformat(),
        "price_book": invoice.book,
        "contract": invoice.contract,
        "drawdown_policy": str(invoice.policy),
        "application_order": list(APPLICATION_ORDER),
        "lines": [_line(n, line, unit, reasons) for n, line in enumerate(invoice.lines, start=1)],
        "totals": totals,
        "after_finalization": [_outcome(o, unit) for o in invoice.outcomes],
    }
    if invoice.term is not None:  # only on the invoice of a term's last month
        doc["term_commit"] = _term(invoice, invoice.term)
    return doc


def replacing(doc: dict[str, Any], voided_id: str, revision: int, reason: str) -> dict[str, Any]:
    """``doc`` as the re-issue of a voided invoice: revision ``revision`` of its period,
    naming the invoice it replaces and the reason (plain data, so still byte-identical)."""
    return {**doc, "replaces": {"invoice": voided_id, "revision": revision, "reason": reason}}


def _term(invoice: Invoice, term: TermCheck) -> dict[str, Any]:
    unit = invoice.unit
    lines = [n for n, line in enumerate(invoice.lines, start=1) if line.kind is LineKind.TERM_TRUE_UP]
    counted: list[dict[str, str | None]] = [
        {"invoice": i.invoice_id, "period_start": i.period.start.isoformat(), "spend": money(i.spend_units, unit)}
        for i in term.counted
    ]
    counted.append({"invoice": None, "period_start": invoice.period.start.isoformat(),
                    "spend": money(term.current_units, unit)})  # fmt: skip
    return {
        "rule": term.commit.rule, "contract": term.contract, "contract_version": term.contract_version,
        "term": {"start": term.commit.start, "end": term.commit.end, "start_at": term.term.start.isoformat(),
                 "end_at": term.term.end.isoformat()},
        "committed": money(term.committed_units, unit),
        "basis": "spend after discounts, before credits; per-period true-ups included",
        "invoices": counted, "spend": money(term.spend_units, unit),
        "shortfall": money(term.shortfall_units, unit), "true_up_line": lines[0] if lines else None,
    }  # fmt: skip


def _line(number: int, line: Line, unit: Unit, reasons: dict[str, dict[str, str]]) -> dict[str, Any]:
    discount = None
    if line.discount is not None:
        d = line.discount
        discount = {
            "rule": d.rule, "scope": str(d.scope), "percent": str(d.percent),
            "contract_version": d.contract_version, "amount": money(line.discount_units, unit),
        }  # fmt: skip
    credits = [
        {"grant": d.grant_id, "owner": d.owner_id, "position": d.position, "amount": money(d.amount_units, unit),
         "key": d.key, **reasons.get(d.grant_id, {})}
        for d in line.credits
    ]  # fmt: skip
    return {
        "line": number,
        "kind": str(line.kind),
        "category": str(line.category),
        "product": line.product,
        "quantity": str(line.quantity),
        "events": {"count": line.event_count, "ids": list(line.event_ids)},
        "origin_period_start": None if line.origin_period_start is None else line.origin_period_start.isoformat(),
        "price": {"source": line.price_source, **line.price},
        "rated": str(line.exact),
        "amount": money(line.amount_units, unit),
        "discount": discount,
        "net": money(line.net_units, unit),
        "credits": credits,
        "due": money(line.due_units, unit),
    }


def _outcome(outcome: Outcome, unit: Unit) -> dict[str, Any]:
    return {
        "kind": outcome.kind, "rule": outcome.rule, "contract_version": outcome.contract_version,
        "amount": money(outcome.amount_units, unit), "basis": money(outcome.basis_units, unit),
        "settlement": outcome.settlement, "products": list(outcome.products),
        "incident_refs": list(outcome.incident_refs),
    }  # fmt: skip


def text(doc: dict[str, Any]) -> str:
    """The document in words, one block per line: what settles a dispute."""
    cur = doc["currency"]
    out = [
        f"Invoice for {doc['account']} · {doc['period']['start']} to {doc['period']['end']} ({doc['time_zone']})",
        f"price book {doc['price_book']} · contract {doc['contract'] or 'none'} · "
        f"drawdown policy {doc['drawdown_policy']}",
    ]
    if "replaces" in doc:
        r = doc["replaces"]
        out.append(f"revision {r['revision']}: re-issues voided invoice {r['invoice']} ({r['reason']})")
    for line in doc["lines"]:
        events = line["events"]
        origin = f" for the period from {line['origin_period_start']}" if line["origin_period_start"] else ""
        out.append(
            f"\n{line['line']}. {line['kind']} {line['category']}/{line['product']}{origin}: "
            f"quantity {line['quantity']} from {events['count']} events{_ids(events)}"
        )
        out.append(f"   price {line['price']['model']} from {line['price']['source']}: {line['amount']} {cur}")
        if line["discount"]:
            d = line["discount"]
            out.append(
                f"   discount {d['percent']}% by rule {d['rule']} ({d['scope']}, contract v{d['contract_version']}): "
                f"-{d['amount']} {cur}"
            )
        for c in line["credits"]:
            why = c.get("reason_code", "")
            scope = c.get("scope", "")
            out.append(
                f"   credit -{c['amount']} {cur} from grant {c['grant']} (position {c['position']} in the drawdown "
                f"order; scope {scope}; reason {why})"
            )
        out.append(f"   due {line['due']} {cur}")
    t = doc["totals"]
    out.append(
        f"\nsubtotal {t['subtotal']} − discounts {t['discounts']} − credits {t['credits']} = "
        f"amount due {t['amount_due']} {cur}"
    )
    if "term_commit" in doc:
        out.extend(_term_text(doc["term_commit"], cur))
    for o in doc["after_finalization"]:
        refs = f" (incidents {', '.join(o['incident_refs'])})" if o["incident_refs"] else ""
        out.append(f"{o['kind']} {o['amount']} {cur} by rule {o['rule']} (contract v{o['contract_version']}), "
                   f"paid as {o['settlement']}{refs}")  # fmt: skip
    return "\n".join(out)


def _term_text(term: Mapping[str, Any], cur: str) -> list[str]:
    span = term["term"]
    out = [
        f"\nterm commitment {term['committed']} {cur} by rule {term['rule']} (contract {term['contract']}, "
        f"v{term['contract_version']}) over the term {span['start']} to {span['end']} "
        f"[{span['start_at']}, {span['end_at']}), counting {term['basis']}:"
    ]
    for i in term["invoices"]:
        which = f"invoice {i['invoice']}" if i["invoice"] else "this invoice"
        out.append(f"   {which} for the period from {i['period_start']}: {i['spend']} {cur}")
    if term["true_up_line"] is None:
        out.append(f"   term spend {term['spend']} {cur} meets the commitment: no term true-up")
    else:
        out.append(f"   term spend {term['spend']} {cur}, shortfall {term['shortfall']} {cur}: "
                   f"term true-up on line {term['true_up_line']}")  # fmt: skip
    return out


def _ids(events: Mapping[str, Any]) -> str:
    """The first event ids behind a line, as far as the document lists them."""
    ids = list(events.get("ids") or [])
    if not ids:
        return ""
    more = ", …" if events["count"] > len(ids) else ""
    return f" ({', '.join(ids)}{more})"
