"""Wiring: a database URL in, services with storage, a clock and ids out.

The default store is an SQLite file in the working directory; ``DRAWDOWN_DB`` or an
explicit URL selects another (``postgresql+psycopg://…`` for PostgreSQL).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import Engine

from drawdown.domain import limits
from drawdown.domain.errors import InvalidField
from drawdown.domain.money import parse_decimal
from drawdown.services.ports import Clock, Deps
from drawdown.storage.definition_cache import DefinitionCache
from drawdown.storage.engine import engine_for, is_memory_url
from drawdown.storage.fast_reads import CurrentBalances
from drawdown.storage.grant_cache import GrantCache
from drawdown.storage.migrate import upgrade
from drawdown.storage.uow import SqlUnitOfWork, pinned
from drawdown.storage.workers import process_workers
from drawdown.storage.writer import WriterConnection

DEFAULT_URL = "sqlite:///drawdown.db"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)  # 10 bits -> two characters


def crockford(value: int) -> str:
    """A 128-bit value as 26 Crockford base32 characters, most significant first (two
    leading zero bits pad it to 130): ten bits, two characters, per step."""
    return "".join([_CROCKFORD_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10)])


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
        return f"{prefix}_{crockford((self.clock_ms() << 80) | secrets.randbits(80))}"


def build(url: str | None = None, *, clock: Clock | None = None, migrate: bool = True) -> tuple[Deps, Engine]:
    """Open the store at ``url``, migrate it to the newest schema, and wire the services."""
    engine = engine_for(database_url(url))
    if migrate:
        upgrade(engine)
    grant_cache, definitions = GrantCache(), DefinitionCache()
    writer = (
        WriterConnection(engine) if engine.dialect.name == "sqlite" and not is_memory_url(str(engine.url)) else None
    )
    deps = Deps(
        uow=partial(SqlUnitOfWork, engine, grant_cache=grant_cache, definitions=definitions, writer=writer),
        clock=clock or SystemClock(), ids=SortableIds(), current_balances=CurrentBalances(engine),
        pinned=partial(pinned, engine, grant_cache=grant_cache, definitions=definitions),
        workers=partial(process_workers, database_url(url)),
    )  # fmt: skip
    return deps, engine


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How ``drawdown serve`` runs; each field comes from a CLI flag, else the environment.

    ``DRAWDOWN_DB``, ``DRAWDOWN_HOST``, ``DRAWDOWN_PORT``, ``DRAWDOWN_SUPPORT_GRANT_LIMIT``
    (the largest single grant a support key may issue unless the key sets its own) and
    ``DRAWDOWN_LOG_LEVEL`` and ``DRAWDOWN_SWEEP_SECONDS`` (how often the server releases
    expired holds, expires lapsed grants and burns async usage; 0 turns the sweep off, for
    deployments that run ``drawdown sweep`` from cron instead).
    """

    db: str = DEFAULT_URL
    host: str = "127.0.0.1"
    port: int = 8000
    support_grant_limit: Decimal = Decimal("100")
    log_level: str = "info"
    sweep_seconds: Decimal = Decimal("5")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: Any) -> ServerSettings:
        source = os.environ if env is None else env
        given = {name: value for name, value in flags.items() if value is not None}
        limit = given.pop("support_grant_limit", None) or source.get("DRAWDOWN_SUPPORT_GRANT_LIMIT", "100")
        return cls(
            db=given.get("db") or source.get("DRAWDOWN_DB") or DEFAULT_URL,
            host=given.get("host") or source.get("DRAWDOWN_HOST", "127.0.0.1"),
            port=int(given.get("port") or source.get("DRAWDOWN_PORT", "8000")),
            support_grant_limit=parse_decimal(str(limit), field="support_grant_limit"),
            log_level=given.get("log_level") or source.get("DRAWDOWN_LOG_LEVEL", "info"),
            sweep_seconds=_sweep_seconds(
                str(given["sweep_seconds"] if "sweep_seconds" in given else source.get("DRAWDOWN_SWEEP_SECONDS", "5"))
            ),
        )


def _sweep_seconds(text: str) -> Decimal:
    seconds = parse_decimal(text, field="sweep_seconds")
    if seconds < 0 or seconds > limits.SWEEP_SECONDS_MAX:
        raise InvalidField(f"sweep_seconds must be 0 (off) to {limits.SWEEP_SECONDS_MAX}", field="sweep_seconds")
    return seconds
