"""The set of platform clients the tools run against, injected as one value.

Each field is a narrow Protocol declared next to its adapter; production and the sandbox fill them
with the same adapter classes, only the transport and base URLs differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.clients.databricks import ServingAPI
from tools.clients.gateway import GatewayAPI
from tools.clients.mistral import ProviderAPI
from tools.clients.prometheus import MetricsAPI
from tools.clients.registry import RegistryAPI


@dataclass(frozen=True)
class Platform:
    serving: ServingAPI
    gateway: GatewayAPI
    registry: RegistryAPI
    metrics: MetricsAPI
    provider: ProviderAPI
