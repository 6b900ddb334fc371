"""Settings the hot path reads on every reserve, kept while nobody can have changed them.

A reserve reads the kill switch, the account's enforcement settings (mode, overdraft limits,
rate-card pin) and which version of its rate card is in force. Unlike units and rate-card
versions these rows change, so they are cached only on the SQLite writer connection (see
``uow.WriterConnection``), and only while both of these hold:

- no other connection has committed anything since the values were read: each write unit
  of work reads the connection's ``PRAGMA data_version`` right after ``BEGIN IMMEDIATE`` (so
  under the writer lock, with every earlier commit of every process visible) and empties the
  cache when it moved. SQLite moves it for every commit by another connection, in this
  process or another, and never for the connection's own;
- no unit of work on this connection has written ``settings``, ``account_enforcement`` or
  ``rate_cards``: the repositories' writers call :meth:`SettingsCache.invalidate`, which
  empties the cache and keeps it from filling until the unit of work ends (committed or
  rolled back), when it is emptied again.

So a cached value is always a committed row as the store holds it now. PostgreSQL has no
such marker; there nothing is cached.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from drawdown.domain import limits

T = TypeVar("T")


class SettingsCache:
    def __init__(self, size_max: int = limits.SETTINGS_CACHE_ENTRIES_MAX) -> None:
        self.size_max = size_max
        self.marker: int | None = None
        self.values: dict[Hashable, Any] = {}
        self.writing = False  # a unit of work wrote settings: nothing is kept until it ends

    def begin(self, marker: int) -> None:
        """A unit of work starts on the writer connection, whose data_version is ``marker``."""
        if marker != self.marker:
            self.values.clear()
            self.marker = marker

    def get(self, key: Hashable, read: Callable[[], T]) -> T:
        """The value kept under ``key``, else ``read()`` (kept unless settings are being written)."""
        if key in self.values:
            found: T = self.values[key]
            return found
        value = read()
        if not self.writing:
            if len(self.values) >= self.size_max:
                self.values.clear()
            self.values[key] = value
        return value

    def invalidate(self) -> None:
        """This unit of work writes settings: forget everything until it ends."""
        self.values.clear()
        self.writing = True

    def end(self) -> None:
        """The unit of work ended (committed or rolled back)."""
        if self.writing:
            self.values.clear()
            self.writing = False

    def forget(self) -> None:
        self.values.clear()
        self.marker = None
        self.writing = False
