"""A caller cancelled in the middle of a store call (a shutdown, a crashed task, a client gone)
leaves no lock behind: the call runs to its end and other writers go on."""

from __future__ import annotations

import asyncio

from bot.store import open_store


async def test_callers_cancelled_mid_call_leave_no_lock_behind(database_url: str) -> None:
    store = await open_store(database_url)
    other = await open_store(database_url)

    async def busy() -> None:
        while True:
            await store.append_audit(None, "tool_call", "bot", {"busy": True})
            await store.list_incidents()

    try:
        for trial in range(30):
            task = asyncio.create_task(busy())
            await asyncio.sleep(0.001 * (1 + trial % 10))  # lands on every step of a call
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            # Another writer gets the lock at once (SQLite would wait 30 s, then fail with
            # "database is locked"; PostgreSQL would wait on the head row for ever).
            await asyncio.wait_for(
                other.append_audit(None, "tool_call", "other", {"trial": trial}), 10
            )
        entries = await other.list_audit()
        assert [e.payload["trial"] for e in entries if e.actor == "other"] == list(range(30))
    finally:
        await store.close()
        await other.close()
