"""The one connection an SQLite file's write units of work share (see :class:`WriterConnection`)."""

from __future__ import annotations

import os
import weakref
from functools import partial

from sqlalchemy import Connection, Engine, event

from drawdown.storage.engine import data_version
from drawdown.storage.settings_cache import SettingsCache


class WriterConnection:
    """The connection an SQLite file's write units of work run on, one after another.

    Every SQLite write unit of work holds this process's writer lock from before its
    ``BEGIN IMMEDIATE`` until after its ``COMMIT`` (see :func:`writer_lock`), so they can
    share one connection instead of checking one out of the pool and returning it each time,
    which cost SQLAlchemy about a fifth of a reserve or capture. Between units of work the
    connection holds no transaction, so it blocks no checkpoint. A write unit of work nested
    in another one of the same thread (the lock is re-entrant) checks a connection out as
    before; a connection SQLAlchemy invalidated is replaced; a forked child forgets the
    parent's; disposing the engine closes it. Settings read on it are cached while nobody
    else has committed (see :mod:`drawdown.storage.settings_cache`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._in_use = False
        self.settings = SettingsCache()
        event.listen(engine, "engine_disposed", lambda _: self.close())
        os.register_at_fork(after_in_child=partial(_forget_in_child, weakref.ref(self)))

    def take(self) -> Connection | None:
        """The shared connection, or None while a unit of work of this thread is using it.

        Only called with the writer lock held."""
        if self._in_use:
            return None
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.engine.connect()
            self.settings.forget()  # a new connection: its data_version is not comparable
        self._in_use = True
        return self._conn

    def begun(self, conn: Connection) -> SettingsCache:
        """The unit of work on ``conn`` has begun (the write lock is held): check the cache."""
        self.settings.begin(data_version(conn))
        return self.settings

    def give_back(self, conn: Connection) -> None:
        """Called with the writer lock still held, once the unit of work has ended."""
        assert self._in_use
        self._in_use = False
        self.settings.end()
        if conn is not self._conn:  # the engine was disposed meanwhile, which closed it
            return
        if conn.in_transaction() or conn.invalidated:  # a failed commit or rollback: start afresh next time
            self._conn = None
            conn.invalidate()
            conn.close()

    def close(self) -> None:
        self.settings.forget()
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            conn.invalidate()  # closes the driver's connection now (the pool it came from is gone)
            conn.close()

    def forget(self) -> None:
        self._conn, self._in_use = None, False
        self.settings.forget()


def _forget_in_child(ref: weakref.ref[WriterConnection]) -> None:
    found = ref()
    if found is not None:
        found.forget()
