"""`provider_check`: can the LLM provider be reached, is our key valid, are our models there?"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tools.clients.errors import UpstreamHTTPError, UpstreamTimeout, UpstreamUnavailable
from tools.platform import Platform
from tools.result import ToolStatus
from tools.spec import Finding, tool


class ProviderCheckParams(BaseModel):
    model_ids: list[str] = Field(
        default_factory=list, description="model ids that must be available (e.g. fine-tuned ids)"
    )


class ProviderCheckEvidence(BaseModel):
    reachable: bool
    key_valid: bool | None
    http_status: int | None
    rate_limited: bool
    missing_models: list[str]
    available_models_count: int | None


@tool("provider_check", kind="read", params=ProviderCheckParams, evidence=ProviderCheckEvidence)
async def provider_check(platform: Platform, params: ProviderCheckParams) -> Finding:
    """List the provider's models with our key: reachability, key validity, rate limit, models."""
    try:
        models = await platform.provider.list_models()
    except (UpstreamUnavailable, UpstreamTimeout) as exc:
        # Unreachable is the answer to this tool's question, but says nothing about the key.
        return Finding(
            ToolStatus.OK,
            f"provider unreachable: {exc.reason}",
            ProviderCheckEvidence(
                reachable=False,
                key_valid=None,
                http_status=None,
                rate_limited=False,
                missing_models=[],
                available_models_count=None,
            ),
        )
    except UpstreamHTTPError as exc:
        if exc.status_code < 500:
            raise
        return Finding(
            ToolStatus.OK,
            f"provider unavailable (HTTP {exc.status_code}): {exc.reason}",
            ProviderCheckEvidence(
                reachable=False,
                key_valid=None,
                http_status=exc.status_code,
                rate_limited=False,
                missing_models=[],
                available_models_count=None,
            ),
        )
    if not models.key_valid or models.rate_limited:
        what = "rate limited" if models.rate_limited else "key rejected"
        return Finding(
            ToolStatus.OK,
            f"provider {what} (HTTP {models.http_status}: {models.message or 'no message'})",
            ProviderCheckEvidence(
                reachable=True,
                key_valid=models.key_valid,
                http_status=models.http_status,
                rate_limited=models.rate_limited,
                # The list was refused, so whether the models exist is unknown, not "missing".
                missing_models=[],
                available_models_count=None,
            ),
        )
    available = set(models.model_ids)
    missing = [m for m in params.model_ids if m not in available]
    summary = f"provider reachable, key valid, {len(available)} models available"
    if missing:
        summary += f"; missing: {', '.join(missing)}"
    return Finding(
        ToolStatus.OK,
        summary,
        ProviderCheckEvidence(
            reachable=True,
            key_valid=True,
            http_status=models.http_status,
            rate_limited=False,
            missing_models=missing,
            available_models_count=len(available),
        ),
    )
