"""The bot's platform adapters pointed at an in-process sandbox through its ASGI transport.

The same adapter classes as production (``tools.platform.build_platform``); only the URLs and the
transport differ. The call policy is the caller's (from the settings), so ``TOOL_TIMEOUT_S`` and
``TOOL_RETRIES`` mean the same against the sandbox as against a real platform.
"""

from __future__ import annotations

from pydantic import SecretStr

from sandbox.runtime import BASE_URL, Sandbox
from tools.platform import Platform, PlatformConfig, build_platform
from tools.policy import CallPolicy

# The key the sandbox's Mistral stand-in accepts.
SANDBOX_API_KEY = SecretStr("sandbox-key")


def sandbox_config(sandbox: Sandbox) -> PlatformConfig:
    """Where each service of ``sandbox`` answers. The tracking URI is read now: during a registry
    outage it names an address where nothing listens."""
    return PlatformConfig(
        databricks_host=BASE_URL,
        gateway_url=f"{BASE_URL}/gateway",
        mlflow_tracking_uri=sandbox.tracking_uri,
        prometheus_url=f"{BASE_URL}/prometheus",
        mistral_server_url=f"{BASE_URL}/mistral",
        mistral_api_key=SANDBOX_API_KEY,
    )


def platform_for_sandbox(sandbox: Sandbox, policy: CallPolicy) -> Platform:
    """The production adapters over ``sandbox``'s in-process transport, bounded by ``policy``."""
    return build_platform(sandbox_config(sandbox), sandbox.http_client(), policy)
