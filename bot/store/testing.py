"""Throwaway databases for tests: a SQLite file, or a fresh schema on a PostgreSQL server.

``async with temporary_database("postgresql", tmp_path) as url:`` yields a URL that ``open_store``
and ``open_checkpointer`` accept; everything created under it is dropped on exit.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from psycopg import AsyncConnection, sql

DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


class ManualClock:
    """A clock for ``open_store(..., clock=)`` that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


def postgres_test_url() -> str:
    """The PostgreSQL server tests use (``TEST_POSTGRES_URL``, default the local trust-auth one)."""
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)


@asynccontextmanager
async def temporary_database(
    kind: Literal["sqlite", "postgresql"], directory: Path
) -> AsyncIterator[str]:
    """A database URL that nothing else uses; dropped afterwards.

    PostgreSQL: a new schema ``t_<random>`` on the test server, selected through the connection's
    ``search_path``, so parallel test workers never see each other's tables.
    """
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'store-{uuid.uuid4().hex[:8]}.db'}"
        return
    base = postgres_test_url()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    async with await AsyncConnection.connect(base, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        async with await AsyncConnection.connect(base, autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
