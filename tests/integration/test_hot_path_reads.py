"""What reserve and capture read from memory instead of the store, and what they still ask it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drawdown.book import Book
from drawdown.domain.accounts import Account, DrawdownPolicy
from drawdown.storage.definition_cache import DefinitionCache
from drawdown.storage.engine import engine_for
from drawdown.storage.migrate import upgrade
from drawdown.storage.uow import SqlUnitOfWork
from tests.conftest import START


def test_an_account_is_remembered_only_once_the_unit_of_work_that_read_it_commits(store_url: str) -> None:
    engine = engine_for(store_url)
    upgrade(engine)
    cache = DefinitionCache()
    acme = Account("acme", "USD", "UTC", None, DrawdownPolicy.DEFAULT, datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(RuntimeError), SqlUnitOfWork(engine, write=True, definitions=cache) as uow:
        uow.accounts.add(acme)
        assert uow.accounts.get("acme") == acme  # read inside its own transaction
        raise RuntimeError("roll back")
    assert cache.account("acme") is None
    with SqlUnitOfWork(engine, write=False, definitions=cache) as uow:
        assert uow.accounts.get("acme") is None  # rolled back: gone, and not served from memory
    with SqlUnitOfWork(engine, write=True, definitions=cache) as uow:
        uow.accounts.add(acme)
    with SqlUnitOfWork(engine, write=False, definitions=cache) as uow:
        assert uow.accounts.get("acme") == acme
    assert cache.account("acme") == acme
    engine.dispose()


def test_a_hold_of_nothing_captures_and_releases_with_no_legs(book: Book) -> None:
    book.define_unit("CREDIT", scale=3)
    book.create_account("acme", currency="USD")
    book.define_rate_card("std", "CREDIT", {"api_call": "0.5"}, effective_at=START)
    book.configure_account("acme", rate_card="std")
    hold = book.reserve("acme", "api_call", "0")
    assert hold.amount_units == 0
    assert book.capture(hold.id, "0").captured_units == 0
    assert book.release(book.reserve("acme", "api_call", "0").id).released_units == 0


def test_a_capture_with_a_key_replays_and_one_without_a_key_never_does(book: Book) -> None:
    book.define_unit("CREDIT", scale=3)
    book.create_account("acme", currency="USD")
    book.define_rate_card("std", "CREDIT", {"api_call": "0.5"}, effective_at=START)
    book.configure_account("acme", rate_card="std")
    book.issue_grant("acme", "100", "CREDIT", reason_code="promo")
    first = book.reserve("acme", "api_call", "2", idempotency_key="r-1")
    assert book.reserve("acme", "api_call", "2", idempotency_key="r-1").id == first.id
    assert book.reserve("acme", "api_call", "2").id != book.reserve("acme", "api_call", "2").id
    captured = book.capture(first.id, "1", idempotency_key="c-1")
    assert book.capture(first.id, "1", idempotency_key="c-1") == captured
    assert book.balance("acme", "CREDIT").reserved_units == 2000  # the two keyless holds
