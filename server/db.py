"""Database engine and sessions: one async engine per app, one session per request.

SQLite (the embedded default) runs in WAL mode. A transaction that may write begins
``BEGIN IMMEDIATE``: it takes SQLite's one write lock up front, so writers are serialized by
the database itself, which is what the audit chain, case numbering and booking rely on; a
read-only one begins deferred (``BEGIN``) and, in WAL mode, never waits for a writer nor
makes one wait. One mechanism picks between them: the ``courtlink_begin`` execution option,
read by the ``begin`` listener below. Everything begins IMMEDIATE unless its engine says
otherwise, so the CLI and every background worker (``Court.unit``, ``maker.begin()``) keep
writing as before; only ``reader(engine)`` (the same pool, the option set to deferred) reads
without the lock. The web layer opens a GET's or HEAD's session on the reader, an unsafe
request's on the engine itself, and the latter only once its body has been read
(``server.web.body``), so no client's slowness is ever paid for with the lock.

A GET that writes after all (an audit row for a recording played, an invite's last use when
its party connects) upgrades its deferred transaction at its first write. When another
writer committed since its snapshot, SQLite refuses that upgrade with ``SQLITE_BUSY``
(``is_busy``); the web layer then rolls back and runs the request once more on an IMMEDIATE
transaction. That retry was chosen over marking such GETs as writers: it needs no list of
handlers to keep right (a GET nobody marked would otherwise fail under contention), and a
request that did not write never pays for the lock. A handler that has already started its
answer (a stream) cannot be retried; none of the writing GETs writes after starting one.

PostgreSQL has no such lock (its own row locks and constraints serialize writers); the
option means nothing there, but the body is still read before the transaction opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from server.compiled_cache import share
from server.settings import Settings

# The execution option the ``begin`` listener reads, and its two values.
BEGIN_OPTION = "courtlink_begin"
IMMEDIATE = "IMMEDIATE"
DEFERRED = "DEFERRED"
SQLITE_BUSY = 5
# One reader per engine, made once (an options engine is cheap, but not free per request);
# weak so an engine a test or the CLI disposes of is not kept alive here.
_READERS: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def make_engine(settings: Settings, *, inline: bool = False) -> AsyncEngine:
    """The engine for ``settings``' database. ``inline``: on SQLite, run each call on the
    event loop's own thread instead of handing it to aiosqlite's worker thread and waiting
    for the answer; for a command that has the database to itself and makes thousands of
    small statements (``courtlink demo``), never for the server, whose loop must not wait
    on another process's lock."""
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.ensure_dirs()
        if inline:
            path = make_url(url).database or ""
            engine = create_async_engine(url, async_creator=lambda: _connect_inline(path))
        else:
            engine = create_async_engine(url, connect_args={"timeout": 30, "factory": _Closing})
        _tune_sqlite(engine)
        return share(engine)
    engine = create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        pool_pre_ping=True,
    )
    return share(engine)


class _Closing(sqlite3.Connection):
    """A SQLite connection that ends its transaction before it closes.

    A statement cancelled in flight (its task stopped, as at shutdown or when a client goes
    away) leaves its cursor behind, held by the cancel's traceback; SQLAlchemy then closes
    the connection it invalidated. SQLite cannot close a connection whose statement is still
    open: it keeps it, transaction and write lock included, until the cursor is collected,
    and every other writer waits out the busy timeout meanwhile (seen: the audit
    sequencer's last pass at a server's stop, 10 + 30 s). Rolling back first ends the
    transaction, and the open statement with it, whatever still holds the cursor."""

    def close(self) -> None:
        if self.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.rollback()
        super().close()


class _RunNow:
    """Stands in for the queue to aiosqlite's worker thread: each call runs at once, here."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the caller, as the worker thread does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


async def _connect_inline(path: str) -> aiosqlite.Connection:
    conn = aiosqlite.connect(path, timeout=30, factory=_Closing)
    conn._tx = _RunNow()  # type: ignore[assignment]
    conn._thread = threading.Thread(target=lambda: None, daemon=True)  # nothing to run
    return await conn


def _tune_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN IMMEDIATE below is ours.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(BEGIN_OPTION, IMMEDIATE)
        conn.exec_driver_sql(f"BEGIN {mode}")


def reader(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` (the same pool) for work that only reads: on SQLite its transactions begin
    deferred and take no lock until they write (see the module docstring)."""
    found = _READERS.get(engine)
    if found is None:
        found = _READERS[engine] = engine.execution_options(**{BEGIN_OPTION: DEFERRED})
    return found


def reading(maker: async_sessionmaker[AsyncSession]) -> AsyncSession:
    """A session of ``maker``'s engine that only reads (``reader``): a background worker's
    look for work takes no write lock on SQLite when there is none."""
    return AsyncSession(reader(maker.kw["bind"]))


def is_busy(exc: BaseException) -> bool:
    """SQLite refused a lock (``SQLITE_BUSY`` and its extended codes such as
    ``SQLITE_BUSY_SNAPSHOT``): a deferred transaction could not become a writer."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlite_errorcode", None)
    return isinstance(exc, OperationalError) and code is not None and code & 0xFF == SQLITE_BUSY


T = TypeVar("T")


async def not_cut_short(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` (one short transaction of a background worker) to its end even when the
    caller is cancelled meanwhile (the server stopping), then let the cancel through: the
    pass's work is done and committed, not rolled back to be done again at the next start
    (a batch chained, a message's sending recorded). A transaction cut short lets go of its
    lock either way (``_Closing``)."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with reader(engine).connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
