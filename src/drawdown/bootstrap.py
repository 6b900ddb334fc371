"""Wiring: a database URL in, services with storage, a clock and ids out.

The default store is an SQLite file in the working directory; ``DRAWDOWN_DB`` or an
explicit URL selects another (``postgresql+psycopg://…`` for PostgreSQL).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import Engine

from drawdown.services.ports import Clock, Deps
from drawdown.storage.engine import engine_for
from drawdown.storage.fast_reads import CurrentBalances
from drawdown.storage.grant_cache import GrantCache
from drawdown.storage.migrate import upgrade
from drawdown.storage.uow import SqlUnitOfWork

DEFAULT_URL = "sqlite:///drawdown.db"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def database_url(url: str | None = None) -> str:
    return url or os.environ.get("DRAWDOWN_DB") or DEFAULT_URL


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SortableIds:
    """ULID-style ids: 48 bits of milliseconds then 80 random bits, Crockford base32.

    Ids sort by creation time, which keeps index inserts local, and never collide in practice.
    """

    def __init__(self, clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        self.clock_ms = clock_ms

    def new(self, prefix: str) -> str:
        value = (self.clock_ms() << 80) | secrets.randbits(80)
        chars = [_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5)]
        return f"{prefix}_{''.join(chars)}"


def build(url: str | None = None, *, clock: Clock | None = None, migrate: bool = True) -> tuple[Deps, Engine]:
    """Open the store at ``url``, migrate it to the newest schema, and wire the services."""
    engine = engine_for(database_url(url))
    if migrate:
        upgrade(engine)
    uow = partial(SqlUnitOfWork, engine, grant_cache=GrantCache())
    deps = Deps(uow=uow, clock=clock or SystemClock(), ids=SortableIds(), current_balances=CurrentBalances(engine))
    return deps, engine
