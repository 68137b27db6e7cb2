"""The mutable state behind the sandbox app: the world (guarded by one asyncio lock), where the
registry lives, the idempotency replies and the exporter's counters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.registry import store_fingerprint, sync_aliases, sync_registry
from sandbox.world import Event, World

DEFAULT_ACTOR = "model-incident-bot"


@dataclass
class Reply:
    """A stored answer to a mutating request, replayed for a repeated ``Idempotency-Key``."""

    status_code: int
    body: bytes
    media_type: str | None


@dataclass
class SandboxState:
    """Everything the app serves and remembers. Mutations go through :meth:`mutate`."""

    world: World
    registry_dir: Path
    tracking_uri: str
    # How long a "slow" service takes before answering: past any sensible client timeout.
    slow_seconds: float = 30.0
    # ``POST /sandbox/delays``: how long every mutating platform request waits before it is
    # handled, so that a test can kill a client while its change is in flight.
    mutation_delay_s: float = 0.0
    mutations_in_flight: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    idempotency_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    replies: dict[tuple[str, str, str], Reply] = field(default_factory=dict)
    # Exporter: cumulative counters per (metric, labels) and when they were last advanced.
    counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)
    last_scrape: float = field(default_factory=time.time)
    # The registry store's fingerprint when its aliases last matched the world (set once seeded):
    # while it is unchanged nobody has moved an alias, and reading them back is skipped.
    registry_mark: tuple[int, ...] | None = None

    @property
    def artifacts_dir(self) -> Path:
        return self.registry_dir / "artifacts"

    async def mutate(self, change: Callable[[World], World]) -> World:
        """Replace the world with ``change(world)`` under the lock, and mirror it into MLflow."""
        async with self.lock:
            new = change(self.world)
            if new.models != self.world.models:
                self.registry_mark = None  # the next read compares the registry with it again
                if self.world.outages.registry == "up":
                    await asyncio.to_thread(
                        sync_registry, new, self.tracking_uri, self.artifacts_dir
                    )
            self.world = new
            return new

    async def refresh_aliases(self) -> World:
        """Read aliases back from MLflow (the bot changes them there), recording each change as
        an ``alias_set`` audit event. A registry outage leaves the world as it is."""
        if self.world.outages.registry != "up":
            return self.world
        async with self.lock:
            # Taken before the read: a commit during the read changes it, so it is read again.
            mark = store_fingerprint(self.registry_dir)
            if mark is not None and mark == self.registry_mark:
                return self.world
            world, changes = await asyncio.to_thread(sync_aliases, self.world, self.tracking_uri)
            self.registry_mark = mark
            for model, alias, before, after in changes:
                details = {"alias": alias, "version": after or "", "previous_version": before or ""}
                world.events.append(
                    Event(
                        minutes_ago=0,
                        type="alias_set",
                        resource=model,
                        actor="mlflow",
                        details=details,
                    )
                )
            self.world = world
            return world


def actor_of(headers: dict[str, str] | object) -> str:
    """The actor of a mutation: the ``X-Actor`` header, or the bot."""
    get = getattr(headers, "get", None)
    value = get("x-actor") if get else None
    return str(value) if value else DEFAULT_ACTOR
