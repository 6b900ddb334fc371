"""Engines for the two supported stores.

SQLite (the embedded default) runs in WAL mode; a write unit of work starts with
``BEGIN IMMEDIATE`` so it holds the single writer lock from its first statement, and readers
never block it. PostgreSQL runs at READ COMMITTED; a write unit of work first locks the
ledger head row (``SELECT … FOR UPDATE``), which serialises every ledger writer, so each
check-then-post sees the latest committed state. Neither store relies on REPEATABLE READ.

SQLite's automatic WAL checkpoint is off: it would run inside whichever commit crossed the
threshold, an fsync in the middle of a request (the p99 of a reserve + capture was ~20 ms
for it). Instead each file engine has a :class:`WalCheckpointer` thread that checkpoints
every half second on its own connection, and once more when the engine is disposed. With
``synchronous=NORMAL`` a commit is in the WAL at once and on disk at the next checkpoint;
what a power cut can lose is at most that half second, and a process crash loses nothing.

SQLite starts writing the WAL from its beginning again only when a writer finds every frame
already checkpointed. A PASSIVE checkpoint alone never gets there under a steady stream of
commits (some commit always lands while it runs), so the WAL grew without bound (440 MB
after 2,400 reserve + capture pairs) and each commit, appending to an ever longer file,
cost three to four times as much. So once the WAL is long (``SQLITE_WAL_RESTART_FRAMES``) a
round ends with a short FULL pass over what was committed during the PASSIVE one, holding
this process's writer lock (and, through SQLite, every other process's writer off for that
moment).
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from contextlib import suppress
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from drawdown.domain.errors import InvalidField

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CHECKPOINT_SECONDS = 0.5
SQLITE_CHECKPOINT_LOCK_WAIT_SECONDS = 1.0  # a round that cannot get the writer lock by then skips its FULL pass
# A round takes the writer lock for its FULL pass only once the WAL holds this many frames
# (64 MB of 4 KB pages): the pass fsyncs twice, and writers wait that long (5-20 ms on a
# small VM), so it runs about every two seconds under the heaviest load, never when light.
SQLITE_WAL_RESTART_FRAMES = 16_384

_WRITER_LOCKS: WeakKeyDictionary[Engine, threading.RLock] = WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def writer_lock(engine: Engine) -> threading.RLock:
    """SQLite writers of one process queue on this lock before ``BEGIN IMMEDIATE``.

    SQLite's busy handler makes a waiting writer sleep and poll (up to 100 ms a nap), which
    turns contention between a server's threads into long tail latencies; a lock hands the
    writer slot over at once. Other processes still meet the database lock and busy timeout.
    The WAL checkpointer takes it too, for its short FULL pass.
    """
    with _LOCKS_GUARD:
        lock = _WRITER_LOCKS.get(engine)
        if lock is None:
            lock = _WRITER_LOCKS[engine] = threading.RLock()
        return lock


def engine_for(url: str, *, checkpoints: bool = True) -> Engine:
    """Create an engine for ``sqlite:///path`` or ``postgresql+psycopg://…``.

    ``checkpoints=False`` leaves an SQLite file's WAL checkpoints to another engine (a
    worker process that only reads needs no checkpointer thread of its own).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, in_memory=is_memory_url(url), checkpoints=checkpoints)
    if parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise InvalidField("PostgreSQL URLs must use the psycopg 3 driver: postgresql+psycopg://…", field="db")
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    raise InvalidField(
        f"unsupported database URL {parsed.render_as_string()}; use sqlite:/// or postgresql+psycopg://", field="db"
    )


def data_version(conn: Connection) -> int:
    """SQLite's ``PRAGMA data_version`` on ``conn``: it changes when another connection (of
    this process or another) commits, never for the connection's own commits. The invoice
    run's change marker and the settings cache both rest on it."""
    raw = conn.connection.driver_connection
    assert raw is not None
    version: int = raw.execute("PRAGMA data_version").fetchone()[0]
    return version


def is_memory_url(url: str) -> bool:
    """Whether ``url`` is an in-memory SQLite database (one process's, not to be shared)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def _sqlite_engine(url: str, *, in_memory: bool, checkpoints: bool) -> Engine:
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    if in_memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, or each would see an empty database
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if not in_memory:
            cursor.execute("PRAGMA wal_autocheckpoint=0")  # the WalCheckpointer thread does it
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Straight on the driver: every unit of work begins here, and exec_driver_sql's
        # execution context costs more than the statement itself.
        writing = connection.info.get("write", False)
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if writing else "BEGIN")

    if not in_memory and checkpoints:
        checkpointer = WalCheckpointer(str(make_url(url).database), engine)
        event.listen(engine, "engine_disposed", lambda _: checkpointer.stop())
        checkpointer.start()
    return engine


class WalCheckpointer:
    """Checkpoints one SQLite file's WAL in the background (see the module docstring).

    The thread holds the engine only weakly, so an engine dropped without ``dispose`` still
    lets it end; it opens the file read-write without creating it, and skips a round when
    the file is missing or busy. Its connection never waits on SQLite's locks (timeout 0),
    so holding the writer lock it can delay writers by one short pass, never deadlock them.
    """

    def __init__(self, path: str, engine: Engine) -> None:
        self.uri = f"{Path(path).resolve().as_uri()}?mode=rw"  # resolved now: the cwd may change later
        self.engine = weakref.ref(engine)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="drawdown-wal-checkpoint", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=5)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self.done.wait(SQLITE_CHECKPOINT_SECONDS) and self.engine() is not None:
                conn = conn or self._connect()
                self._checkpoint(conn)
            conn = conn or self._connect()
            self._checkpoint(conn)  # what the last commits left
        finally:
            if conn is not None:
                conn.close()

    def _connect(self) -> sqlite3.Connection | None:
        try:
            return sqlite3.connect(self.uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return None  # not created yet

    def _checkpoint(self, conn: sqlite3.Connection | None) -> None:
        """Copy the WAL into the file without blocking anyone; once it is long, catch up under the writer lock.

        The PASSIVE pass does the bulk of the copying and fsyncing; the FULL pass finds only
        what was committed meanwhile, and no writer commits while it runs, so it leaves the
        WAL fully checkpointed and the next writer starts it from the beginning. Busy (a
        writer of another process, or a reader on an older snapshot): the next round.
        """
        if conn is None:
            return
        frames = 0
        with suppress(sqlite3.Error):
            (_, frames, _), *_ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        engine = self.engine()
        if engine is None or frames < SQLITE_WAL_RESTART_FRAMES:
            return
        lock = writer_lock(engine)
        del engine  # held weakly: the thread must not keep a dropped engine alive
        if lock.acquire(timeout=SQLITE_CHECKPOINT_LOCK_WAIT_SECONDS):
            try:
                with suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(FULL)").fetchall()
            finally:
                lock.release()
