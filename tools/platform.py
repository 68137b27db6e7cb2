"""The set of platform clients the tools run against, injected as one value.

Each field is a narrow Protocol declared next to its adapter; production and the sandbox fill them
with the same adapter classes, only the transport and base URLs differ. This module knows no
settings and no sandbox: it takes plain values (:class:`PlatformConfig`, :class:`CallPolicy`).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from tools.clients.databricks import DatabricksServing, ServingAPI
from tools.clients.gateway import AgentGateway, GatewayAPI
from tools.clients.mistral import MistralProvider, ProviderAPI
from tools.clients.prometheus import MetricsAPI, PrometheusSLI
from tools.clients.registry import MlflowRegistry, RegistryAPI
from tools.policy import CallPolicy
from tools.sli_queries import load_queries


class PlatformConfig(BaseModel):
    """Where each upstream system answers, and the credentials it wants."""

    model_config = ConfigDict(frozen=True)

    databricks_host: str
    databricks_token: SecretStr = SecretStr("")
    gateway_url: str
    mlflow_tracking_uri: str
    prometheus_url: str
    mistral_server_url: str
    mistral_api_key: SecretStr = SecretStr("")


@dataclass(frozen=True)
class Platform:
    serving: ServingAPI
    gateway: GatewayAPI
    registry: RegistryAPI
    metrics: MetricsAPI
    provider: ProviderAPI
    # The bound every client above was built with; the ledger's takeover bound reads it.
    policy: CallPolicy


def build_platform(config: PlatformConfig, http: httpx.AsyncClient, policy: CallPolicy) -> Platform:
    """The adapters for the URLs in ``config``, over one shared HTTP client, every request bounded
    by ``policy``."""
    t, r = policy.timeout_s, policy.retries
    return Platform(
        serving=DatabricksServing(
            http,
            config.databricks_host,
            token=config.databricks_token.get_secret_value(),
            timeout_s=t,
            retries=r,
        ),
        gateway=AgentGateway(http, config.gateway_url, timeout_s=t, retries=r),
        registry=MlflowRegistry(config.mlflow_tracking_uri, timeout_s=t),
        metrics=PrometheusSLI(
            http, config.prometheus_url, timeout_s=t, retries=r, queries=load_queries()
        ),
        provider=MistralProvider(
            http, config.mistral_server_url, api_key=config.mistral_api_key, timeout_s=t, retries=r
        ),
        policy=policy,
    )
