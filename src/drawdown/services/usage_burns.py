"""Async-mode usage burning: each unburned event of an account in ``async`` mode is charged
once, through the same drawdown as every other charge, at its event time.

The charge is keyed by the event (:func:`~drawdown.domain.usage.burn_key`), so a burn that
runs twice, or concurrently, charges each event once. What credit and overdraft headroom
cannot cover is recorded on the charge as ``unbilled_units``; it never takes the account
below its floor.
"""

from __future__ import annotations

from dataclasses import dataclass

from drawdown.domain import limits
from drawdown.domain.drawdown import Charge, at_most, postings
from drawdown.domain.enforcement import Mode
from drawdown.domain.errors import DrawdownError
from drawdown.domain.grants import Category, Target
from drawdown.domain.ledger import EntryKind, Posting, TransactionDraft, TxKind
from drawdown.domain.usage import Event, burn_key
from drawdown.services.charges import plan
from drawdown.services.enforcement import overdraft_headroom, price
from drawdown.services.ports import Deps, UnitOfWork


@dataclass(frozen=True, slots=True)
class BurnReport:
    charged: int
    skipped: int
    unbilled_units: int  # usage beyond credit and overdraft headroom, recorded on its charge


def burn_usage(deps: Deps, *, actor: str = "system:usage-burn") -> BurnReport:
    """Charge async-mode accounts for their unburned events, through the drawdown, by event time.

    Each event is charged once (its charge is keyed ``usage:<event key>``, or by the key's digest
    when that is too long: see :func:`~drawdown.domain.usage.burn_key`). What credit and
    overdraft headroom cannot cover is not taken below the floor: it is recorded on the
    charge as ``unbilled_units``, as is what grants beyond the first ``DRAWS_PER_BURN_MAX`` in
    burn order would have covered (a transaction's postings are bounded). Events of other modes,
    or of unpriced features, are marked done without a charge (enforce-mode usage is charged by
    reserve and capture).
    """
    charged = skipped = unbilled = 0
    while True:
        with deps.uow(write=True) as uow:
            batch = uow.events.unburned(None, limits.USAGE_BURNS_PER_BATCH)
            for event in batch:
                burned = _burn(uow, deps, event, actor)
                charged, skipped = charged + (burned is not None), skipped + (burned is None)
                unbilled += burned or 0
            uow.events.mark_burned([e.key for e in batch])
        if len(batch) < limits.USAGE_BURNS_PER_BATCH:
            return BurnReport(charged, skipped, unbilled)


def _burn(uow: UnitOfWork, deps: Deps, event: Event, actor: str) -> int | None:
    """Post one event's charge; return the unbilled units, or None when there is no charge."""
    payer = uow.accounts.get(event.account_id)
    assert payer is not None
    settings = uow.settings.enforcement(payer.id)
    if settings.mode is not Mode.ASYNC or settings.rate_card_id is None:
        return None
    try:
        cost = price(uow, payer, event.event_type, str(event.quantity), event.event_at)
    except DrawdownError:
        return None
    if cost.cost_units == 0:
        return None
    wanted = Charge(payer.id, cost.unit.code, cost.cost_units, Target(Category.USAGE, cost.feature), event.event_at)
    drawn = at_most(plan(uow, payer, wanted), limits.DRAWS_PER_BURN_MAX)  # one transaction's postings
    lent = min(drawn.shortfall_units, overdraft_headroom(uow, settings, cost.unit.code))
    legs = postings(drawn, EntryKind.CONSUMED)
    if lent:
        legs = (
            *legs,
            Posting(EntryKind.OVERDRAFT, payer.id, cost.unit.code, -lent, None, payer.id),
            Posting(EntryKind.CONSUMED, payer.id, cost.unit.code, lent, None, payer.id, {"overdraft": True}),
        )
    unbilled = drawn.shortfall_units - lent
    draft = TransactionDraft(
        kind=TxKind.CHARGE, effective_at=event.event_at, postings=legs, actor=actor, reason=f"usage {event.key}",
        idempotency_key=burn_key(event.key), fingerprint=event.fingerprint(),
        links={"account_id": payer.id, "event_key": event.key},
        data={"amount_units": cost.cost_units, "shortfall_units": unbilled, "unbilled_units": unbilled,
              "category": "usage", "product": cost.feature, "policy": str(drawn.policy),
              "rate": str(cost.rate), "rate_card": f"{cost.card.id}@{cost.card.version}"},
    )  # fmt: skip
    uow.ledger.post_many([(draft, deps.ids.new("tx"))], deps.clock.now())
    return unbilled
