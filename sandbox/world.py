"""The state of the simulated platform: everything the sandbox serves is derived from one ``World``.

A world is plain data (pydantic), so an eval scenario can describe it in YAML, a fault can be a
function ``World -> World``, and a test can assert on it after an action. Times are minutes relative
to "now" (negative = in the past) so that worlds do not go stale.

Strings that come from people (descriptions, log lines, alert text) are untrusted: the sandbox
serves them verbatim, and it is the bot's job to treat them as data.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sandbox.sqltypes import parse_type

WorkloadSize = Literal["Small", "Medium", "Large"]
# Provisioned concurrency per workload size (Databricks: Small = 4, Medium = 8-16, Large = 16-64).
WORKLOAD_CONCURRENCY: dict[str, int] = {"Small": 4, "Medium": 16, "Large": 64}
# Requests per minute each workload size serves within its latency, per the serving runbook's
# Best Practices 1 (Small < 100 req/min, Medium 100-1000, Large > 1000). The seed gives Large no
# upper bound; 10,000 req/min is this sandbox's choice (ten times Medium, as Medium is to Small).
WORKLOAD_MAX_RATE_PER_MIN: dict[str, float] = {"Small": 100.0, "Medium": 1000.0, "Large": 10000.0}

ReadyState = Literal["READY", "NOT_READY"]
ConfigUpdateState = Literal["NOT_UPDATING", "IN_PROGRESS", "UPDATE_FAILED", "UPDATE_CANCELED"]
DeploymentState = Literal[
    "DEPLOYMENT_READY",
    "DEPLOYMENT_CREATING",
    "DEPLOYMENT_FAILED",
    "DEPLOYMENT_ABORTED",
    "DEPLOYMENT_RECOVERING",
]
# How a model version's invocation answers look:
#   fixed         the fields of its output signature, strings where the signature says string
#   dynamic_keys  field names vary from answer to answer (schema parse errors downstream)
#   floats        raw floats where the signature says string
#   null          every prediction is null
#   error         the model raises (HTTP 500 on invocation)
OutputStyle = Literal["fixed", "dynamic_keys", "floats", "null", "error"]


class Strict(BaseModel):
    """Worlds are written by hand: an unknown key is a mistake, not something to ignore."""

    model_config = ConfigDict(extra="forbid")


class Field_(Strict):
    """One column of a signature: ``{"name": "text", "type": "string"}``.

    ``type`` is any type a signature allows, spelled as a returnType spells it
    (``sandbox/sqltypes.py``): ``string``, ``double``, ``long``, ``boolean``, ...,
    ``array<string>``, ``map<string, double>``, ``struct<label: string, scores: array<double>>``.
    """

    name: str
    type: str = "string"
    required: bool = True

    @field_validator("type")
    @classmethod
    def _a_type(cls, value: str) -> str:
        parse_type(value)  # a ValueError names what is wrong
        return value


class ModelBehaviour(Strict):
    """How a model version behaves once served. Not in the registry: it is the simulated model."""

    output_style: OutputStyle = "fixed"
    latency_ms: float = Field(80.0, gt=0, description="p50 inference time at low load")
    accuracy: float = Field(0.92, ge=0, le=1, description="accuracy proxy on production traffic")
    memory_leak_mb_per_hour: float = Field(0.0, ge=0)
    logs_payloads: bool = Field(False, description="writes raw request payloads (with PII) to logs")


class ModelVersion(Strict):
    version: str = Field(
        pattern=r"^[1-9][0-9]*$",
        description="the number the registry gave it (1, 2, ...; gaps are deleted versions)",
    )
    created_minutes_ago: float = 60 * 24 * 7
    created_by: str = "ml-pipeline"
    description: str = ""
    inputs: list[Field_] = Field(default_factory=lambda: [Field_(name="text")])
    outputs: list[Field_] = Field(default_factory=lambda: [Field_(name="label")])
    tags: dict[str, str] = Field(default_factory=dict, description="offline metrics etc.")
    behaviour: ModelBehaviour = Field(default_factory=ModelBehaviour)


class RegisteredModel(Strict):
    name: str = Field(description="registry name, e.g. catalog.schema.model")
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    versions: list[ModelVersion] = Field(default_factory=list)
    aliases: dict[str, str] = Field(default_factory=dict, description="alias -> version")
    deleted_versions: list[str] = Field(
        default_factory=list,
        description="versions registered and then deleted (also above the last live one); a "
        "number missing below the highest version is deleted too. The registry numbers versions "
        "1, 2, ... and never reuses a number, so a deleted version leaves a gap",
    )

    def version(self, version: str) -> ModelVersion | None:
        return next((v for v in self.versions if v.version == version), None)

    def numbers(self) -> list[tuple[int, ModelVersion | None]]:
        """Every number the registry has handed out, with its version (``None``: deleted)."""
        live = {int(v.version): v for v in self.versions}
        top = max([*live, *(int(d) for d in self.deleted_versions)], default=0)
        return [(n, live.get(n)) for n in range(1, top + 1)]

    @model_validator(mode="after")
    def _numbered(self) -> RegisteredModel:
        numbers = [v.version for v in self.versions]
        if len(numbers) != len(set(numbers)):
            raise ValueError(f"model {self.name!r}: version numbers must be unique, got {numbers}")
        for deleted in self.deleted_versions:
            if not deleted.isdigit() or int(deleted) < 1:
                raise ValueError(
                    f"model {self.name!r}: deleted version {deleted!r} is not 1, 2, ..."
                )
            if deleted in numbers:
                raise ValueError(f"model {self.name!r}: version {deleted} is live and deleted")
        return self


class ServedEntity(Strict):
    name: str = ""
    entity_name: str
    entity_version: str
    workload_size: WorkloadSize = "Small"
    workload_type: str = "CPU"
    scale_to_zero_enabled: bool = False
    deployment: DeploymentState = "DEPLOYMENT_READY"
    deployment_state_message: str = ""

    @model_validator(mode="after")
    def _default_name(self) -> ServedEntity:
        if not self.name:
            self.name = f"{self.entity_name.rsplit('.', 1)[-1]}-{self.entity_version}"
        return self


class Route(Strict):
    served_entity_name: str
    traffic_percentage: int = Field(ge=0, le=100)


class EndpointConfig(Strict):
    served_entities: list[ServedEntity]
    routes: list[Route] = Field(default_factory=list)

    @model_validator(mode="after")
    def _default_routes(self) -> EndpointConfig:
        if not self.routes and self.served_entities:
            self.routes = [
                Route(served_entity_name=self.served_entities[0].name, traffic_percentage=100)
            ]
        return self


class Endpoint(Strict):
    name: str
    id: str = ""
    creator: str = "ml-platform@example.com"
    created_minutes_ago: float = 60 * 24 * 30
    updated_minutes_ago: float = 60 * 24 * 7
    ready: ReadyState = "READY"
    config_update: ConfigUpdateState = "NOT_UPDATING"
    config: EndpointConfig
    pending_config: EndpointConfig | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    # Simulated load.
    request_rate_per_min: float = Field(300.0, ge=0)
    idle_minutes: float = Field(0.0, ge=0, description="time since the last request (cold start)")
    expected_version: str | None = Field(
        None, description="version the deploy pipeline believes is live (F8 version drift)"
    )
    cost_per_hour_usd: float | None = None
    cost_budget_per_hour_usd: float | None = None
    denied: list[Literal["view", "query", "manage"]] = Field(
        default_factory=list,
        description="what the caller of the serving API (the bot's identity) may not do here: "
        "403 PERMISSION_DENIED on GET (view), invocations (query), config updates and delete "
        "(manage); the pipelines' own calls are not affected",
    )

    @model_validator(mode="after")
    def _default_id(self) -> Endpoint:
        if not self.id:
            self.id = f"ep-{abs(hash(self.name)) % 10**8:08d}"
        return self


class Pipeline(Strict):
    """A SQL pipeline that calls an endpoint with ``ai_query``."""

    id: str
    name: str
    sql: str
    concurrency: int = Field(8, ge=1, description="parallel ai_query requests")
    state: Literal["RUNNING", "IDLE", "FAILED"] = "IDLE"
    last_error: str = ""


class Agent(Strict):
    """One agent of the fine-tuned fleet behind the gateway."""

    name: str
    finetuned_model: str
    baseline_model: str = "open-mistral-7b"
    use_finetuned: bool = True
    use_fallback: bool = True
    rollout_percentage: int = Field(100, ge=0, le=100)
    process_up: bool = Field(True, description="False: the agent process itself is down")
    request_rate_per_min: float = Field(120.0, ge=0)
    api_key: str = Field(
        "default",
        description="which provider key the agent's calls use (a name of provider.keys; "
        "'default' is the gateway's own key, the one the bot checks)",
    )
    endpoint: str | None = Field(
        None,
        description="a serving endpoint the fine-tuned model is served from instead of the "
        "provider: its absence or readiness decides the fine-tuned calls",
    )


AuthState = Literal["ok", "invalid_key", "forbidden"]


class ProviderKey(Strict):
    """How the provider treats one API key."""

    auth: AuthState = "ok"
    rate_limited: bool = Field(False, description="every call with this key answers 429")
    forbidden_models: list[str] = Field(
        default_factory=list, description="model ids this key may not use (403 for those only)"
    )


class ProviderModel(Strict):
    """How the provider answers calls to one model id, beyond "listed or not"."""

    error_code: Literal[429, 500, 502, 503, 504] | None = Field(
        None, description="the code a share of the calls fails with"
    )
    error_share: float = Field(1.0, gt=0, le=1, description="share of calls failing")
    error_message: str = ""
    rate_limit_per_min: float | None = Field(
        None, gt=0, description="requests per minute the model accepts; calls above it get 429"
    )


class Provider(Strict):
    """The LLM provider (Mistral API) as the gateway and the bot see it."""

    auth: AuthState = Field("ok", description="the default key's state")
    rate_limited: bool = Field(False, description="every call with the default key answers 429")
    available_models: list[str] = Field(
        default_factory=lambda: ["open-mistral-7b", "mistral-small-latest", "mistral-large-latest"]
    )
    reachable: bool = True
    key_rotation_pending: bool = Field(
        False,
        description="a valid key is in the secret store but the gateway still holds the old one: "
        "a gateway restart (re-reading credentials) makes auth ok again",
    )
    keys: dict[str, ProviderKey] = Field(
        default_factory=dict, description="keys other than the default one, by name"
    )
    models: dict[str, ProviderModel] = Field(
        default_factory=dict, description="per-model behaviour (errors, rate limits)"
    )

    def key(self, name: str) -> ProviderKey:
        """The behaviour of key ``name`` (``default``: the provider's own auth fields)."""
        if name in self.keys:
            return self.keys[name]
        return ProviderKey(auth=self.auth, rate_limited=self.rate_limited)


class Event(Strict):
    """An audit event of the platform: who did what to which resource, and when."""

    minutes_ago: float
    type: Literal[
        "endpoint_created",
        "endpoint_updated",
        "endpoint_deleted",
        "endpoint_config_failed",
        "model_version_created",
        "alias_set",
        "agent_config_changed",
        "deploy",
        "secret_rotated",
    ]
    resource: str
    actor: str = "ml-platform@example.com"
    details: dict[str, str] = Field(default_factory=dict)
    # For endpoint_deleted: the configuration the endpoint had, so it can be recreated.
    config: EndpointConfig | None = None


class LogLine(Strict):
    minutes_ago: float
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "ERROR"
    source: str = Field("gateway", description="agent name, endpoint name or 'gateway'")
    message: str


class MetricEpisode(Strict):
    """What a target's metrics were between ``from_minutes_ago`` and ``to_minutes_ago``."""

    from_minutes_ago: float = Field(gt=0)
    to_minutes_ago: float = Field(0.0, ge=0)
    error_rate: float | None = None
    rate_401: float | None = None
    rate_403: float | None = None
    rate_404: float | None = None
    rate_429: float | None = None
    rate_5xx: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    null_rate: float | None = None
    fallback_rate: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> MetricEpisode:
        if self.to_minutes_ago >= self.from_minutes_ago:
            raise ValueError("to_minutes_ago must be after (smaller than) from_minutes_ago")
        return self


class MetricPins(Strict):
    """Values that override the simulation for one target (endpoint or agent name, or
    ``<endpoint>/<served entity>`` for one version of a traffic split: the canary's own numbers).

    ``None`` means "simulate"; ``missing=True`` means Prometheus has no series for this target.
    """

    missing: bool = False
    error_rate: float | None = None
    rate_401: float | None = None
    rate_403: float | None = None
    rate_404: float | None = None
    rate_429: float | None = None
    rate_5xx: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    request_rate_per_min: float | None = None
    null_rate: float | None = None
    fallback_rate: float | None = None
    accuracy: float | None = None
    accuracy_baseline: float | None = None
    input_psi: float | None = None
    memory_mb: float | None = None
    memory_growth_mb_per_hour: float | None = None
    burn_rate_1h: float | None = None
    cost_per_hour_usd: float | None = None
    accuracy_trend: Literal["stable", "sudden_drop", "gradual_decline"] | None = None
    history: list[MetricEpisode] = Field(
        default_factory=list,
        description="past episodes: values that held between two moments and then ended; a "
        "query over a window averages them in only for the part inside the window",
    )


class Outages(Strict):
    """Whole services of the platform that are down, slow or broken (tool-failure scenarios)."""

    serving_api: Literal["up", "down", "slow", "error_500", "garbage"] = "up"
    registry: Literal["up", "down", "error_500"] = "up"
    prometheus: Literal["up", "down", "slow", "error", "garbage"] = "up"
    gateway: Literal["up", "down", "slow"] = "up"


class World(Strict):
    """Everything the sandbox serves. See ``sandbox/faults.py`` for the catalogue of faults."""

    endpoints: list[Endpoint] = Field(default_factory=list)
    models: list[RegisteredModel] = Field(default_factory=list)
    pipelines: list[Pipeline] = Field(default_factory=list)
    agents: list[Agent] = Field(default_factory=list)
    provider: Provider = Field(default_factory=Provider)
    events: list[Event] = Field(default_factory=list)
    logs: list[LogLine] = Field(default_factory=list)
    metrics: dict[str, MetricPins] = Field(
        default_factory=dict,
        description="pins by target: an endpoint, an agent, 'gateway', or "
        "'<endpoint>/<served entity>' for one served version of an endpoint",
    )
    outages: Outages = Field(default_factory=Outages)

    def endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)

    def model(self, name: str) -> RegisteredModel | None:
        return next((m for m in self.models if m.name == name), None)

    def agent(self, name: str) -> Agent | None:
        return next((a for a in self.agents if a.name == name), None)

    @model_validator(mode="after")
    def _consistent(self) -> World:
        names = [e.name for e in self.endpoints]
        if len(names) != len(set(names)):
            raise ValueError(f"endpoint names must be unique, got {names}")
        for ep in self.endpoints:
            for entity in ep.config.served_entities:
                model = self.model(entity.entity_name)
                if model is None:
                    raise ValueError(
                        f"endpoint {ep.name!r} serves {entity.entity_name!r}, "
                        "which is not in models"
                    )
                if model.version(entity.entity_version) is None:
                    raise ValueError(
                        f"endpoint {ep.name!r} serves {entity.entity_name} version "
                        f"{entity.entity_version}, which is not among its versions"
                    )
            served = {s.name for s in ep.config.served_entities}
            for route in ep.config.routes:
                if route.served_entity_name not in served:
                    raise ValueError(
                        f"endpoint {ep.name!r} routes to {route.served_entity_name!r}, "
                        f"not one of its served entities {sorted(served)}"
                    )
            total = sum(r.traffic_percentage for r in ep.config.routes)
            if ep.config.routes and total != 100:
                raise ValueError(f"endpoint {ep.name!r} routes sum to {total}, not 100")
        agent_names = [a.name for a in self.agents]
        if len(agent_names) != len(set(agent_names)):
            raise ValueError(f"agent names must be unique, got {agent_names}")
        for agent in self.agents:
            if agent.api_key != "default" and agent.api_key not in self.provider.keys:
                raise ValueError(
                    f"agent {agent.name!r} uses key {agent.api_key!r}, which is not in "
                    f"provider.keys {sorted(self.provider.keys)}"
                )
        for model in self.models:
            for alias, version in model.aliases.items():
                if model.version(version) is None:
                    raise ValueError(
                        f"model {model.name!r} alias {alias!r} points to missing version {version}"
                    )
        return self
