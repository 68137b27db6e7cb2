"""Several stores opened at once in one process (an eval worker runs scenarios side by side) each
migrate their own database: Alembic's module-level context must not be shared between them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.store.db import open_store


async def test_stores_opened_concurrently_all_migrate(tmp_path: Path) -> None:
    stores = await asyncio.gather(
        *(open_store(f"sqlite:///{tmp_path / f'bot-{i}.db'}") for i in range(6))
    )
    try:
        for store in stores:
            assert await store.list_incidents() == []
    finally:
        for store in stores:
            await store.close()


async def test_the_sqlite_checkpointer_waits_for_the_stores_lock(tmp_path: Path) -> None:
    # sqlite3's default 5 s wait fails a busy machine's incident with "database is locked".
    from bot.store.checkpoint import open_checkpointer

    async with open_checkpointer(f"sqlite:///{tmp_path / 'bot.db'}") as saver:
        cursor = await saver.conn.execute("PRAGMA busy_timeout")  # type: ignore[attr-defined]
        assert await cursor.fetchone() == (30000,)


async def test_postgres_checkpointers_set_up_at_once_do_not_deadlock(tmp_path: Path) -> None:
    # Replicas (or test workers) starting together: one holds the setup lock and builds its
    # indexes CONCURRENTLY, which waits for every older snapshot in the database, including that
    # of a statement blocked on the same lock: a deadlock PostgreSQL cannot see, since the lock
    # and the index build sit on two connections of one process.
    from contextlib import AsyncExitStack

    from bot.store.checkpoint import open_checkpointer
    from bot.store.testing import temporary_database

    async def set_up(stack: AsyncExitStack, n: int) -> None:
        url = await stack.enter_async_context(temporary_database("postgresql", tmp_path / str(n)))
        await stack.enter_async_context(open_checkpointer(url))

    for _ in range(3):
        async with AsyncExitStack() as stack:
            await asyncio.wait_for(asyncio.gather(*(set_up(stack, n) for n in range(4))), 60)
