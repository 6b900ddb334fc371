"""Current balances in one statement, on a driver connection kept per thread.

The hottest read in a credits engine is "what does this account have right now?". The
``account_balances`` projection already holds the answer while its classification is valid,
so this path reads that one row (joined to its account) straight through the driver, with no
pool checkout and no explicit transaction: a single autocommit SELECT sees the latest
committed state on both stores. Whenever it cannot answer exactly — an account with a
parent (pooled credit), a unit with no activity, a classification past ``valid_until`` —
it returns ``None`` and the caller takes the general path.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Engine

from drawdown.domain.balances import Balance
from drawdown.domain.instants import from_micros, to_micros

_BALANCE_SQL = (
    "SELECT issued, hold, consumed, expired, voided, available, pending, lapsed, computed_at, valid_until, "
    "overdraft FROM account_balances WHERE account_id = {p} AND unit = {p}"
)
_ACCOUNT_SQL = "SELECT currency, parent_id FROM accounts WHERE id = {p}"
ACCOUNTS_CACHED_MAX = 100_000


class CurrentBalances:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        mark = "?" if engine.dialect.name == "sqlite" else "%s"
        self.balance_sql, self.account_sql = _BALANCE_SQL.format(p=mark), _ACCOUNT_SQL.format(p=mark)
        # An account's currency and parent never change once created, so they are cached.
        self._accounts: dict[str, tuple[str, str | None]] = {}
        self.enabled = not (engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"))
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=partial(_forget_in_child, weakref.ref(self)))

    def current(self, account_id: str, unit: str | None, now: datetime) -> Balance | None:
        if not self.enabled:
            return None
        cursor = getattr(self._local, "cursor", None) or self._cursor()
        known = self._accounts.get(account_id) or self._account(cursor, account_id)
        if known is None or known[1] is not None:
            return None
        code = unit or known[0]
        cursor.execute(self.balance_sql, (account_id, code))
        row = cursor.fetchone()
        if row is None:
            return None
        issued, hold, consumed, expired, voided, available, pending, lapsed, computed, until, owed = row
        at = to_micros(now)
        if computed > at or (until is not None and at >= until):
            return None
        valid_until = None if until is None else from_micros(until)
        # Positional, in Balance's field order: this is the hottest constructor in drawdown.
        return Balance(
            account_id,
            code,
            now,
            available,
            hold,
            consumed,
            expired + lapsed,
            voided,
            pending,
            -issued,
            0,
            valid_until,
            -owed,
        )

    def _account(self, cursor: Any, account_id: str) -> tuple[str, str | None] | None:
        cursor.execute(self.account_sql, (account_id,))
        row = cursor.fetchone()
        if row is None:
            return None
        if len(self._accounts) >= ACCOUNTS_CACHED_MAX:
            self._accounts.clear()
        self._accounts[account_id] = found = (row[0], row[1])
        return found

    def _cursor(self) -> Any:
        """Open this thread's connection and cursor."""
        proxied = self.engine.raw_connection()
        proxied.detach()
        connection = proxied.dbapi_connection
        assert connection is not None
        if self.engine.dialect.name == "postgresql":
            connection.autocommit = True
        self._local.cursor = connection.cursor()
        with self._lock:
            self._opened.append(connection)
        return self._local.cursor

    def _forget(self) -> None:
        """In a forked child: never reuse the parent's connections."""
        self._local = threading.local()
        self._opened = []

    def close(self) -> None:
        with self._lock:
            for connection in self._opened:
                with contextlib.suppress(Exception):  # closing is best effort at shutdown
                    connection.close()
            self._opened.clear()
        self._local = threading.local()


def _forget_in_child(ref: weakref.ref[CurrentBalances]) -> None:
    found = ref()
    if found is not None:
        found._forget()
