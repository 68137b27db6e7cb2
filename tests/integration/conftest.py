"""Real processes for the integration tests: the sandbox served by ``model-incident sandbox up``
and bot commands run as separate processes against it, sharing one SQLite database."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

CLI = str(Path(sys.executable).with_name("model-incident"))
T = TypeVar("T")


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until(probe: Callable[[], Awaitable[T | None]], *, timeout_s: float, what: str) -> T:
    """Poll ``probe`` until it returns something other than None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await probe()
        if value is not None:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


async def stop(process: asyncio.subprocess.Process) -> None:
    """End a process this module started (by its own handle), and reap it."""
    if process.returncode is None:
        process.kill()
    await process.wait()


@dataclass
class ServedSandbox:
    """A sandbox served over HTTP by its own process, and the bot's environment pointing at it."""

    base: str
    http: httpx.AsyncClient
    env: dict[str, str]
    workdir: Path
    database: Path
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    async def bot(self, name: str, *args: str) -> asyncio.subprocess.Process:
        """Start ``model-incident ARGS`` against this sandbox; stdin is not a terminal and the
        output goes to ``log(name)``."""
        return await self.spawn(name, CLI, *args)

    async def spawn(self, name: str, *argv: str) -> asyncio.subprocess.Process:
        # A file, not a pipe: nobody reads while the process runs, and a full pipe would block it.
        with self.log_path(name).open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=self.workdir,  # no stray .env from the checkout
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def log(self, name: str) -> str:
        """What process ``name`` printed so far."""
        return self.log_path(name).read_text(errors="replace")

    async def finish(self, name: str, process: asyncio.subprocess.Process, timeout_s: float) -> int:
        """Wait for a process to exit by itself; its exit code."""
        try:
            return await asyncio.wait_for(process.wait(), timeout_s)
        except TimeoutError:
            await stop(process)
            message = f"{name} still running after {timeout_s:g} s:\n{self.log(name)}"
            raise AssertionError(message) from None

    def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows of the bot's SQLite database, read directly (another process writes it)."""
        if not self.database.exists():
            return []
        with sqlite3.connect(self.database, timeout=5) as conn:
            conn.row_factory = sqlite3.Row
            try:
                return [dict(row) for row in conn.execute(sql, params)]
            except sqlite3.OperationalError as exc:  # tables not created yet
                if "no such table" in str(exc):
                    return []
                raise

    async def events(self, resource: str) -> list[dict[str, Any]]:
        """The platform's audit events about ``resource``."""
        response = await self.http.get(
            "/api/2.0/audit/serving-events", params={"resource": resource}
        )
        response.raise_for_status()
        return list(response.json()["events"])


async def _answers(http: httpx.AsyncClient) -> dict[str, Any] | None:
    try:
        response = await http.get("/")
    except httpx.TransportError:
        return None
    return dict(response.json()) if response.status_code == 200 else None


@pytest.fixture
async def served_sandbox(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[ServedSandbox]:
    """``model-incident sandbox up`` on a free port with the faults of the test's
    ``@pytest.mark.faults(...)`` marker, and the environment that points the bot at it."""
    marker = request.node.get_closest_marker("faults")
    faults = list(marker.args) if marker else []
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    workdir = tmp_path / "work"
    workdir.mkdir()
    database = tmp_path / "bot.db"
    env = {
        key: value
        for key, value in os.environ.items()
        if key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")
    }
    argv = [CLI, "sandbox", "up", "--port", str(port), "--workdir", str(tmp_path / "sandbox")]
    for fault in faults:
        argv += ["--fault", fault]
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        served = ServedSandbox(base, http, env, workdir, database)
        server = await served.spawn("sandbox", *argv)
        try:
            root = await wait_until(
                lambda: _answers(http), timeout_s=30, what=f"the sandbox on {base}"
            )
            env.update(
                {
                    "PLATFORM": "remote",
                    "DATABRICKS_HOST": base,
                    "GATEWAY_URL": f"{base}/gateway",
                    "PROMETHEUS_URL": f"{base}/prometheus",
                    "MISTRAL_SERVER_URL": f"{base}/mistral",
                    "MISTRAL_API_KEY": "sandbox",
                    "MLFLOW_TRACKING_URI": str(root["mlflow_tracking_uri"]),
                    "DATABASE_URL": f"sqlite:///{database}",
                    "STATE_DIR": str(tmp_path / "state"),
                    "APPROVERS": json.dumps(["alice"]),
                    "LLM_MODE": "off",
                }
            )
            yield served
        finally:
            for process in reversed(served.processes):
                await stop(process)
            assert server.returncode is not None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults(*specs): sandbox faults ID[:TARGET] to serve")
