"""``Sandbox``: a world, its MLflow registry and the app that serves them, ready to use in-process
(``sandbox.http_client()``) or behind uvicorn (``model-incident sandbox up``)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import httpx
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.default_world import default_world
from sandbox.faults import get_fault
from sandbox.registry import seed_registry, store_fingerprint
from sandbox.state import SandboxState
from sandbox.transport import DeadlineASGITransport
from sandbox.world import World

BASE_URL = "http://sandbox"
# Where the registry points while ``world.outages.registry`` is not "up": nothing listens on port 9
# (discard), so every MLflow call fails with a connection error.
UNREACHABLE_REGISTRY = "http://127.0.0.1:9"


class Sandbox:
    """One running sandbox. Build it with :meth:`start`."""

    def __init__(
        self, app: FastAPI, state: SandboxState, workdir: Path, *, owns_workdir: bool = False
    ) -> None:
        self.app = app
        self.state = state
        self.workdir = workdir
        self._owns_workdir = owns_workdir

    @classmethod
    async def start(cls, world: World | None = None, workdir: Path | None = None) -> Sandbox:
        """Seed an MLflow registry in ``workdir`` (a temporary directory by default) from
        ``world`` (the default world by default) and build the app."""
        world = world or default_world()
        owns = workdir is None
        workdir = workdir or Path(tempfile.mkdtemp(prefix="model-incident-sandbox-"))
        registry_dir = workdir / "registry"
        uri = await asyncio.to_thread(seed_registry, world, registry_dir)
        state = SandboxState(world=world, registry_dir=registry_dir, tracking_uri=uri)
        # Just seeded from this world, in a directory nobody else knows yet: they agree.
        state.registry_mark = store_fingerprint(registry_dir)
        sandbox = cls(create_app(state), state, workdir, owns_workdir=owns)
        await sandbox._build_routes()
        return sandbox

    async def _build_routes(self) -> None:
        """Answer one request that matches no route. FastAPI builds its routing tables on the
        first request it matches (about 20 ms); a request that matches nothing walks them all,
        so no client's first call pays for that."""
        async with self.http_client() as http:
            await http.get("/sandbox/no-such-route")

    async def close(self) -> None:
        """Release the sandbox: a temporary workdir it created is removed (a given one is kept)."""
        if self._owns_workdir:
            await asyncio.to_thread(shutil.rmtree, self.workdir, True)

    @property
    def world(self) -> World:
        return self.state.world

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking/registry URI. A registry outage is simulated here: while
        ``world.outages.registry`` is not "up" this is an address where nothing answers, so read
        it each time a client is built (clients built before the outage keep working)."""
        if self.state.world.outages.registry != "up":
            return UNREACHABLE_REGISTRY
        return self.state.tracking_uri

    def http_client(self, timeout: float = 10.0) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` talking to the app in-process at ``http://sandbox``. Client
        timeouts are honoured (a "slow" outage times out like over a socket)."""
        return httpx.AsyncClient(
            transport=DeadlineASGITransport(self.app), base_url=BASE_URL, timeout=timeout
        )

    async def inject(self, fault_id: str, target: str | None = None) -> World:
        """Apply one fault of the catalogue to the live world (and the registry)."""
        fault = get_fault(fault_id)
        return await self.state.mutate(lambda world: fault.apply(world, target))

    async def set_world(self, world: World) -> World:
        """Replace the world (and mirror its models into the registry)."""
        return await self.state.mutate(lambda _old: world)
