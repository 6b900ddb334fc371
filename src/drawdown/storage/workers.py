"""Worker processes that read the store beside the process that writes it (the ``Workers`` port).

An invoice run rates pages of accounts in these while its own process writes the pages
before them. Workers start from ``multiprocessing``'s fork server, which imports this module
once (the first time workers are asked for) and forks each worker from itself: a worker is
ready in milliseconds and inherits nothing from the caller, which has threads and open
SQLite connections (``spawn``, a fresh interpreter each, where there is no fork server).
Each worker has its own engine, without a WAL checkpointer; a task receives that wiring as
its ``deps`` and only reads. Instants and ids come from the caller: the worker's clock and
id source refuse to answer.

Like any ``multiprocessing`` user, a script that runs work on workers from its top level
needs the ``if __name__ == "__main__":`` guard (the ``drawdown`` command has it).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from multiprocessing import forkserver
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

from drawdown.services.ports import Deps, Workers
from drawdown.storage.definition_cache import DefinitionCache
from drawdown.storage.engine import engine_for, is_memory_url
from drawdown.storage.grant_cache import GrantCache
from drawdown.storage.uow import SqlUnitOfWork

T = TypeVar("T")
_deps: Deps | None = None  # this worker's wiring, made when the worker starts


class ProcessWorkers:
    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self.pool = pool

    def submit(self, task: Callable[..., T], /, *args: Any) -> Future[T]:
        """The task's future; once a worker has died (the pool is then broken), a future
        that failed, as the tasks in flight did, so the caller handles one kind of failure."""
        try:
            return self.pool.submit(_run, task, args)
        except BrokenExecutor as error:
            failed: Future[T] = Future()
            failed.set_exception(error)
            return failed


@contextmanager
def process_workers(url: str, count: int) -> Iterator[Workers | None]:
    """Up to ``count`` worker processes on the store at ``url`` for the ``with`` block;
    ``None`` for a count below 1 or a store other processes cannot open (in memory)."""
    if count < 1 or is_memory_url(url):
        yield None
        return
    context = _context()
    if context.get_start_method() == "forkserver":
        forkserver.ensure_running()  # the server imports drawdown now, while the caller goes on
    pool = ProcessPoolExecutor(count, mp_context=context, initializer=_start, initargs=(url,))
    try:
        yield ProcessWorkers(pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _context() -> BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])  # the server imports drawdown once, up front
        return context
    return multiprocessing.get_context("spawn")


class _FromCaller:
    """The clock and id source of a worker: a task takes its instants and ids from its caller."""

    def now(self) -> datetime:
        raise RuntimeError("a worker task is given its instants; it does not read a clock")

    def new(self, prefix: str) -> str:
        raise RuntimeError("a worker task only reads; it makes no ids")


def _start(url: str) -> None:
    global _deps
    engine = engine_for(url, checkpoints=False)
    uow = partial(SqlUnitOfWork, engine, grant_cache=GrantCache(), definitions=DefinitionCache())
    _deps = Deps(uow=uow, clock=_FromCaller(), ids=_FromCaller())


def _run(task: Callable[..., T], args: tuple[Any, ...]) -> T:
    assert _deps is not None, "the worker did not start"
    return task(_deps, *args)
