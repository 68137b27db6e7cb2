"""The SLI queries against a real Prometheus scraping the sandbox's exporter.

The sandbox answers ``/prometheus/api/v1/query`` from its simulation; production asks a real
Prometheus that scrapes an exporter. Here a real Prometheus (the Debian binary) scrapes the
sandbox's ``/metrics`` every second, with a 31-minute history backfilled from the same exporter,
and the production adapter and the ``slis`` tool must read from it what the simulation says.

Tolerances, and why:
- shares of requests (error rate, per-code rates, null, fallback, burn rate) are ratios of two
  counters that advance together, so they agree to float precision;
- request rate and cost per hour divide an extrapolated increase by the whole window: exact once
  the window is full (the backfill) and the newest sample is under 1.1 scrape intervals old, so 1 %;
- gauges are printed with 6 significant digits by the exporter: 1e-5 relative;
- latency percentiles are ``histogram_quantile`` interpolations: they land in the bucket that
  holds the true value, no closer.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from bot.compose import call_policy, platform_config
from bot.settings import Settings
from sandbox.default_world import default_world
from sandbox.faults import inject
from sandbox.platform import platform_for_sandbox
from sandbox.routes.exposition import BUCKETS_S
from sandbox.runtime import Sandbox
from sandbox.simulation import slis as simulated_slis
from sandbox.world import World
from tests.integration import servers
from tools.catalog import run_tool
from tools.clients.prometheus import PrometheusSLI
from tools.platform import Platform, build_platform
from tools.readonly.slis import NUMERIC_SLIS
from tools.sli_queries import LABEL_SLIS, load_queries, render

pytestmark = pytest.mark.integration

FAULTED = "sentiment-endpoint"
FAULT = "latency.under_provisioned"
WINDOW_MIN = 30  # the slis tool's default window, filled by the backfill
HISTORY_MIN = 31
LIVE_SCRAPES = 3
RATES_OVER_WINDOW = frozenset({"request_rate_per_min", "cost_per_hour_usd"})


@dataclass(frozen=True)
class RealPrometheus:
    world: World
    sandbox: servers.SandboxServer
    prometheus: servers.Binary


def _world() -> World:
    return inject(default_world(), (FAULT, FAULTED))


def _live_scrapes(url: str) -> int:
    query = f'count_over_time(up{{job="{servers.SCRAPE_JOB}"}}[1m])'
    body = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=2).json()
    result = body["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


@pytest.fixture(scope="module")
def real_prometheus(
    tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path
) -> Iterator[RealPrometheus]:
    """The faulted sandbox on a socket, and a real Prometheus scraping it with a full window."""
    workdir = tmp_path_factory.mktemp("prometheus-real")
    world = _world()
    sandbox = asyncio.run(Sandbox.start(world, workdir=workdir / "sandbox"))
    server = servers.SandboxServer(sandbox)
    server.start()
    prometheus: servers.Binary | None = None
    try:
        tsdb = workdir / "tsdb"
        servers.backfill(server, tsdb, workdir, minutes=HISTORY_MIN)
        prometheus = servers.prometheus(workdir, scrape=server.address, tsdb=tsdb)
        prometheus.start()
        url = prometheus.url
        # Prometheus starts scraping a few seconds after it is ready (target discovery is
        # throttled); rates need the newest sample to be fresh.
        servers.wait_until(
            lambda: _live_scrapes(url) >= LIVE_SCRAPES,
            timeout_s=30,
            what=f"{LIVE_SCRAPES} scrapes of the sandbox",
        )
        yield RealPrometheus(world, server, prometheus)
    finally:
        if prometheus is not None:
            prometheus.stop()
        server.stop()
        asyncio.run(sandbox.close())


@pytest.fixture
async def real_platform(real_prometheus: RealPrometheus) -> AsyncIterator[Platform]:
    """The production wiring (``Settings`` → ``build_platform``) with the sandbox's services on
    its socket and the metrics from the real Prometheus."""
    base = real_prometheus.sandbox.url
    settings = Settings(
        platform="remote",
        databricks_host=base,
        gateway_url=f"{base}/gateway",
        prometheus_url=real_prometheus.prometheus.url,
        mistral_server_url=f"{base}/mistral",
        mlflow_tracking_uri=real_prometheus.sandbox.sandbox.tracking_uri,
    )
    async with httpx.AsyncClient() as http:
        yield build_platform(platform_config(settings), http, call_policy(settings))


def _bucket(seconds: float) -> tuple[float, float]:
    """The histogram bucket ``(lower, upper]`` that holds ``seconds``."""
    lower = 0.0
    for upper in BUCKETS_S:
        if seconds <= upper:
            return lower, upper
        lower = upper
    return lower, math.inf


def assert_agrees(name: str, real: Any, expected: Any) -> None:
    """``real`` (read from Prometheus) matches ``expected`` (the simulation) within the module's
    tolerances for SLI ``name``."""
    if expected is None:
        assert real is None, f"{name}: Prometheus has {real!r}, the simulation has no series"
        return
    assert real is not None, f"{name}: no series on Prometheus, the simulation says {expected!r}"
    if isinstance(expected, str):
        assert real == expected, name
    elif name.startswith("latency_"):
        lower, upper = _bucket(expected / 1000)
        # Past the last finite bucket Prometheus answers that bucket's upper bound.
        upper = max(BUCKETS_S) if math.isinf(upper) else upper
        assert lower * 1000 * (1 - 1e-9) <= real <= upper * 1000 * (1 + 1e-9), (
            f"{name}: {real:g} ms is not in the bucket of {expected:g} ms"
        )
    elif name in RATES_OVER_WINDOW:
        assert real == pytest.approx(expected, rel=0.01), name
    else:
        assert real == pytest.approx(expected, rel=1e-5, abs=1e-9), name


def _targets() -> list[str]:
    world = _world()
    return [e.name for e in world.endpoints] + [a.name for a in world.agents]


@pytest.mark.parametrize("target", _targets())
async def test_every_sli_of_every_target_agrees_with_the_simulation(
    real_prometheus: RealPrometheus, target: str
) -> None:
    expected = simulated_slis(real_prometheus.world, target)
    async with httpx.AsyncClient() as http:
        adapter = PrometheusSLI(
            http, real_prometheus.prometheus.url, timeout_s=5, retries=0, queries=load_queries()
        )
        for name in NUMERIC_SLIS:
            assert_agrees(name, await adapter.sli(name, target, WINDOW_MIN), expected[name])
        for name in LABEL_SLIS:
            assert_agrees(name, await adapter.sli_label(name, target, WINDOW_MIN), expected[name])
        # The one query the slis tool sends (every SLI labelled by name, joined with `or`) is
        # PromQL that real Prometheus answers the same way.
        together = await adapter.all_slis(target, WINDOW_MIN)
        for name in [*NUMERIC_SLIS, *LABEL_SLIS]:
            assert_agrees(name, together[name], expected[name])


async def test_the_fault_reads_the_same_on_real_prometheus(
    real_prometheus: RealPrometheus,
) -> None:
    async with httpx.AsyncClient() as http:
        adapter = PrometheusSLI(
            http, real_prometheus.prometheus.url, timeout_s=5, retries=0, queries=load_queries()
        )
        error_rate = await adapter.sli("error_rate", FAULTED)
        p95 = await adapter.sli("latency_p95_ms", FAULTED)
        healthy = await adapter.sli("error_rate", "churn-scorer")
    # Under-provisioned: the endpoint sheds load (5xx) and is slow, far past the SLOs.
    assert error_rate is not None and error_rate > 0.3
    assert p95 is not None and p95 > 5000
    # Another endpoint with no errors reads 0, not "no data": its 5xx series do not exist at all.
    assert healthy == 0.0


async def test_slis_tool_reads_real_prometheus_like_the_sandbox_stand_in(
    real_prometheus: RealPrometheus, real_platform: Platform
) -> None:
    real = await run_tool(real_platform, "slis", {"target": FAULTED})
    assert real.status == "ok", real.error
    assert real.evidence["missing"] == []
    assert all(r.url.startswith(real_prometheus.prometheus.url) for r in real.requests)
    # The same tool over the sandbox's own Prometheus stand-in, in-process.
    sandbox = real_prometheus.sandbox.sandbox
    stand_in_platform = platform_for_sandbox(sandbox, call_policy(Settings()))
    stand_in = await run_tool(stand_in_platform, "slis", {"target": FAULTED})
    assert stand_in.status == "ok", stand_in.error
    for name, expected in stand_in.evidence.items():
        if name == "missing":
            assert real.evidence[name] == expected
        elif name == "accuracy_drop":
            assert real.evidence[name] == pytest.approx(expected, abs=1e-5)
        else:
            assert_agrees(name, real.evidence[name], expected)


async def test_slis_tool_on_a_target_prometheus_has_never_seen(real_platform: Platform) -> None:
    result = await run_tool(real_platform, "slis", {"target": "no-such-endpoint"})
    assert result.status == "no_data", result.summary
    assert result.evidence["error_rate"] is None
    assert "request_rate_per_min" in result.evidence["missing"]


async def test_an_unknown_metric_is_no_series_not_an_error(real_prometheus: RealPrometheus) -> None:
    # The templates name metrics an exporter may not have yet: Prometheus answers an empty vector.
    queries = dict(
        load_queries(), null_rate='sum(rate(model_no_such_metric_total{target="{target}"}[5m]))'
    )
    async with httpx.AsyncClient() as http:
        adapter = PrometheusSLI(
            http, real_prometheus.prometheus.url, timeout_s=5, retries=0, queries=queries
        )
        assert await adapter.sli("null_rate", FAULTED) is None


def test_prometheus_api_client_reads_the_same_value(real_prometheus: RealPrometheus) -> None:
    url = real_prometheus.prometheus.url
    query = render(load_queries()["error_rate"], FAULTED, WINDOW_MIN)
    # An explicit, small retry budget: the library's default retries 3 times with 1 s backoff.
    client = PrometheusConnect(url, disable_ssl=True, retry=Retry(total=0), timeout=5)
    assert client.check_prometheus_connection()
    answer = client.custom_query(query=query)
    theirs = float(answer[0]["value"][1])

    async def ours() -> float | None:
        async with httpx.AsyncClient() as http:
            adapter = PrometheusSLI(http, url, timeout_s=5, retries=0, queries=load_queries())
            return await adapter.sli("error_rate", FAULTED, WINDOW_MIN)

    # Both read the same series over the same window; the newest scrape may differ by one.
    assert asyncio.run(ours()) == pytest.approx(theirs, rel=1e-6)
    assert theirs == pytest.approx(
        simulated_slis(real_prometheus.world, FAULTED)["error_rate"], rel=1e-6
    )
