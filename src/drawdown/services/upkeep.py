"""Upkeep: the sweeps that make time-driven changes happen without a caller.

One :func:`sweep` releases holds past their TTL, expires grants past their expiry (the
breakage transactions) and burns async-mode usage, in that order: released holds give
their credit back before a burn draws, and an expired grant is never drawn by a burn.
Each step is keyed per hold, grant or event, so sweeps may run any number of times, late,
or at once from several processes, and each change still happens once. ``drawdown serve``
runs a sweep every few seconds; ``drawdown sweep`` runs one (for cron).
"""

from __future__ import annotations

from dataclasses import dataclass

from drawdown.services.grants import expire_due
from drawdown.services.holds import expire_holds
from drawdown.services.ports import Deps
from drawdown.services.usage_burns import burn_usage


@dataclass(frozen=True, slots=True)
class SweepReport:
    holds_expired: int
    grants_expired: int
    usage_charged: int
    usage_skipped: int

    @property
    def changed(self) -> bool:
        return bool(self.holds_expired or self.grants_expired or self.usage_charged or self.usage_skipped)


def sweep(deps: Deps) -> SweepReport:
    """Release expired holds, expire lapsed grants, burn async usage; see the module docstring."""
    released = expire_holds(deps)
    expired = expire_due(deps)
    burned = burn_usage(deps)
    return SweepReport(len(released), len(expired), burned.charged, burned.skipped)
