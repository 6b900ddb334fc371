"""A process-wide cache of rows that never change once committed: units, rate-card versions, accounts.

A unit (code, kind, scale), a rate-card version (its unit, effective instant and rates) and
an account (currency, time zone, parent, drawdown policy, pool caps, metadata) are only ever
inserted: nothing updates or deletes them (``tests/architecture`` holds the source to that),
and a new version of a card is a new row. So a value read from a committed row is that row's
value for good, in every process, and caching it changes the cost of a lookup, never its
result. Cached units and rate cards are shared: callers treat them, like every domain value,
as immutable; an account's pool caps and metadata are plain dicts, so each caller gets a
copy of its own.

A unit of work hands what it read to :meth:`DefinitionCache.remember` only after it has
committed, so a definition inserted by a transaction that rolled back is never cached.
What can change is never cached here: which version of a card is in force at an instant (a
newer version may be defined at any time, by any process) and an account's pin are read
from the database, or from :mod:`drawdown.storage.settings_cache` while it can prove nobody
changed them; only the immutable version they name comes from here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace

from drawdown.domain import limits
from drawdown.domain.accounts import Account
from drawdown.domain.money import Unit
from drawdown.domain.rates import RateCard

Definition = Unit | RateCard | Account


class DefinitionCache:
    def __init__(self, size_max: int = limits.DEFINITION_CACHE_ENTRIES_MAX) -> None:
        self.size_max = size_max
        self._units: dict[str, Unit] = {}
        self._cards: dict[tuple[str, int], RateCard] = {}
        self._accounts: dict[str, Account] = {}
        self._lock = threading.Lock()

    def unit(self, code: str) -> Unit | None:
        return self._units.get(code)

    def rate_card(self, card_id: str, version: int) -> RateCard | None:
        return self._cards.get((card_id, version))

    def account(self, account_id: str) -> Account | None:
        found = self._accounts.get(account_id)
        return None if found is None else _detached(found)

    def remember(self, committed: Iterable[Definition]) -> None:
        """Keep definitions read by a unit of work that has committed."""
        with self._lock:
            if len(self._units) + len(self._cards) > self.size_max:
                self._units.clear()  # crude but bounded; a reload costs one query
                self._cards.clear()
            if len(self._accounts) > limits.ACCOUNT_CACHE_ENTRIES_MAX:
                self._accounts.clear()
            for found in committed:
                if isinstance(found, Unit):
                    self._units[found.code] = found
                elif isinstance(found, Account):
                    self._accounts[found.id] = _detached(found)
                else:
                    self._cards[(found.id, found.version)] = found


def _detached(account: Account) -> Account:
    """A copy with dicts of its own: an account's pool caps and metadata are plain dicts, and
    what a caller does to the account it was given must not change what the cache holds."""
    return replace(account, pool_caps=dict(account.pool_caps), metadata=dict(account.metadata))
