"""What reserve and capture read from memory instead of the store, and what they still ask it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from drawdown.book import Book, open_book
from drawdown.domain.accounts import Account, DrawdownPolicy
from drawdown.domain.errors import InsufficientCredit, KillSwitchEngaged
from drawdown.services.enforcement import KILL_SWITCH
from drawdown.storage.definition_cache import DefinitionCache
from drawdown.storage.engine import engine_for
from drawdown.storage.migrate import upgrade
from drawdown.storage.uow import SqlUnitOfWork
from tests.conftest import START, FixedClock


def add_read_and_roll_back(engine: Engine, cache: DefinitionCache, account: Account) -> None:
    with SqlUnitOfWork(engine, write=True, definitions=cache) as uow:
        uow.accounts.add(account)
        assert uow.accounts.get(account.id) == account  # read inside its own transaction
        raise RuntimeError("roll back")


def test_an_account_is_remembered_only_once_the_unit_of_work_that_read_it_commits(store_url: str) -> None:
    engine = engine_for(store_url)
    upgrade(engine)
    cache = DefinitionCache()
    acme = Account("acme", "USD", "UTC", None, DrawdownPolicy.DEFAULT, datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(RuntimeError):
        add_read_and_roll_back(engine, cache, acme)
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


def priced(book: Book, *, grant: str = "100") -> None:
    book.define_unit("CREDIT", scale=3)
    book.create_account("acme", currency="USD")
    book.define_rate_card("std", "CREDIT", {"api_call": "0.5"}, effective_at=START)
    book.configure_account("acme", rate_card="std")
    book.issue_grant("acme", grant, "CREDIT", reason_code="promo")


def test_settings_changed_in_this_process_are_seen_by_the_next_reserve(book: Book, clock: FixedClock) -> None:
    priced(book)
    assert book.reserve("acme", "api_call", "2").amount_units == 1000  # settings read, and kept
    book.set_kill_switch(True)
    with pytest.raises(KillSwitchEngaged):
        book.reserve("acme", "api_call", "2")
    book.set_kill_switch(False)
    book.define_rate_card("std", "CREDIT", {"api_call": "2"}, effective_at=clock.at)
    assert book.reserve("acme", "api_call", "2").amount_units == 4000  # the new version is in force
    book.define_rate_card("std", "CREDIT", {"api_call": "3"}, effective_at=clock.at + timedelta(hours=1))
    assert book.reserve("acme", "api_call", "2").amount_units == 4000  # not yet
    clock.advance(hours=1)
    assert book.reserve("acme", "api_call", "2").amount_units == 6000
    book.define_rate_card("cheap", "CREDIT", {"api_call": "0.25"}, effective_at=START)
    book.configure_account("acme", rate_card="cheap")
    assert book.reserve("acme", "api_call", "2").amount_units == 500
    book.configure_account("acme", mode="shadow")
    assert book.reserve("acme", "api_call", "1000000").amount_units < 250_000_000  # shadow holds what there is


def test_settings_changed_through_another_connection_are_seen_by_the_next_reserve(store_url: str) -> None:
    clock = FixedClock()
    with open_book(store_url, clock=clock, actor="a") as ours, open_book(store_url, clock=clock, actor="b") as theirs:
        priced(ours)
        assert ours.reserve("acme", "api_call", "2").amount_units == 1000
        theirs.set_kill_switch(True)
        with pytest.raises(KillSwitchEngaged):
            ours.reserve("acme", "api_call", "2")
        theirs.set_kill_switch(False)
        assert ours.reserve("acme", "api_call", "2").amount_units == 1000
        theirs.define_rate_card("std", "CREDIT", {"api_call": "2"}, effective_at=clock.at)
        assert ours.reserve("acme", "api_call", "2").amount_units == 4000
        theirs.configure_account("acme", overdraft_limits={"CREDIT": "50"})
        assert ours.reserve("acme", "api_call", "60").amount_units == 120_000  # 100 of credit and 20 lent


def test_a_settings_write_that_rolls_back_leaves_nothing_behind(tmp_path: Path) -> None:
    with open_book(f"sqlite:///{tmp_path}/rollback.db", clock=FixedClock(), actor="t") as book:
        priced(book)
        book.reserve("acme", "api_call", "2")  # the kill switch is read (off) and kept
        with pytest.raises(RuntimeError):
            engage_and_roll_back(book)
        assert book.reserve("acme", "api_call", "2").amount_units == 1000


def engage_and_roll_back(book: Book) -> None:
    with book.deps.uow(write=True) as uow:
        uow.settings.put(KILL_SWITCH, "on")
        assert uow.settings.get(KILL_SWITCH) == "on"  # this unit of work sees its own write
        raise RuntimeError("roll back")


def test_a_caller_changing_the_account_it_was_given_changes_nothing_else(tmp_path: Path) -> None:
    """Accounts come from a process-wide cache, but each caller gets dicts of its own: a local
    edit of an account's pool caps must not lift the cap the store holds."""
    with open_book(f"sqlite:///{tmp_path}/caps.db", clock=FixedClock(START), actor="test") as book:
        book.create_account("parent", currency="USD")
        book.issue_grant("parent", "100", "USD", reason_code="pool")
        book.create_account("child", currency="USD", parent="parent", pool_caps={"USD": ("10", "month")},
                            metadata={"plan": "free"})  # fmt: skip
        for _ in range(2):  # the second read comes from the cache
            mine = book.account("child")
            mine.pool_caps.clear()
            mine.metadata["plan"] = "enterprise"
        assert book.account("child").metadata == {"plan": "free"}
        with pytest.raises(InsufficientCredit):
            book.charge("child", "50", "USD")


def test_disposing_the_engine_under_a_write_leaves_the_shared_connection_usable(tmp_path: Path) -> None:
    """Book.close (which disposes the engine) while another thread is inside a write unit of
    work: that unit of work fails as it must, and the next ones share a connection again."""
    book = open_book(f"sqlite:///{tmp_path}/dispose.db", clock=FixedClock(START), actor="test")
    book.create_account("acme", currency="USD")
    inside, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with book.deps.uow(write=True) as uow:
                uow.accounts.get("acme")
                inside.set()
                go.wait(10)
        except BaseException as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    assert inside.wait(10)
    book.engine.dispose()
    go.set()
    thread.join(10)
    assert not any(isinstance(e, AssertionError) for e in errors), errors
    with book.deps.uow(write=True) as uow:
        assert uow.settings_cache is not None  # the shared writer connection (and its cache) again
    book.issue_grant("acme", "5", "USD", reason_code="after")
    assert book.balance("acme", "USD").available_units == 5 * 10**6
    book.close()
