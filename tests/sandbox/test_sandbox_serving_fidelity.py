"""What a real serving platform shows and a World must be able to say: version numbers with gaps and
deleted versions, answers of every type a signature allows, every ai_query call form, and invalid
worlds as errors with their path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow import MlflowClient
from pydantic import ValidationError

from sandbox.platform import platform_for_sandbox
from sandbox.runtime import Sandbox
from sandbox.simulation import ai_query_calls, invoke, slis
from sandbox.world import World
from tools.catalog import run_tool
from tools.policy import CallPolicy

MODEL = "main.shop.basket_model"
NESTED = "struct<label: string, scores: array<double>, meta: struct<source: string, rank: long>>"


def _version(number: str, outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "version": number,
        "inputs": [{"name": "body", "type": "string"}],
        "outputs": outputs or [{"name": "tier", "type": "string"}],
    }


def _world(sql: str, outputs: list[dict[str, Any]] | None = None, **model: Any) -> World:
    versions = model.pop("versions", None) or [_version("1"), _version("2", outputs)]
    served = versions[-1]["version"]
    entity = {"entity_name": MODEL, "entity_version": served, "workload_size": "Small"}
    return World.model_validate(
        {
            "models": [
                {"name": MODEL, "versions": versions, "aliases": {"champion": served}, **model}
            ],
            "endpoints": [
                {
                    "name": "basket-tagger",
                    "config": {"served_entities": [entity]},
                    "request_rate_per_min": 0.0,
                }
            ],
            "pipelines": [{"id": "p1", "name": "pl_basket", "sql": sql, "concurrency": 1}],
        }
    )


PLAIN = (
    "SELECT ai_query('basket-tagger', named_struct('body', body), "
    "returnType => 'STRUCT<tier: STRING>') AS p FROM t"
)


async def test_gaps_and_deleted_versions_are_what_the_registry_shows(
    sandbox_factory: Callable[[World], Awaitable[Sandbox]], policy: CallPolicy
) -> None:
    versions = [_version("1"), _version("2"), _version("5")]
    world = _world(PLAIN, versions=versions, deleted_versions=["6"], aliases={"champion": "5"})
    sandbox = await sandbox_factory(world)
    try:
        client = MlflowClient(tracking_uri=sandbox.tracking_uri, registry_uri=sandbox.tracking_uri)
        live = sorted(int(v.version) for v in client.search_model_versions(f"name='{MODEL}'"))
        assert live == [1, 2, 5]
        # The registry never hands out a deleted number again: the next version is 7.
        assert str(client.create_model_version(MODEL, source="/tmp/x").version) == "7"
        result = await run_tool(
            platform_for_sandbox(sandbox, policy), "registry_versions", {"model": MODEL}
        )
        assert [v["version"] for v in result.evidence["versions"]] == ["1", "2", "5", "7"]
        assert result.evidence["champion"] == "5"
        assert result.evidence["previous_champion"] == "2"
    finally:
        await sandbox.close()


async def test_nested_outputs_are_served_and_read_back_as_the_signature_says(
    sandbox_factory: Callable[[World], Awaitable[Sandbox]], policy: CallPolicy
) -> None:
    outputs = [{"name": "result", "type": NESTED}, {"name": "tags", "type": "array<string>"}]
    sql = (
        'SELECT ai_query(endpoint => "basket-tagger", request => struct(body AS body), '
        "returnType => 'STRUCT<result: STRUCT<label STRING, scores ARRAY<DOUBLE>, "
        "meta STRUCT<source: STRING, rank: BIGINT>>, tags: ARRAY<STRING>>', "
        "failOnError => false) AS p FROM t"
    )
    world = _world(sql, outputs)
    answer = invoke(world, "basket-tagger", {"dataframe_records": [{"body": "x"}]})
    prediction = answer.body["predictions"][0]
    assert isinstance(prediction["tags"], list) and isinstance(prediction["tags"][0], str)
    assert isinstance(prediction["result"]["scores"], list)
    assert isinstance(prediction["result"]["meta"]["rank"], int)
    assert slis(world, "basket-tagger")["null_rate"] == 0.0  # the returnType parses them
    sandbox = await sandbox_factory(world)
    try:
        result = await run_tool(
            platform_for_sandbox(sandbox, policy), "signature_check", {"endpoint": "basket-tagger"}
        )
    finally:
        await sandbox.close()
    evidence = result.evidence
    assert evidence["output_matches"] is True, evidence
    assert evidence["input_matches"] is True
    assert evidence["observed_float_fields"] == [] and evidence["observed_dynamic_keys"] is False


@pytest.mark.parametrize(
    "sql",
    [
        PLAIN,
        "SELECT ai_query(\"basket-tagger\", named_struct('body', body), 'STRUCT<tier: STRING>') "
        "AS p FROM t",
        "SELECT ai_query(endpoint => 'basket-tagger', request => named_struct('body', body), "
        "returnType => 'tier STRING', failOnError => false) p FROM t",
        "SELECT ai_query(\n  'basket-tagger',\n  struct(t.body AS body),\n"
        "  returnType => 'STRUCT<tier: STRING>'\n) FROM t",
    ],
)
def test_every_ai_query_form_reaches_the_endpoint(sql: str) -> None:
    calls = ai_query_calls(sql)
    assert [(c.endpoint, c.request_fields, c.return_fields) for c in calls] == [
        ("basket-tagger", ("body",), (("tier", "string"),))
    ]
    world = _world(sql)
    assert slis(world, "basket-tagger")["request_rate_per_min"] == 60.0  # the pipeline's slot


def test_a_return_type_the_signature_does_not_declare_gives_null_rows() -> None:
    sql = PLAIN.replace("tier: STRING", "tier: ARRAY<STRING>")
    assert slis(_world(sql), "basket-tagger")["null_rate"] == 1.0


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"version": "v2"}, "models.0.versions.1.version"),
        ({"outputs": [{"name": "tier", "type": "array<"}]}, "models.0.versions.1.outputs.0.type"),
        ({"outputs": [{"name": "tier", "type": "tensor"}]}, "models.0.versions.1.outputs.0.type"),
    ],
)
def test_an_invalid_version_is_an_error_with_its_path(change: dict[str, Any], path: str) -> None:
    versions = [_version("1"), {**_version("2"), **change}]
    with pytest.raises(ValidationError) as err:
        World.model_validate({"models": [{"name": MODEL, "versions": versions}]})
    assert ".".join(str(p) for p in err.value.errors()[0]["loc"]) == path


def test_a_version_both_live_and_deleted_is_refused() -> None:
    with pytest.raises(ValidationError, match="live and deleted"):
        World.model_validate(
            {"models": [{"name": MODEL, "versions": [_version("1")], "deleted_versions": ["1"]}]}
        )


def _split_world(pins: dict[str, Any] | None = None) -> World:
    versions = [_version("1"), _version("2"), _version("3")]
    versions[2]["behaviour"] = {"accuracy": 0.84}
    entities = [
        {"name": "cur", "entity_name": MODEL, "entity_version": "2", "workload_size": "Medium"},
        {"name": "new", "entity_name": MODEL, "entity_version": "3", "workload_size": "Medium"},
    ]
    routes = [
        {"served_entity_name": "cur", "traffic_percentage": 90},
        {"served_entity_name": "new", "traffic_percentage": 10},
    ]
    return World.model_validate(
        {
            "models": [{"name": MODEL, "versions": versions, "aliases": {"champion": "2"}}],
            "endpoints": [
                {
                    "name": "basket-tagger",
                    "config": {"served_entities": entities, "routes": routes},
                    "request_rate_per_min": 240.0,
                }
            ],
            "pipelines": [{"id": "p1", "name": "pl_basket", "sql": PLAIN, "concurrency": 1}],
            "metrics": pins or {},
        }
    )


def test_each_served_entity_of_a_split_has_its_own_series() -> None:
    world = _split_world({"basket-tagger/new": {"error_rate": 0.04}})
    whole, canary = slis(world, "basket-tagger", 1440), slis(world, "basket-tagger/new", 1440)
    champion = slis(world, "basket-tagger/cur", 1440)
    assert whole["request_rate_per_min"] == 300.0
    assert (canary["request_rate_per_min"], champion["request_rate_per_min"]) == (30.0, 270.0)
    assert canary["accuracy"] == pytest.approx(0.84) and champion["accuracy"] == pytest.approx(0.92)
    assert canary["deployed_version"] == "3" and champion["deployed_version"] == "2"
    assert canary["error_rate"] == 0.04 and champion["error_rate"] == 0.0  # its own pins
    assert slis(world, "basket-tagger/old")["missing"] == slis(world, "nowhere")["missing"]


async def test_endpoint_status_names_the_entities_of_a_split(
    sandbox_factory: Callable[[World], Awaitable[Sandbox]], policy: CallPolicy
) -> None:
    sandbox = await sandbox_factory(_split_world())
    try:
        platform = platform_for_sandbox(sandbox, policy)
        status = await run_tool(platform, "endpoint_status", {"endpoint": "basket-tagger"})
        canary = await run_tool(platform, "slis", {"target": "basket-tagger/new"})
    finally:
        await sandbox.close()
    evidence = status.evidence
    assert (evidence["challenger_entity"], evidence["champion_entity"]) == ("new", "cur")
    assert (evidence["challenger_version"], evidence["challenger_share"]) == ("3", 10)
    assert canary.evidence["deployed_version"] == "3"
    assert canary.evidence["accuracy"] == pytest.approx(0.84)


async def test_permission_errors_are_the_platforms_and_read_as_such(
    sandbox_factory: Callable[[World], Awaitable[Sandbox]], policy: CallPolicy
) -> None:
    world = _world(PLAIN)
    world.endpoints[0].denied = ["view", "query", "manage"]
    sandbox = await sandbox_factory(World.model_validate(world.model_dump()))
    try:
        async with sandbox.http_client() as http:
            view = await http.get("/api/2.0/serving-endpoints/basket-tagger")
            query = await http.post(
                "/serving-endpoints/basket-tagger/invocations", json={"inputs": [{"body": "x"}]}
            )
            manage = await http.put(
                "/api/2.0/serving-endpoints/basket-tagger/config",
                json={"served_entities": [{"entity_name": MODEL, "entity_version": "1"}]},
            )
        status = await run_tool(
            platform_for_sandbox(sandbox, policy), "endpoint_status", {"endpoint": "basket-tagger"}
        )
    finally:
        await sandbox.close()
    assert [r.status_code for r in (view, query, manage)] == [403, 403, 403]
    assert view.json()["error_code"] == "PERMISSION_DENIED"
    assert "CAN_MANAGE" in manage.json()["message"]
    assert status.status.value == "ok"
    assert status.evidence["permission_denied"] is True
    assert "403 PERMISSION_DENIED" in status.evidence["error_message"]
    assert "CAN_VIEW" in status.evidence["error_message"]
    # The pipelines' own calls are not the bot's: they keep being served.
    assert slis(world, "basket-tagger")["request_rate_per_min"] == 60.0


@pytest.mark.parametrize("new_first", [False, True])
def test_at_the_even_split_the_newer_version_is_the_challenger(new_first: bool) -> None:
    from sandbox.routes.serving import endpoint_json
    from tools.clients.databricks import ServingEndpoint
    from tools.readonly.serving import describe_endpoint

    world = _split_world()
    config = world.endpoints[0].config
    for route in config.routes:
        route.traffic_percentage = 50
    if new_first:
        config.served_entities.reverse()
        config.routes.reverse()
    wire = ServingEndpoint.model_validate(endpoint_json(world.endpoints[0]))
    evidence = describe_endpoint(wire, 0.0)
    assert (evidence.challenger_entity, evidence.challenger_version) == ("new", "3")
    assert (evidence.champion_entity, evidence.primary_version) == ("cur", "2")


def test_a_scenario_with_an_invalid_version_names_the_field(tmp_path: Path) -> None:
    from evals.scenario import ScenarioError, parse_scenario

    path = tmp_path / "bad.yaml"
    versions = [_version("1"), {**_version("2"), "outputs": [{"name": "tier", "type": "list"}]}]
    path.write_text(
        yaml.safe_dump(
            {
                "id": "bad-types",
                "category": "leaf",
                "trigger": {"command": "/model-incident basket-tagger"},
                "world": {"models": [{"name": MODEL, "versions": versions}]},
                "expected": {},
            }
        )
    )
    with pytest.raises(ScenarioError) as err:
        parse_scenario(path)
    assert err.value.field == "world.models[0].versions[1].outputs[0].type"
    assert "unknown type 'list'" in err.value.message


def test_the_deployed_version_of_an_even_split_is_the_older_one() -> None:
    world = _split_world()
    config = world.endpoints[0].config
    for route in config.routes:
        route.traffic_percentage = 50
    config.routes.reverse()
    assert slis(world, "basket-tagger")["deployed_version"] == "2"
