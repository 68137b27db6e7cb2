"""Alembic's environment for the store's tables (run by ``bot.store.schema``, not by a CLI).

``bot.store.schema.upgrade`` passes an open connection inside its own transaction (and, on
PostgreSQL, under an advisory lock), so every revision commits together with the version row.
Only the store's own tables are considered: LangGraph's checkpointer keeps its tables in the same
database and migrates them itself.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from bot.store.tables import metadata


def _ours(_obj: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
    """Compare only tables defined in ``bot.store.tables`` (and their indexes and columns)."""
    return type_ != "table" or name in metadata.tables


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=_ours,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # A developer writing a new revision: ``sqlalchemy.url`` set on the config by hand.
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as new_connection:
        _run(new_connection)


_main()
