"""Schema changes as Alembic revisions (``bot/store/migrations``), applied when the store opens.

``upgrade`` runs in one transaction: on PostgreSQL under an advisory lock, on SQLite under the
write lock that ``BEGIN IMMEDIATE`` takes, so replicas starting together migrate once and the
others find the schema at head. A database built by ``create_all`` before migrations existed (its
tables there, no version row) is stamped at the first revision, which reproduces that schema, and
then upgraded like any other.

Alembic itself (about half a second of imports) is loaded only when the database is behind
``HEAD``: a start against an up-to-date database reads the version row and goes on.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"
# The newest revision in ``migrations/versions`` (a test keeps the two in step).
HEAD = "0005"
_VERSION_TABLE = "alembic_version"
# Any constant: the advisory lock that serialises migrations across replicas.
_SCHEMA_LOCK_ID = 7_420_117


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the store's migrations, bound to ``connection`` if given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision in the migrations folder, as Alembic reads it."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    row = connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).first()
    return str(row[0]) if row else None


def _upgrade_sync(connection: Connection) -> None:
    current = _current_revision(connection)
    if current == HEAD:
        return
    from alembic import command

    config = alembic_config(connection)
    if current is None and inspect(connection).has_table("incidents"):
        command.stamp(config, FIRST_REVISION)
    command.upgrade(config, "head")


# Alembic keeps its migration context in module-level state, and ``run_sync`` yields to the
# event loop at every statement: two stores opened at once in one process (an eval worker, a
# test) would interleave inside Alembic. One migration at a time per event loop.
_MIGRATING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _migration_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    if loop not in _MIGRATING:
        _MIGRATING[loop] = asyncio.Lock()
    return _MIGRATING[loop]


async def upgrade(conn: AsyncConnection) -> None:
    """Bring the schema to the head revision inside ``conn``'s transaction (a no-op at head)."""
    async with _migration_lock():
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK_ID})"))
        await conn.run_sync(_upgrade_sync)


async def current_revision(conn: AsyncConnection) -> str | None:
    """The revision the database is at, or None before the first upgrade."""
    return await conn.run_sync(_current_revision)
