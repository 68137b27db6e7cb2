"""The bot's durable state on SQLite (one process) or PostgreSQL (several replicas), one code path.

``Store`` is a thin façade over the store's concerns, one module each: ``incidents``,
``proposals`` (proposals, approvals, decide, expire), ``ledger`` and ``chain`` (the audit chain),
over ``engine`` (connection) and ``rows`` (row to model). Each concern records the audit entries
of its own state changes in the same transaction as the change, so an approval, an expiry or an
execution can never be stored without its audit row: ``create_incident`` → ``incident_opened``,
``update_incident`` to resolved/closed → ``incident_closed``, ``create_proposal`` → ``proposal``,
``decide`` → ``approval`` / ``rejection`` / ``expiry``, ``ledger_begin`` (when it wins) →
``execution_started``, ``ledger_finish`` → ``execution_finished``. Everything else (tool calls,
LLM calls, diagnoses...) goes through ``bot.audit.append``.
"""

from __future__ import annotations

from bot.store.chain import ensure_head
from bot.store.engine import (
    Clock,
    NotFoundError,
    StoreError,
    async_url,
    make_engine,
    utcnow,
)
from bot.store.incidents import Incidents
from bot.store.ledger import Ledger
from bot.store.proposals import Proposals, default_idempotency_key
from bot.store.schema import upgrade

__all__ = [
    "NotFoundError",
    "Store",
    "StoreError",
    "async_url",
    "default_idempotency_key",
    "open_store",
]


class Store(Incidents, Proposals, Ledger):
    """Incidents, proposals, approvals, the execution ledger and the audit chain.

    Build it with ``open_store``; every method is one transaction.
    """

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()


async def open_store(database_url: str, *, clock: Clock = utcnow) -> Store:
    """Connect to the database and migrate its schema to the head revision.

    ``clock`` returns the current time (aware, UTC); tests pass a controllable one.
    """
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await upgrade(conn)
        await ensure_head(conn)
    return Store(engine, clock)
