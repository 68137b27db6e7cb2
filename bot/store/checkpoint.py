"""The LangGraph checkpointer, on the same database as the bot's tables.

A paused incident (waiting for an approval) survives a restart, and on PostgreSQL any replica can
resume it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from bot.store.engine import StoreError, async_url

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow

# Each backend's saver (and psycopg for PostgreSQL) is imported when a database of its kind is
# opened: a SQLite bot, the CLI on its default store, never pays for the PostgreSQL stack.

# Any constant: the advisory lock that keeps replicas from running the migrations at once.
_SETUP_LOCK_ID = 7_420_118
_SETUP_LOCK_POLL_S = 0.05


def _libpq_url(database_url: str) -> str:
    return (
        async_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


@asynccontextmanager
async def open_checkpointer(database_url: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """``async with open_checkpointer(url) as saver:`` a ready checkpointer for ``url``.

    SQLite: ``AsyncSqliteSaver`` on the same file. PostgreSQL: ``AsyncPostgresSaver`` over a
    connection pool, with its migrations run once (serialised across replicas).
    """
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        if not url.database or url.database == ":memory:":
            raise StoreError("the checkpointer needs a SQLite file path")
        async with AsyncSqliteSaver.from_conn_string(url.database) as sqlite_saver:
            # The store writes to the same file; wait for its lock as long as the store waits
            # for the checkpointer's (sqlite3's 5 s default fails under load: "database is
            # locked"), so a busy machine slows an incident down instead of failing it.
            await sqlite_saver.conn.execute("PRAGMA busy_timeout=30000")
            await sqlite_saver.setup()
            yield sqlite_saver
        return
    async with _postgres_saver(_libpq_url(database_url)) as postgres_saver:
        yield postgres_saver


async def _take_setup_lock(conn: AsyncConnection[DictRow]) -> None:
    """Take the setup lock by polling, never by a blocked ``pg_advisory_lock``.

    The saver's migrations build indexes ``CONCURRENTLY``, which waits for every older snapshot
    in the database. A statement blocked on the lock holds one, so the holder's index build
    would wait for the waiter, which waits for the holder: a deadlock PostgreSQL does not
    detect. A ``pg_try_advisory_lock`` returns at once and holds no snapshot while it waits.
    """
    while True:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s) AS taken", (_SETUP_LOCK_ID,))
        row = await cursor.fetchone()
        if row is not None and row["taken"]:
            return
        await asyncio.sleep(_SETUP_LOCK_POLL_S)


@asynccontextmanager
async def _postgres_saver(conninfo: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """``AsyncPostgresSaver`` over a pool, its tables set up once across replicas."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow, dict_row
    from psycopg_pool import AsyncConnectionPool

    async with await AsyncConnection.connect(
        conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row
    ) as setup_conn:
        await _take_setup_lock(setup_conn)
        try:
            await AsyncPostgresSaver(conn=setup_conn).setup()
        finally:
            await setup_conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK_ID,))
    pool_kwargs: dict[str, Any] = {
        "autocommit": True,
        "prepare_threshold": 0,
        "row_factory": dict_row,
    }
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
        conninfo,
        connection_class=AsyncConnection[DictRow],
        kwargs=pool_kwargs,
        min_size=1,
        max_size=10,
        open=False,
    )
    async with pool:
        yield AsyncPostgresSaver(conn=pool)
