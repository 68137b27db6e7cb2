"""The set of platform clients the tools run against, injected as one value.

Each field is a narrow Protocol declared next to its adapter; production and the sandbox fill them
with the same adapter classes, only the transport and base URLs differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretStr

from tools.clients.databricks import DatabricksServing, ServingAPI
from tools.clients.gateway import AgentGateway, GatewayAPI
from tools.clients.mistral import MistralProvider, ProviderAPI
from tools.clients.prometheus import MetricsAPI, PrometheusSLI
from tools.clients.registry import MlflowRegistry, RegistryAPI
from tools.sli_queries import load_queries

if TYPE_CHECKING:
    from bot.settings import Settings
    from sandbox.runtime import Sandbox

# The sandbox answers at once unless an outage is injected; a short deadline keeps the tests that
# inject "slow" outages fast.
SANDBOX_TIMEOUT_S = 5.0
SANDBOX_RETRIES = 1
SANDBOX_API_KEY = SecretStr("sandbox-key")


@dataclass(frozen=True)
class Platform:
    serving: ServingAPI
    gateway: GatewayAPI
    registry: RegistryAPI
    metrics: MetricsAPI
    provider: ProviderAPI


def _assemble(
    http: httpx.AsyncClient,
    *,
    databricks_url: str,
    databricks_token: str,
    gateway_url: str,
    tracking_uri: str,
    prometheus_url: str,
    mistral_url: str,
    mistral_key: SecretStr,
    timeout_s: float,
    retries: int,
) -> Platform:
    t, r = timeout_s, retries
    return Platform(
        serving=DatabricksServing(
            http, databricks_url, token=databricks_token, timeout_s=t, retries=r
        ),
        gateway=AgentGateway(http, gateway_url, timeout_s=t, retries=r),
        registry=MlflowRegistry(tracking_uri, timeout_s=t),
        metrics=PrometheusSLI(http, prometheus_url, timeout_s=t, retries=r, queries=load_queries()),
        provider=MistralProvider(http, mistral_url, api_key=mistral_key, timeout_s=t, retries=r),
    )


def build_platform(settings: Settings, http: httpx.AsyncClient) -> Platform:
    """The adapters for the URLs in ``settings``, over one shared HTTP client."""
    return _assemble(
        http,
        databricks_url=settings.databricks_host,
        databricks_token=settings.databricks_token.get_secret_value(),
        gateway_url=settings.gateway_url,
        tracking_uri=settings.mlflow_tracking_uri,
        prometheus_url=settings.prometheus_url,
        mistral_url=settings.mistral_server_url,
        mistral_key=settings.mistral_api_key,
        timeout_s=settings.tool_timeout_s,
        retries=settings.tool_retries,
    )


def platform_for_sandbox(
    sandbox: Sandbox, *, timeout_s: float = SANDBOX_TIMEOUT_S, retries: int = SANDBOX_RETRIES
) -> Platform:
    """The same adapters, pointed at an in-process sandbox through its ASGI transport."""
    return _assemble(
        sandbox.http_client(),
        databricks_url="http://sandbox",
        databricks_token="",
        gateway_url="http://sandbox/gateway",
        tracking_uri=sandbox.tracking_uri,
        prometheus_url="http://sandbox/prometheus",
        mistral_url="http://sandbox/mistral",
        mistral_key=SANDBOX_API_KEY,
        timeout_s=timeout_s,
        retries=retries,
    )
