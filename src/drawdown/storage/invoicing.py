"""Repositories for price books, contracts, invoices and the stored usage source.

Price books and contracts are insert-only (a new version, never an edit). An invoice row
is inserted once at finalization; only its status and ``voided_at`` change afterwards.
A period's invoices are numbered by ``revision`` (a re-issue of a voided one is the next),
and the UNIQUE (account_id, period_start, revision) constraint makes a second invoice of
one revision impossible whatever the callers do. Reads of "the invoice of a period" take
its latest revision.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from drawdown.domain import limits
from drawdown.domain.billed_usage import (
    MeterEvent,
    UsageEvent,
    UsageTotal,
    additive,
    combine,
    metered_events,
    metered_totals,
    stored_total,
    summed_in_store,
)
from drawdown.domain.commitments import TermInvoice
from drawdown.domain.contracts import Availability, Contract
from drawdown.domain.instants import Period, from_micros, to_micros
from drawdown.domain.invoice_records import CreditNote, FrozenInvoice, InvoiceStatus, StoredInvoice
from drawdown.domain.ledger import canonical_json
from drawdown.domain.pricing import PriceBook
from drawdown.domain.terms import contract_data, contract_from, prices_data, prices_from
from drawdown.domain.usage import Aggregation, Meter
from drawdown.storage import statements as sql
from drawdown.storage.metering_store import add_sums, quantity_sum
from drawdown.storage.schema import (
    availability_records,
    contracts,
    credit_notes,
    invoices,
    meters,
    price_books,
    usage_events,
    usage_lines,
)

MICRO = Decimal(1_000_000)
_NEVER = -(2**62)


class PriceBooks:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def versions(self, book_id: str) -> list[PriceBook]:
        t = price_books.c
        query = select(price_books).where(t.id == book_id).order_by(t.version)
        return [
            PriceBook(r.id, r.version, from_micros(r.effective_at), r.unit, prices_from(json.loads(r.prices)))
            for r in self.conn.execute(query)
        ]

    def add(self, book: PriceBook, created_at: datetime) -> None:
        self.conn.execute(
            insert(price_books).values(
                id=book.id, version=book.version, effective_at=to_micros(book.effective_at), unit=book.unit,
                prices=canonical_json(prices_data(book.prices)), created_at=to_micros(created_at),
            )
        )  # fmt: skip


class Contracts:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def versions(self, account_id: str) -> list[Contract]:
        t = contracts.c
        query = select(contracts).where(t.account_id == account_id).order_by(t.version)
        return [_contract(r.account_id, r.version, r.effective_at, r.terms) for r in self.conn.execute(query)]

    def versions_many(self, account_ids: Sequence[str]) -> dict[str, list[Contract]]:
        t = contracts.c
        found: dict[str, list[Contract]] = {a: [] for a in account_ids}
        query = select(contracts).where(t.account_id.in_(account_ids)).order_by(t.account_id, t.version)
        for r in self.conn.execute(query):
            found[r.account_id].append(_contract(r.account_id, r.version, r.effective_at, r.terms))
        return found

    def add(self, contract: Contract, created_at: datetime) -> None:
        self.conn.execute(
            insert(contracts).values(
                account_id=contract.account_id, version=contract.version,
                effective_at=to_micros(contract.effective_at), terms=canonical_json(contract_data(contract)),
                created_at=to_micros(created_at),
            )
        )  # fmt: skip


# Stored terms text -> one parsed version with those terms. Many accounts sign the same
# terms, and a version's fields other than who and when come from the text alone, which is
# insert-only: a cached parse can never be stale.
_PARSED_TERMS: dict[str, Contract] = {}


def _contract(account_id: str, version: int, effective_micros: int, terms: str) -> Contract:
    effective_at = from_micros(effective_micros)
    parsed = _PARSED_TERMS.get(terms)
    if parsed is None:
        parsed = contract_from(account_id, version, effective_at, json.loads(terms))
        if len(_PARSED_TERMS) >= limits.CONTRACT_TERMS_CACHE_ENTRIES_MAX:
            _PARSED_TERMS.clear()  # crude but bounded; a miss costs one parse
        _PARSED_TERMS[terms] = parsed
        return parsed
    return replace(parsed, account_id=account_id, version=version, effective_at=effective_at)


class Invoices:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _one(self, *where: object) -> StoredInvoice | None:
        row = self.conn.execute(select(invoices).where(*where)).mappings().first()  # type: ignore[arg-type]
        return None if row is None else self._from_rows([row])[0]

    def _from_rows(self, rows: Sequence[RowMapping]) -> list[StoredInvoice]:
        """Stored invoices with their credit notes, read in one query for all of them."""
        c = credit_notes.c
        notes: dict[str, list[CreditNote]] = {row["id"]: [] for row in rows}
        if notes:
            query = select(credit_notes).where(c.invoice_id.in_(list(notes))).order_by(c.created_at, c.id)
            for n in self.conn.execute(query):
                notes[n.invoice_id].append(
                    CreditNote(n.id, n.invoice_id, n.amount_units, n.reason, n.rule, from_micros(n.created_at))
                )
        return [self._from_row(row, tuple(notes[row["id"]])) for row in rows]

    def _from_row(self, row: RowMapping, notes: tuple[CreditNote, ...]) -> StoredInvoice:
        return StoredInvoice(
            id=row["id"], account_id=row["account_id"],
            period=Period(from_micros(row["period_start"]), from_micros(row["period_end"])),
            currency=row["currency"], status=InvoiceStatus(row["status"]), subtotal_units=row["subtotal_units"],
            credits_units=row["credits_units"], amount_due_units=row["amount_due_units"],
            commit_spend_units=row["commit_spend_units"],
            usage_cutoff=from_micros(row["usage_cutoff"]), document_json=row["document"],
            finalized_at=from_micros(row["finalized_at"]),
            voided_at=None if row["voided_at"] is None else from_micros(row["voided_at"]), credit_notes=notes,
            revision=row["revision"],
        )  # fmt: skip

    def get(self, invoice_id: str) -> StoredInvoice | None:
        return self._one(invoices.c.id == invoice_id)

    def _newest(self, *where: object) -> StoredInvoice | None:
        """The invoice of the latest period (its latest revision) among those ``where`` selects."""
        t = invoices.c
        query = select(invoices).where(*where).order_by(t.period_start.desc(), t.revision.desc()).limit(1)  # type: ignore[arg-type]
        row = self.conn.execute(query).mappings().first()
        return None if row is None else self._from_rows([row])[0]

    def for_period(self, account_id: str, period_start: datetime) -> StoredInvoice | None:
        """The period's invoice: its latest revision."""
        return self._newest(invoices.c.account_id == account_id, invoices.c.period_start == to_micros(period_start))

    def latest(self, account_id: str, *, before: datetime | None = None) -> StoredInvoice | None:
        """The account's invoice of its latest period (before ``before``, if given), latest revision."""
        t = invoices.c
        if before is None:
            return self._newest(t.account_id == account_id)
        return self._newest(t.account_id == account_id, t.period_start < to_micros(before))

    def latest_many(self, account_ids: Sequence[str]) -> dict[str, StoredInvoice]:
        """Each account's invoice with the latest period (its latest revision), for the accounts that have one."""
        t = invoices.c
        newest = (
            select(t.account_id, func.max(t.period_start).label("start"))
            .where(t.account_id.in_(account_ids))
            .group_by(t.account_id)
            .subquery()
        )
        top = (
            select(t.account_id, t.period_start, func.max(t.revision).label("revision"))
            .join(newest, (t.account_id == newest.c.account_id) & (t.period_start == newest.c.start))
            .group_by(t.account_id, t.period_start)
            .subquery()
        )
        query = select(invoices).join(
            top,
            (t.account_id == top.c.account_id) & (t.period_start == top.c.period_start)
            & (t.revision == top.c.revision),
        )  # fmt: skip
        return {stored.account_id: stored for stored in self._from_rows(self.conn.execute(query).mappings().all())}

    def in_term(self, account_ids: Sequence[str], term: Period) -> dict[str, list[TermInvoice]]:
        """The accounts' invoices (finalized or voided) whose period lies inside ``term``, with
        the spend each counts toward commitments: one per account and month, its latest revision."""
        t = invoices.c
        query = (
            select(t.account_id, t.id, t.period_start, t.period_end, t.commit_spend_units, t.status)
            .where(t.account_id.in_(account_ids))
            .where(t.period_start >= to_micros(term.start), t.period_end <= to_micros(term.end))
            .order_by(t.account_id, t.period_start, t.revision)
        )
        latest: dict[tuple[str, int], TermInvoice] = {}  # a later revision replaces an earlier one
        for account, invoice_id, start, end, spend, status in self.conn.execute(query):
            period = Period(from_micros(start), from_micros(end))
            latest[account, start] = TermInvoice(invoice_id, period, spend, status == str(InvoiceStatus.VOIDED))
        found: dict[str, list[TermInvoice]] = {a: [] for a in account_ids}
        for (account, _), invoice in latest.items():  # in period order, as queried
            found[account].append(invoice)
        return found

    def documents_after(self, account_id: str, after: datetime, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """The ids and documents of the account's first ``limit`` finalized invoices after ``after``."""
        t = invoices.c
        query = (
            select(t.id, t.document)
            .where(t.account_id == account_id, t.period_start > to_micros(after))
            .where(t.status == str(InvoiceStatus.FINALIZED))
            .order_by(t.period_start)
            .limit(limit)
        )
        return [(invoice_id, json.loads(doc)) for invoice_id, doc in self.conn.execute(query)]

    def add_frozen(self, found: Sequence[FrozenInvoice]) -> None:
        sql.P_INSERT_INVOICES.run_many(
            self.conn,
            [
                {"id": i.id, "account_id": i.account_id, "period_start": to_micros(i.period.start),
                 "period_end": to_micros(i.period.end), "currency": i.currency, "status": str(InvoiceStatus.FINALIZED),
                 "subtotal_units": i.subtotal_units, "credits_units": i.credits_units,
                 "amount_due_units": i.amount_due_units, "commit_spend_units": i.commit_spend_units,
                 "usage_cutoff": to_micros(i.usage_cutoff), "document": i.document_json,
                 "finalized_at": to_micros(i.finalized_at), "voided_at": None, "revision": i.revision}
                for i in found
            ],
        )  # fmt: skip

    def mark_voided(self, invoice_id: str, at: datetime) -> None:
        self.conn.execute(
            update(invoices)
            .where(invoices.c.id == invoice_id)
            .values(status=str(InvoiceStatus.VOIDED), voided_at=to_micros(at))
        )

    def add_credit_note(self, note: CreditNote) -> None:
        self.conn.execute(
            insert(credit_notes).values(
                id=note.id, invoice_id=note.invoice_id, amount_units=note.amount_units, reason=note.reason,
                rule=note.rule, created_at=to_micros(note.created_at),
            )
        )  # fmt: skip


def _first(conn: Connection, key: ColumnElement[str]) -> ColumnElement[str]:
    """The smallest id in code-point order, as Python sorts ids (SQLite compares bytes alike):
    PostgreSQL would otherwise follow the database's collation, and a line's first event id
    would depend on the store."""
    return func.min(key.collate("C") if conn.dialect.name == "postgresql" else key)


class StoredUsage:
    """The ``UsageSource`` kept in ``usage_lines`` until metering provides the real one."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def totals(
        self, account_id: str, period: Period, *, recorded_after: datetime | None, recorded_until: datetime
    ) -> list[UsageTotal]:
        u = usage_lines.c
        window = [
            u.account_id == account_id,
            u.occurred_at >= to_micros(period.start),
            u.occurred_at < to_micros(period.end),
            u.recorded_at > (_NEVER if recorded_after is None else to_micros(recorded_after)),
            u.recorded_at <= to_micros(recorded_until),
        ]
        sums = self.conn.execute(
            select(u.product, func.sum(u.quantity_micros), func.count(), _first(self.conn, u.event_id))
            .where(*window)
            .group_by(u.product)
            .order_by(u.product)
        ).all()
        return [UsageTotal(p, Decimal(int(q)) / MICRO, int(n), (first,)) for p, q, n, first in sums]

    def totals_many(
        self, account_ids: Sequence[str], period: Period, *, recorded_until: datetime
    ) -> dict[str, list[UsageTotal]]:
        u = usage_lines.c
        sums = self.conn.execute(
            select(u.account_id, u.product, func.sum(u.quantity_micros), func.count(), _first(self.conn, u.event_id))
            .where(
                u.account_id.in_(account_ids),
                u.occurred_at >= to_micros(period.start),
                u.occurred_at < to_micros(period.end),
                u.recorded_at <= to_micros(recorded_until),
            )
            .group_by(u.account_id, u.product)
            .order_by(u.account_id, u.product)
        ).all()
        found: dict[str, list[UsageTotal]] = {a: [] for a in account_ids}
        for account, p, q, n, first in sums:
            found[account].append(UsageTotal(p, Decimal(int(q)) / MICRO, int(n), (first,)))
        return found

    def late(
        self, account_id: str, before: datetime, *, recorded_after: datetime, recorded_until: datetime, limit: int
    ) -> list[UsageEvent]:
        u = usage_lines.c
        query = (
            select(u.event_id, u.product, u.quantity_micros, u.occurred_at)
            .where(
                u.account_id == account_id,
                u.recorded_at > to_micros(recorded_after),
                u.recorded_at <= to_micros(recorded_until),
                u.occurred_at < to_micros(before),
            )
            .order_by(u.event_id)
            .limit(limit)
        )
        return [UsageEvent(e, p, Decimal(q) / MICRO, from_micros(t)) for e, p, q, t in self.conn.execute(query)]

    def late_measures(
        self, account_id: str, before: datetime, *, recorded_after: datetime, recorded_until: datetime, limit: int
    ) -> list[tuple[str, datetime]]:
        return []  # directly recorded usage is always a quantity to add

    def record(self, account_id: str, events: Sequence[UsageEvent], recorded_at: datetime) -> int:
        """Insert events; an event id seen before is ignored. Returns how many were new."""
        rows = [
            {"event_id": e.event_id, "account_id": account_id, "product": e.product,
             "quantity_micros": int(e.quantity * MICRO), "occurred_at": to_micros(e.occurred_at),
             "recorded_at": to_micros(recorded_at)}
            for e in events
        ]  # fmt: skip
        if not rows:
            return 0
        ids = {r["event_id"] for r in rows}
        seen = self.conn.execute(select(func.count()).where(usage_lines.c.event_id.in_(ids))).scalar_one()
        maker = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        self.conn.execute(maker(usage_lines).on_conflict_do_nothing(index_elements=["event_id"]), rows)
        return len(ids) - int(seen)


class MeteredUsage:
    """The ``UsageSource`` invoices read: ingested events through the defined meters (each
    meter bills as the product of the same id), plus usage recorded directly with
    ``record_usage`` (the ``usage_lines`` table)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.recorded = StoredUsage(conn)

    def _meters(self) -> list[Meter]:
        return [
            Meter(r.id, r.event_type, Aggregation(r.aggregation), r.property, json.loads(r.filters))
            for r in self.conn.execute(select(meters))
        ]

    def _events(
        self, meter_list: Sequence[Meter], account_ids: Sequence[str], start: int, end: int, after: int, until: int
    ) -> dict[str, list[MeterEvent]]:
        found: dict[str, list[MeterEvent]] = {a: [] for a in account_ids}
        if not meter_list:
            return found
        e = usage_events.c
        query = select(e.account_id, e.key, e.event_type, e.event_at, e.quantity, e.properties).where(
            e.event_type.in_(sorted({m.event_type for m in meter_list})),
            e.event_at >= start, e.event_at < end, e.recorded_at > after, e.recorded_at <= until,
        )  # fmt: skip
        for chunk in sql.id_chunks(account_ids):
            for account, key, kind, at, quantity, properties in self.conn.execute(query.where(e.account_id.in_(chunk))):
                found[account].append((key, kind, at, quantity, json.loads(properties)))
        return found

    def _summed(
        self, meter_list: Sequence[Meter], account_ids: Sequence[str], start: int, end: int, after: int, until: int
    ) -> dict[str, list[UsageTotal]]:
        """The totals of :func:`summed_in_store` meters: one ``GROUP BY`` per chunk of accounts,
        the events themselves never leave the database."""
        found: dict[str, list[UsageTotal]] = {a: [] for a in account_ids}
        by_type: dict[str, list[Meter]] = {}
        for meter in meter_list:
            by_type.setdefault(meter.event_type, []).append(meter)
        if not by_type:
            return found
        e = usage_events.c
        query = (
            select(e.account_id, e.event_type, func.count(), *quantity_sum(e.quantity), func.max(e.quantity),
                   _first(self.conn, e.key))
            .where(e.event_type.in_(sorted(by_type)), e.event_at >= start, e.event_at < end)
            .where(e.recorded_at > after, e.recorded_at <= until)
            .group_by(e.account_id, e.event_type)
        )  # fmt: skip
        for chunk in sql.id_chunks(account_ids):
            for account, kind, count, whole, millionths, top, first in self.conn.execute(
                query.where(e.account_id.in_(chunk))
            ):
                sums = add_sums(whole, millionths)
                found[account].extend(stored_total(m, count, sums, top, first) for m in by_type[kind])
        return found

    def _metered(
        self, account_ids: Sequence[str], period: Period, after: int, until: int
    ) -> dict[str, list[UsageTotal]]:
        """Every meter's totals per account: summed in the database where it can, else from the events."""
        meter_list = self._meters()
        start, end = to_micros(period.start), to_micros(period.end)
        summed = self._summed([m for m in meter_list if summed_in_store(m)], account_ids, start, end, after, until)
        rest = [m for m in meter_list if not summed_in_store(m)]
        events = self._events(rest, account_ids, start, end, after, until)
        return {a: summed[a] + metered_totals(rest, events[a]) for a in account_ids}

    def totals(
        self, account_id: str, period: Period, *, recorded_after: datetime | None, recorded_until: datetime
    ) -> list[UsageTotal]:
        after = _NEVER if recorded_after is None else to_micros(recorded_after)
        metered = self._metered([account_id], period, after, to_micros(recorded_until))[account_id]
        direct = self.recorded.totals(account_id, period, recorded_after=recorded_after, recorded_until=recorded_until)
        return combine(direct, metered)

    def totals_many(
        self, account_ids: Sequence[str], period: Period, *, recorded_until: datetime
    ) -> dict[str, list[UsageTotal]]:
        direct = self.recorded.totals_many(account_ids, period, recorded_until=recorded_until)
        metered = self._metered(account_ids, period, _NEVER, to_micros(recorded_until))
        return {a: combine(direct[a], metered[a]) for a in account_ids}

    def late(
        self, account_id: str, before: datetime, *, recorded_after: datetime, recorded_until: datetime, limit: int
    ) -> list[UsageEvent]:
        direct = self.recorded.late(
            account_id, before, recorded_after=recorded_after, recorded_until=recorded_until, limit=limit
        )
        meter_list = [m for m in self._meters() if additive(m)]
        rows = self._events(
            meter_list, [account_id], _NEVER, to_micros(before), to_micros(recorded_after), to_micros(recorded_until)
        )[account_id]
        return (direct + metered_events(meter_list, rows))[:limit]

    def late_measures(
        self, account_id: str, before: datetime, *, recorded_after: datetime, recorded_until: datetime, limit: int
    ) -> list[tuple[str, datetime]]:
        meter_list = [m for m in self._meters() if not additive(m)]
        rows = self._events(
            meter_list, [account_id], _NEVER, to_micros(before), to_micros(recorded_after), to_micros(recorded_until)
        )[account_id]
        found = sorted({(m.id, at) for m in meter_list for _, kind, at, _, props in rows if m.matches(kind, props)})
        return [(product, from_micros(at)) for product, at in found[:limit]]

    def record(self, account_id: str, events: Sequence[UsageEvent], recorded_at: datetime) -> int:
        return self.recorded.record(account_id, events, recorded_at)


class StoredAvailability:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def records(self, account_id: str, period: Period) -> list[Availability]:
        a = availability_records.c
        query = (
            select(a.product, a.percent, a.incident_ref)
            .where(a.account_id == account_id, a.occurred_at >= to_micros(period.start))
            .where(a.occurred_at < to_micros(period.end))
            .order_by(a.product, a.occurred_at, a.id)
            .limit(limits.LATE_USAGE_ROWS_MAX)
        )
        return [Availability(p, Decimal(pct), ref) for p, pct, ref in self.conn.execute(query)]

    def records_many(self, account_ids: Sequence[str], period: Period) -> dict[str, list[Availability]]:
        a = availability_records.c
        query = (
            select(a.account_id, a.product, a.percent, a.incident_ref)
            .where(a.account_id.in_(account_ids), a.occurred_at >= to_micros(period.start))
            .where(a.occurred_at < to_micros(period.end))
            .order_by(a.account_id, a.product, a.occurred_at, a.id)
            .limit(limits.LATE_USAGE_ROWS_MAX)
        )
        found: dict[str, list[Availability]] = {acc: [] for acc in account_ids}
        for account, p, pct, ref in self.conn.execute(query):
            found[account].append(Availability(p, Decimal(pct), ref))
        return found

    def record(self, account_id: str, record: Availability, occurred_at: datetime, record_id: str) -> None:
        self.conn.execute(
            insert(availability_records).values(
                id=record_id, account_id=account_id, product=record.product, percent=str(record.percent),
                incident_ref=record.incident_ref, occurred_at=to_micros(occurred_at),
            )
        )  # fmt: skip
