"""The real servers of the integration tests: Prometheus and Alertmanager (Debian packages,
installed by ``scripts/ensure-services.sh``) and the sandbox behind uvicorn, each on a free port of
127.0.0.1 with its config and data in a temporary directory.

Everything here is synchronous (subprocesses and one thread), so module-scoped fixtures can start a
stack once and the async tests only talk HTTP to it.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml

from bot.triggers.alertmanager import AlertTrigger, WebhookBatch, WebhookError, parse_webhook
from sandbox.routes.exposition import advance
from sandbox.runtime import Sandbox

HOST = "127.0.0.1"
SCRAPE_JOB = "model-serving"
START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def binary(*names: str) -> str:
    """The path of the first of ``names`` on PATH. A missing binary is a broken machine, not a
    reason to skip: the message says how to install it."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError(f"none of {names} is on PATH: run scripts/ensure-services.sh")


def wait_until(check: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    """Poll ``check`` every 0.1 s until it is true; raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not within {timeout_s:g} s")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


class Binary:
    """A server binary run as a subprocess, its output in ``<workdir>/<name>.log``."""

    def __init__(self, name: str, args: list[str], workdir: Path, ready_path: str, port: int):
        self.name = name
        self.args = args
        self.log = workdir / f"{name}.log"
        self.url = f"http://{HOST}:{port}"
        self._ready_path = ready_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process and wait until its readiness endpoint answers 200."""
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        process = self._process

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {process.returncode}:\n{self.logs()}")
            return _answers(self.url + self._ready_path)

        try:
            wait_until(ready, timeout_s=START_TIMEOUT_S, what=f"{self.name} ready")
        except TimeoutError:
            self.stop()
            raise TimeoutError(f"{self.name} did not become ready:\n{self.logs()}") from None

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 10 s)."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)

    def logs(self, tail: int = 40) -> str:
        """The last lines of the process' output (for failure messages)."""
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-tail:])


def prometheus(
    workdir: Path,
    *,
    scrape: str,
    rule_files: Sequence[Path] = (),
    alertmanager: str | None = None,
    tsdb: Path | None = None,
) -> Binary:
    """A Prometheus scraping ``scrape`` (``host:port``, path ``/metrics``) every second, evaluating
    ``rule_files`` every second and sending alerts to ``alertmanager`` (``host:port``)."""
    port = free_port()
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": SCRAPE_JOB, "static_configs": [{"targets": [scrape]}]}],
    }
    if rule_files:
        config["rule_files"] = [str(path) for path in rule_files]
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    check = subprocess.run(
        [binary("promtool"), "check", "config", str(config_file)], capture_output=True, text=True
    )
    if check.returncode != 0:
        raise RuntimeError(f"promtool rejects {config_file}:\n{check.stdout}{check.stderr}")
    args = [
        binary("prometheus"),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={tsdb or workdir / 'tsdb'}",
        f"--web.listen-address={HOST}:{port}",
        # Links in alerts (generatorURL) point here rather than at the machine's host name.
        f"--web.external-url=http://{HOST}:{port}",
        "--log.level=warn",
    ]
    return Binary("prometheus", args, workdir, "/-/ready", port)


def alertmanager(workdir: Path, config: dict[str, Any]) -> Binary:
    """An Alertmanager with ``config`` (an ``alertmanager.yml`` as a dict), clustering off."""
    port = free_port()
    config_file = workdir / "alertmanager.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    args = [
        binary("alertmanager", "prometheus-alertmanager"),
        f"--config.file={config_file}",
        f"--storage.path={workdir / 'alertmanager-data'}",
        f"--web.listen-address={HOST}:{port}",
        f"--web.external-url=http://{HOST}:{port}",
        # An empty cluster address disables gossip: no fixed port 9094, no peers to wait for.
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    return Binary("alertmanager", args, workdir, "/-/ready", port)


class SandboxServer:
    """A sandbox app served by uvicorn in a thread (its own event loop), like ``sandbox up``."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.port = free_port()
        self.address = f"{HOST}:{self.port}"
        self.url = f"http://{self.address}"
        config = uvicorn.Config(
            sandbox.app, host=HOST, port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="sandbox", daemon=True)

    def start(self) -> None:
        """Serve, and wait until the app answers."""
        self._thread.start()
        wait_until(lambda: _answers(self.url + "/"), timeout_s=START_TIMEOUT_S, what="sandbox")

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)


def backfill(
    server: SandboxServer, tsdb: Path, workdir: Path, *, minutes: float, step_s: float = 15.0
) -> float:
    """Give Prometheus a history: the sandbox exporter's series of the last ``minutes``, one
    snapshot every ``step_s``, written as OpenMetrics and turned into TSDB blocks by ``promtool``.

    Why: ``rate(x[30m])`` divides by the whole 30 minutes, so with only a few seconds of scrapes a
    real Prometheus reports a tiny request rate. The snapshots come from the exporter's own
    ``advance`` at past times, labelled with the scrape job's ``job`` and ``instance``, so they
    are the same series the live scrapes continue. Call before Prometheus starts; returns the time
    of the last snapshot.
    """
    state = server.sandbox.state
    now = time.time()
    start = now - minutes * 60
    state.last_scrape = start
    scrape_labels = f'job="{SCRAPE_JOB}",instance="{server.address}",'
    lines: list[str] = []
    at = start
    while at <= now - 1:
        for line in advance(state, at):
            if line.startswith("#"):
                continue
            # Every exporter line has labels ("target" at least): add the scrape's own.
            lines.append(f"{line.replace('{', '{' + scrape_labels, 1)} {at:.3f}")
        last, at = at, at + step_s
    lines.append("# EOF")
    source = workdir / "backfill.om"
    source.write_text("\n".join(lines) + "\n")
    tsdb.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"promtool backfill failed:\n{done.stdout}{done.stderr}")
    return last


class WebhookReceiver:
    """The bot's side of Alertmanager's webhook, as a plain HTTP server in a thread: each POST is
    parsed with :func:`bot.triggers.alertmanager.parse_webhook` and kept as a batch.

    Answers 200 with the batch's counts, or 400 when the payload as a whole is unusable (which
    Alertmanager would not retry, exactly like the bot)."""

    def __init__(self) -> None:
        self.batches: list[WebhookBatch] = []
        self.payloads: list[Any] = []  # the raw JSON of each delivery, parsed or not
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}/alertmanager"
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(raw)
                    receiver.payloads.append(payload)
                    batch = parse_webhook(payload)
                except (ValueError, WebhookError) as exc:
                    self._answer(400, {"error": str(exc)})
                    return
                receiver.batches.append(batch)
                counts = {
                    "triggers": len(batch.triggers),
                    "resolved": len(batch.resolved),
                    "rejected": len(batch.rejected),
                }
                self._answer(200, counts)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        self._server = ThreadingHTTPServer((HOST, self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def triggers(self) -> list[AlertTrigger]:
        """Every firing alert received so far, in arrival order."""
        return [t for batch in list(self.batches) for t in batch.triggers]
