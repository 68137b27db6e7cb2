"""Every test here runs once on SQLite and once on PostgreSQL (a fresh schema per test).

``store`` is a plain store (unsigned, unanchored); ``sealed_store`` signs and anchors with the key
and anchor file of ``sealed_settings`` (a state directory of the test's own).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.audit.seal import ChainSeal, attach_seal, seal_from_settings
from bot.settings import Settings
from bot.store import Store, open_store
from bot.store.testing import ManualClock, temporary_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def store(database_url: str, clock: ManualClock) -> AsyncIterator[Store]:
    opened = await open_store(database_url, clock=clock)
    yield opened
    await opened.close()


@pytest.fixture
def sealed_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(state_dir=tmp_path / "state", database_url=database_url)


@pytest.fixture
def seal(sealed_settings: Settings) -> ChainSeal:
    return seal_from_settings(sealed_settings)


@pytest.fixture
async def sealed_store(
    database_url: str, clock: ManualClock, seal: ChainSeal
) -> AsyncIterator[Store]:
    opened = await open_store(database_url, clock=clock)
    attach_seal(opened.engine, seal)
    yield opened
    await opened.close()
