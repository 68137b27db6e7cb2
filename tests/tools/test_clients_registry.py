"""The MLflow registry adapter against the sandbox's real SQLite registry."""

from __future__ import annotations

import pytest

from sandbox.runtime import Sandbox
from tools.clients.errors import NotFound, UpstreamError
from tools.clients.http import recording
from tools.clients.registry import MlflowRegistry

MODEL = "main.ml.sentiment_classifier"


async def test_reads_model_versions_aliases_and_signature(sandbox: Sandbox) -> None:
    registry = MlflowRegistry(sandbox.tracking_uri, timeout_s=30)
    with recording() as requests:
        model = await registry.get_model(MODEL)
        versions = await registry.search_versions(MODEL)
        champion = await registry.version_by_alias(MODEL, "champion")
        inputs, outputs = await registry.signature(MODEL, champion.version)
    assert model.aliases["champion"] == champion.version == "4"
    assert [v.version for v in versions] == ["1", "2", "3", "4"]
    assert champion.tags["accuracy"] == "0.92"
    assert [(f.name, f.type) for f in inputs] == [("text", "string")]
    assert outputs and all(f.name for f in outputs)
    assert MODEL in await registry.list_models()
    assert requests[0].as_curl() == f"MlflowClient().get_registered_model('{MODEL}')"
    assert requests[2].url == f"MlflowClient().get_model_version_by_alias('{MODEL}', 'champion')"
    assert requests[-1].url.startswith("mlflow.artifacts.download_artifacts(artifact_uri=")
    assert all(r.status_code == 200 for r in requests)


async def test_missing_model_version_and_alias_are_not_found(sandbox: Sandbox) -> None:
    registry = MlflowRegistry(sandbox.tracking_uri, timeout_s=30)
    for call in (
        registry.get_model("main.ml.nope"),
        registry.get_version(MODEL, "99"),
        registry.version_by_alias(MODEL, "challenger"),
    ):
        with recording() as requests, pytest.raises(NotFound):
            await call
        assert requests[0].error


async def test_set_alias_moves_the_champion(sandbox: Sandbox) -> None:
    registry = MlflowRegistry(sandbox.tracking_uri, timeout_s=30)
    await registry.set_alias(MODEL, "champion", "3")
    assert (await registry.version_by_alias(MODEL, "champion")).version == "3"
    assert (await registry.aliases(MODEL))["champion"] == "3"


async def test_an_unreachable_registry_fails_within_the_deadline() -> None:
    registry = MlflowRegistry("http://127.0.0.1:9", timeout_s=1.0)
    with recording() as requests, pytest.raises(UpstreamError) as caught:
        await registry.get_model(MODEL)
    assert "get_registered_model" in caught.value.reason
    assert requests[0].error
