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
