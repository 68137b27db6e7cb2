"""The schema comes from the Alembic revisions, on an empty SQLite and an empty PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from bot.store import Store, open_store
from bot.store import tables as t
from bot.store.engine import make_engine
from bot.store.schema import (
    FIRST_REVISION,
    HEAD,
    alembic_config,
    current_revision,
    head_revision,
)


def _schema_diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), t.metadata))


async def test_an_empty_database_is_migrated_to_head_and_matches_the_tables(
    database_url: str,
) -> None:
    store = await open_store(database_url)
    try:
        async with store.engine.connect() as conn:
            assert await current_revision(conn) == head_revision()
            assert await conn.run_sync(_schema_diff) == []
    finally:
        await store.close()


async def test_upgrading_again_is_a_no_op_that_keeps_the_data(database_url: str) -> None:
    first = await open_store(database_url)
    try:
        incident = await first.create_incident("fraud", {"alertname": "Endpoint5xx"})
    finally:
        await first.close()
    again = await open_store(database_url)
    try:
        assert await again.get_incident(incident.id) == incident
        async with again.engine.connect() as conn:
            assert await current_revision(conn) == head_revision()
            versions = await conn.exec_driver_sql("SELECT count(*) FROM alembic_version")
            assert versions.scalar_one() == 1
        kinds = [entry.kind for entry in await again.list_audit()]
        assert kinds == ["incident_opened"]
    finally:
        await again.close()


async def test_replicas_starting_at_once_migrate_once(database_url: str) -> None:
    stores = await asyncio.gather(*[open_store(database_url) for _ in range(4)])
    try:
        async with stores[0].engine.connect() as conn:
            assert await current_revision(conn) == head_revision()
            heads = await conn.execute(select(func.count()).select_from(t.audit_head))
            assert heads.scalar_one() == 1
        incident = await stores[1].create_incident("fraud", {})
        assert await stores[3].get_incident(incident.id) == incident
    finally:
        for store in stores:
            await store.close()


def _build_without_migrations(connection: Connection) -> None:
    """The first revision's schema, as ``create_all`` built it before migrations existed."""
    command.upgrade(alembic_config(connection), FIRST_REVISION)
    connection.exec_driver_sql("DROP TABLE alembic_version")
    connection.exec_driver_sql(
        "INSERT INTO incidents (id, target, trigger, status, created_at, updated_at)"
        " VALUES ('inc-old', 'fraud', '{}', 'resolved', '2026-01-01 00:00:00+00:00',"
        " '2026-01-01 00:00:00+00:00')"
    )


async def test_a_database_built_before_migrations_is_adopted(database_url: str) -> None:
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(_build_without_migrations)
        assert await current_revision(conn) is None
    await engine.dispose()
    store: Store = await open_store(database_url)
    try:
        async with store.engine.connect() as conn:
            assert await current_revision(conn) == head_revision()
            assert await conn.run_sync(_schema_diff) == []
        old = await store.get_incident("inc-old")
        assert old is not None and old.status == "resolved"
    finally:
        await store.close()


def test_the_fast_path_head_is_the_newest_revision() -> None:
    # ``open_store`` skips Alembic when the database is at ``HEAD``; a stale constant would
    # leave a new revision unapplied.
    assert head_revision() == HEAD
