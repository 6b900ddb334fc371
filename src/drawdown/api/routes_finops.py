"""The ``/v1/finops`` endpoints (issue 6, F3–F5): the cost hierarchy, mapping rules, the
detected credits (queue and allocated figures), allocation, net cost and expiring credits.
Same shape as ``routes``: parse, check access, call the book, render; every write goes
through ``edge.write``. Importing an export stays a CLI / library job: no upload route.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from drawdown.api import render_finops as render
from drawdown.api import schemas_finops as f
from drawdown.api.edge import Caller, IdemKey, book_of, units_of, write
from drawdown.book import Book
from drawdown.domain import limits
from drawdown.domain.errors import InvalidField
from drawdown.services.requests import Rendered, WriteRequest

router = APIRouter(prefix="/v1/finops")
CreditId = Annotated[str, Path(max_length=limits.ID_LENGTH_MAX, description="The detected credit's id.")]


# -- hierarchy and mapping rules -------------------------------------------------------------


@router.get("/nodes", name="list_finops_nodes", operation_id="list_finops_nodes", response_model=f.NodeList,
            tags=["finops"])  # fmt: skip
def list_finops_nodes(request: Request, caller: Caller) -> f.NodeList:
    """The cost hierarchy: Business Unit > Department > Portfolio > Product, and ``unallocated``."""
    return f.NodeList(items=[render.node(n) for n in book_of(request).finops_nodes()])


@router.post("/nodes", name="create_finops_node", operation_id="create_finops_node", status_code=201,
             response_model=f.NodeOut, tags=["finops"])  # fmt: skip
def create_finops_node(request: Request, caller: Caller, body: f.NodeCreate, key: IdemKey = None) -> Response:
    """Add a node (and its FIFO account) one level below its parent; adding it again returns it."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        node = book.finops_add_node(body.id, level=body.level, name=body.name, parent=body.parent,
                                    currency=body.currency)  # fmt: skip
        return Rendered(201, render.node(node).model_dump_json(), node.id)

    return write(request, caller, key, "finops_add_node", body.model_dump(mode="json"), action)


@router.get("/rules", name="list_finops_rules", operation_id="list_finops_rules", response_model=f.RuleList,
            tags=["finops"])  # fmt: skip
def list_finops_rules(request: Request, caller: Caller) -> f.RuleList:
    """The mapping rules in the order they are tried (first match wins; unmatched spend is unallocated)."""
    return f.RuleList(items=[render.rule(r) for r in book_of(request).finops_rules()])


@router.post("/rules", name="create_finops_rule", operation_id="create_finops_rule", status_code=201,
             response_model=f.RuleOut, tags=["finops"])  # fmt: skip
def create_finops_rule(request: Request, caller: Caller, body: f.RuleCreate, key: IdemKey = None) -> Response:
    """Map spend to a node by usage account, tag or cost category; the same rule again returns it."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        rule = book.finops_add_rule(body.id, kind=body.kind, value=body.value, node=body.node, key=body.key,
                                    priority=body.priority)  # fmt: skip
        return Rendered(201, render.rule(rule).model_dump_json())

    return write(request, caller, key, "finops_add_rule", body.model_dump(mode="json"), action)


# -- credits ---------------------------------------------------------------------------------


@router.get("/credits", name="list_finops_credits", operation_id="list_finops_credits", response_model=f.CreditList,
            tags=["finops"])  # fmt: skip
def list_finops_credits(request: Request, caller: Caller) -> f.CreditList:
    """Every detected credit: the unallocated queue, and allocated credits' amount, used, remaining and status."""
    book = book_of(request)
    unit_of = units_of(book)
    return f.CreditList(items=[render.credit(v, unit_of) for v in book.finops_credits()])


@router.post("/credits/{credit_id}/allocate", name="allocate_finops_credit", operation_id="allocate_finops_credit",
             response_model=f.CreditOut, tags=["finops"])  # fmt: skip
def allocate_finops_credit(request: Request, caller: Caller, credit_id: CreditId, body: f.AllocateIn,
                           key: IdemKey = None) -> Response:  # fmt: skip
    """Issue a detected credit as a ``cloud`` grant on a node, effective from its issue date and
    usable to the end of ``end_date``, then draw uncovered spend. Allocating again with other
    values reallocates: the old grant is voided and a new one holds what it had not used."""
    try:
        end_date = date.fromisoformat(body.end_date)
    except ValueError:
        raise InvalidField(f"end_date {body.end_date!r} is not a date YYYY-MM-DD", field="end_date") from None

    def action(book: Book, _: WriteRequest) -> Rendered:
        view = book.finops_allocate(credit_id, node=body.node, amount=body.amount, end_date=end_date,
                                    reason=body.reason, reference=body.reference)  # fmt: skip
        return Rendered(200, render.credit(view, units_of(book)).model_dump_json(), view.node_id)

    return write(request, caller, key, "finops_allocate", body.model_dump(mode="json"), action, reason=body.reason)


# -- reports ---------------------------------------------------------------------------------


@router.get("/report", name="get_finops_report", operation_id="get_finops_report", response_model=f.NetCostList,
            tags=["finops"])  # fmt: skip
def get_finops_report(request: Request, caller: Caller) -> f.NetCostList:
    """Net cost per node and period: spend, credits consumed and net, each node with its descendants."""
    book = book_of(request)
    unit_of = units_of(book)
    return f.NetCostList(items=[render.net_cost(r, unit_of) for r in book.finops_net_cost()])


@router.get("/expiring", name="list_finops_expiring", operation_id="list_finops_expiring",
            response_model=f.ExpiringList, tags=["finops"])  # fmt: skip
def list_finops_expiring(request: Request, caller: Caller) -> f.ExpiringList:
    """Allocated credits expiring within 30 days, with the daily spend that would use them up."""
    book = book_of(request)
    unit_of = units_of(book)
    return f.ExpiringList(items=[render.expiring(e, unit_of) for e in book.finops_expiring()])
