"""Fixtures shared by every test tier.

``store_url`` gives each test a fresh, migrated database on SQLite and, when ``bin/test``
started one, on PostgreSQL; in CI a missing PostgreSQL server is an error, not a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from drawdown.book import Book, open_book
from drawdown.storage.engine import engine_for
from drawdown.storage.migrate import upgrade
from tests import pg

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.hookimpl(trylast=True)  # after Hypothesis's own session start, which ends its set-up
def pytest_sessionstart(session: pytest.Session) -> None:
    """Build Hypothesis's Unicode tables before any test is timed.

    Hypothesis builds them on first use (which code points UTF-8 encodes: about 2 s of pure
    Python) and caches them in ``.hypothesis/``, which git ignores. In a fresh clone or worktree
    that first use fell inside whichever test first drew text in an ``@st.composite``, counted
    as its data generation, and failed its ``too_slow`` health check (1 s).
    """
    st.text().validate()


class FixedClock:
    """A clock tests move by hand."""

    def __init__(self, at: datetime = START) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A PostgreSQL database migrated once per worker, cloned for each test."""
    url = pg.postgres_url()
    if url is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL suite: run the tests through bin/test")
        yield None
        return
    template = pg.fresh_database(url)
    engine = engine_for(template)
    upgrade(engine)
    engine.dispose()
    yield make_url(template).database
    pg.drop_database(template)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db')}/drawdown.db"
        return
    template = request.getfixturevalue("pg_template")
    url = pg.postgres_url()
    if url is None or template is None:
        pytest.skip("PostgreSQL runs under bin/test (DRAWDOWN_TEST_PG_URL is not set)")
    fresh = pg.fresh_database(url, template=template)
    yield fresh
    pg.drop_database(fresh)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def book(store_url: str, clock: FixedClock) -> Iterator[Book]:
    with open_book(store_url, clock=clock, actor="test") as opened:
        yield opened
