"""Enforcement: may this account use this much of a feature now?

Per-account **mode**:

``enforce``  allow only when credit (plus the overdraft headroom) covers the whole cost;
             a reserve that is not covered is refused with ``insufficient_credit``.
``async``    allow while the account is above its floor (``-overdraft_limit``), even if
             this request is not fully covered; usage is burned later from events
             through the same drawdown. Once the floor is reached, requests are
             soft-blocked (denied with reason ``below_floor``).
``shadow``   never block; when ``enforce`` would have denied, the decision is recorded
             in the ``enforcement_decisions`` log so the effect of turning enforcement on
             can be measured first.

In every mode a hold or burn holds at most what credit plus overdraft headroom covers,
so the available balance never goes below ``-overdraft_limit``.

The global **kill switch** blocks: while it is on, every authorization is denied with
reason ``kill_switch`` and every reserve is refused (``kill_switch_engaged``), in every
mode. Captures, releases and expiries still run, so open holds resolve normally.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    ENFORCE = "enforce"
    ASYNC = "async"
    SHADOW = "shadow"


class Reason(StrEnum):
    COVERED = "covered"  # grants cover the cost
    OVERDRAFT = "overdraft"  # grants plus overdraft headroom cover it
    INSUFFICIENT_CREDIT = "insufficient_credit"
    ABOVE_FLOOR = "above_floor"  # async: not covered, but the account is above its floor
    BELOW_FLOOR = "below_floor"  # async: soft-blocked
    SHADOW = "shadow"  # shadow: enforce would have denied; allowed and recorded
    KILL_SWITCH = "kill_switch"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision, and how much of the cost a hold may take from grants and overdraft."""

    allowed: bool
    reason: Reason
    holdable_units: int  # credit + overdraft headroom that may be held, at most the cost
    overdraft_units: int  # the part of ``holdable_units`` lent by the overdraft
    would_block: bool  # what ``enforce`` would have said, for the shadow log


def decide(mode: Mode, *, kill_switch: bool, cost_units: int, covered_units: int, headroom_units: int) -> Verdict:
    """Decide on a request costing ``cost_units`` that credit covers ``covered_units`` of.

    ``headroom_units`` is what the overdraft may still lend (limit minus what is owed).
    """
    assert 0 <= covered_units <= cost_units
    assert headroom_units >= 0
    overdraft = min(cost_units - covered_units, headroom_units)
    holdable = covered_units + overdraft
    fully = holdable == cost_units
    if kill_switch:
        return Verdict(False, Reason.KILL_SWITCH, 0, 0, True)
    if fully:
        return Verdict(True, Reason.OVERDRAFT if overdraft else Reason.COVERED, holdable, overdraft, False)
    if mode is Mode.ENFORCE:
        return Verdict(False, Reason.INSUFFICIENT_CREDIT, holdable, overdraft, True)
    if mode is Mode.SHADOW:
        return Verdict(True, Reason.SHADOW, holdable, overdraft, True)
    above_floor = holdable > 0
    return Verdict(above_floor, Reason.ABOVE_FLOOR if above_floor else Reason.BELOW_FLOOR, holdable, overdraft, True)


@dataclass(frozen=True, slots=True)
class AccountEnforcement:
    """An account's enforcement settings; accounts without a row get :data:`DEFAULT`."""

    account_id: str
    mode: Mode = Mode.ENFORCE
    overdraft_limits: dict[str, int] | None = None  # unit -> units the account may go below zero
    rate_card_id: str | None = None
    rate_card_version: int | None = None  # None: the version effective at the instant of use

    def overdraft_limit(self, unit: str) -> int:
        return (self.overdraft_limits or {}).get(unit, 0)
