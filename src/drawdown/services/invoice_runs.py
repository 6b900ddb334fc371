"""Invoice runs (I4): finalize one month for every account, restartable and idempotent.

Each account is finalized in its own unit of work, so a run that stops half-way keeps what
it finished; running it again skips every account that already has the month's invoice
(the UNIQUE (account, period_start) constraint guarantees there is never a second one).
A failing account is reported and does not stop the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from drawdown.domain import limits
from drawdown.domain.errors import DrawdownError
from drawdown.services.invoices import finalize_invoice
from drawdown.services.ports import Deps


@dataclass(frozen=True, slots=True)
class RunReport:
    period: str
    accounts: int
    finalized: int
    already_finalized: int
    failed: dict[str, str] = field(default_factory=dict)  # account -> error code


def run_invoices(
    deps: Deps,
    period: str,
    *,
    actor: str,
    on_progress: Callable[[int, int], None] | None = None,
    page_size: int = limits.INVOICES_PER_RUN_PAGE,
) -> RunReport:
    """Finalize ``period`` (``YYYY-MM``, each account's own time zone) for every account."""
    accounts = _all_account_ids(deps, page_size)
    finalized = already = 0
    failed: dict[str, str] = {}
    for done, account in enumerate(accounts, start=1):
        try:
            view = finalize_invoice(deps, account, period, actor=actor)
        except DrawdownError as error:
            failed[account] = error.code
        else:
            already += view.replayed
            finalized += not view.replayed
        if on_progress is not None:
            on_progress(done, len(accounts))
    return RunReport(period, len(accounts), finalized, already, failed)


def _all_account_ids(deps: Deps, page_size: int) -> list[str]:
    ids: list[str] = []
    with deps.uow(write=False) as uow:
        while page := uow.accounts.page(ids[-1] if ids else None, page_size):
            ids.extend(a.id for a in page)
    return ids
