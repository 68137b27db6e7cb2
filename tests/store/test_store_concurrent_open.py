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
