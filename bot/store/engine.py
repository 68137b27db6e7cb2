"""The connection to SQLite (one process) or PostgreSQL (several replicas), and the store's errors.

Every concern of the store (incidents, proposals, ledger, audit chain) is a class over
``StoreBase``: one engine, one clock, so they share transactions' semantics and a test's clock.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

Clock = Callable[[], datetime]
P = ParamSpec("P")
R = TypeVar("R")

# How long ``close`` waits for calls whose callers were cancelled (SQLite's lock wait is 30 s).
_IN_FLIGHT_WAIT_S = 35.0


class StoreError(Exception):
    """A request the store cannot honour (the base of every store error)."""


class NotFoundError(StoreError, LookupError):
    """The incident, proposal or ledger key does not exist."""


def utcnow() -> datetime:
    """The default clock: the wall clock, aware, UTC."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A short random id such as ``inc-1a2b3c4d5e6f``: unique enough, readable in a chat thread."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def async_url(database_url: str) -> URL:
    """The SQLAlchemy async URL for a ``sqlite:///path`` or ``postgresql://...`` URL."""
    url = make_url(database_url)
    if url.drivername in ("sqlite", "sqlite+aiosqlite"):
        return url.set(drivername="sqlite+aiosqlite")
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    raise StoreError(
        f"unsupported database URL scheme {url.drivername!r}: use sqlite or postgresql"
    )


def _enable_wal(cursor: Any, attempts: int = 50) -> None:
    """Switch the database to WAL. Changing the journal mode needs the database to itself, and
    SQLite answers "database is locked" at once, without waiting, while another connection (a
    replica starting at the same moment) holds it: retry for up to 5 s. Once WAL, it stays WAL."""
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # sqlite3.OperationalError, through the async adapter
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.1)


def make_engine(database_url: str) -> AsyncEngine:
    """An async engine whose transactions serialise writers on both databases."""
    url = async_url(database_url)
    if url.get_backend_name() == "postgresql":
        return create_async_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        raise StoreError("an in-memory SQLite database cannot be shared: give a file path")
    engine = create_async_engine(url, connect_args={"timeout": 30})

    # SQLite's default deferred transactions fail with "database is locked" when two writers
    # upgrade at once; taking the write lock at BEGIN makes concurrent writers queue instead.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _to_the_end(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """``method`` run to its end even when its caller is cancelled (the caller still sees the
    cancellation at once).

    A cancellation that lands while a statement is in flight leaves the connection invalidated
    half-way: with SQLite, a ``BEGIN IMMEDIATE`` its thread completes after the cancel keeps the
    write lock on a connection nobody closes, and every later writer waits and fails with
    "database is locked". Shielded, every transaction commits or rolls back as written.
    """

    @functools.wraps(method)
    async def shielded(*args: P.args, **kwargs: P.kwargs) -> R:
        store = args[0]
        assert isinstance(store, StoreBase)
        task = asyncio.ensure_future(method(*args, **kwargs))
        store._in_flight.add(task)
        task.add_done_callback(store._in_flight.discard)
        # Retrieved here so that a call whose caller left does not log "never retrieved".
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(task)

    return shielded


class StoreBase:
    """The engine and clock every concern of the store works with.

    Every public coroutine method of a subclass runs to its end even if its caller is cancelled
    (see ``_to_the_end``); ``close`` waits for those still running.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and name != "close" and inspect.iscoroutinefunction(value):
                setattr(cls, name, _to_the_end(value))

    def __init__(self, engine: AsyncEngine, clock: Clock = utcnow) -> None:
        self.engine = engine
        self._clock = clock
        self._in_flight: set[asyncio.Future[Any]] = set()

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def now(self) -> datetime:
        """The store's current time (UTC)."""
        return self._clock()

    async def close(self) -> None:
        """Wait for calls still finishing (their callers were cancelled), then close every
        pooled connection."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=_IN_FLIGHT_WAIT_S)
        await self.engine.dispose()
