"""Read-only tools over serving endpoints: status, names, a sample invocation, the signature check.

A 404 from the serving API is a finding (the endpoint does not exist), not a failed tool.
"""

from __future__ import annotations

import difflib
import re
import time
from typing import Any

from pydantic import BaseModel, Field

from tools.clients.databricks import Invocation, ServingEndpoint
from tools.clients.errors import NotFound, UpstreamHTTPError
from tools.platform import Platform
from tools.readonly.pipelines import ReturnField, find_callers
from tools.result import ToolStatus
from tools.spec import Finding, tool

# -- endpoint_status ---------------------------------------------------------------------------


class EndpointParams(BaseModel):
    endpoint: str = Field(min_length=1)


class ServedEntityInfo(BaseModel):
    name: str
    entity_name: str
    entity_version: str
    workload_size: str
    scale_to_zero_enabled: bool
    deployment: str
    deployment_state_message: str


class RouteInfo(BaseModel):
    served_entity_name: str
    traffic_percentage: int


class EndpointStatusEvidence(BaseModel):
    exists: bool
    permission_denied: bool = Field(
        False, description="the serving API refused to show the endpoint (HTTP 403)"
    )
    error_message: str = Field("", description="the platform's words when it refused")
    ready: str | None = None
    config_update: str | None = None
    update_minutes: float | None = Field(None, description="minutes since the last update started")
    state_message: str = ""
    served_entities: list[ServedEntityInfo] = Field(default_factory=list)
    routes: list[RouteInfo] = Field(default_factory=list)
    served_versions: list[str] = Field(default_factory=list)
    primary_model: str | None = None
    primary_version: str | None = None
    workload_size: str | None = None
    scale_to_zero_enabled: bool | None = None
    creator: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    environment: str = Field(
        "prod", description="dev or prod, from the env/environment/stage tag or the name"
    )
    challenger_version: str | None = Field(
        None, description="an A/B split: the version with the smaller share of traffic"
    )
    challenger_share: int | None = Field(None, description="its traffic percentage")
    challenger_entity: str | None = Field(
        None,
        description="the served entity of the challenger: its own series are `<endpoint>/<entity>`",
    )
    champion_entity: str | None = Field(
        None, description="during a split, the served entity with the larger share of traffic"
    )


# Tags that say which environment an endpoint belongs to, and the values that mean development
# (Best Practices 2: scale-to-zero for dev; everything else is kept warm as production).
_ENV_TAGS = ("env", "environment", "stage", "tier")
_DEV_VALUES = frozenset({"dev", "development", "sandbox", "test", "testing", "experiment"})
_DEV_NAME = re.compile(r"(^|[-_.])(dev|development|sandbox|test)([-_.]|$)", re.IGNORECASE)


def environment_of(name: str, tags: dict[str, str]) -> str:
    """``dev`` or ``prod``: the environment tag when there is one, else a ``-dev`` style name."""
    for key in _ENV_TAGS:
        value = next((v for k, v in tags.items() if k.lower() == key), None)
        if value:
            return "dev" if value.strip().lower() in _DEV_VALUES else "prod"
    return "dev" if _DEV_NAME.search(name) else "prod"


def challenger_of(endpoint: ServingEndpoint) -> tuple[str | None, int | None]:
    """The version with the smaller traffic share when two served versions both take traffic."""
    versions = {e.name: e.entity_version for e in endpoint.config.served_entities}
    split = split_entities(endpoint)
    if split is None:
        return None, None
    return versions.get(split[0]), split[1]


def split_entities(endpoint: ServingEndpoint) -> tuple[str, int, str] | None:
    """``(challenger entity, its share, champion entity)`` when two entities both take traffic:
    the smaller share is the challenger; at an even split (the 50 % stage) the newer version is."""
    versions = {e.name: e.entity_version for e in endpoint.config.served_entities}
    routed = sorted(
        (r for r in endpoint.config.traffic_config.routes if r.traffic_percentage > 0),
        key=lambda r: (r.traffic_percentage, -_number(versions.get(r.served_entity_name, ""))),
    )
    if len(routed) < 2:
        return None
    small, large = routed[0], routed[-1]
    return small.served_entity_name, small.traffic_percentage, large.served_entity_name


def primary_entity(endpoint: ServingEndpoint) -> Any:
    """The served entity that takes the most traffic (the first one when no routes are set)."""
    entities = endpoint.config.served_entities
    if not entities:
        return None
    share = {
        r.served_entity_name: r.traffic_percentage for r in endpoint.config.traffic_config.routes
    }
    # At an even split the older version is the one being replaced (split_entities agrees).
    return max(entities, key=lambda e: (share.get(e.name, 0), -_number(e.entity_version)))


def _number(version: str) -> int:
    return int(version) if version.isdigit() else -1


def describe_endpoint(endpoint: ServingEndpoint, now_ms: float) -> EndpointStatusEvidence:
    """The ``endpoint_status`` evidence of one endpoint as the serving API describes it."""
    entities = endpoint.config.served_entities
    primary = primary_entity(endpoint)
    update_minutes = None
    if endpoint.last_updated_timestamp is not None:
        update_minutes = round(max(0.0, now_ms - endpoint.last_updated_timestamp) / 60000, 1)
    messages = [
        f"{e.name}: {e.state.deployment_state_message}"
        for e in [
            *entities,
            *(endpoint.pending_config.served_entities if endpoint.pending_config else []),
        ]
        if e.state.deployment_state_message
    ]
    tags = {t.key: t.value for t in endpoint.tags}
    challenger, share = challenger_of(endpoint)
    split = split_entities(endpoint)
    return EndpointStatusEvidence(
        exists=True,
        ready=endpoint.state.ready or None,
        config_update=endpoint.state.config_update or None,
        update_minutes=update_minutes,
        state_message="; ".join(messages),
        served_entities=[
            ServedEntityInfo(
                name=e.name,
                entity_name=e.entity_name,
                entity_version=e.entity_version,
                workload_size=e.workload_size,
                scale_to_zero_enabled=e.scale_to_zero_enabled,
                deployment=e.state.deployment,
                deployment_state_message=e.state.deployment_state_message,
            )
            for e in entities
        ],
        routes=[
            RouteInfo(
                served_entity_name=r.served_entity_name, traffic_percentage=r.traffic_percentage
            )
            for r in endpoint.config.traffic_config.routes
        ],
        served_versions=[e.entity_version for e in entities],
        primary_model=primary.entity_name if primary else None,
        primary_version=primary.entity_version if primary else None,
        workload_size=primary.workload_size if primary else None,
        scale_to_zero_enabled=primary.scale_to_zero_enabled if primary else None,
        creator=endpoint.creator or None,
        tags=tags,
        environment=environment_of(endpoint.name, tags),
        challenger_version=challenger,
        challenger_share=share,
        challenger_entity=split[0] if split else None,
        champion_entity=split[2] if split else None,
    )


@tool("endpoint_status", kind="read", params=EndpointParams, evidence=EndpointStatusEvidence)
async def endpoint_status(platform: Platform, params: EndpointParams) -> Finding:
    """Read a serving endpoint's state, served versions, routes and sizes (404 means it is gone)."""
    try:
        endpoint = await platform.serving.get_endpoint(params.endpoint)
    except NotFound:
        return Finding(
            ToolStatus.OK,
            f"endpoint {params.endpoint} does not exist",
            EndpointStatusEvidence(exists=False),
        )
    except UpstreamHTTPError as exc:
        if exc.status_code != 403:
            raise
        # A refusal is an answer: the endpoint is there (a missing one is a 404) and the
        # platform says who may not do what; that is for whoever grants permissions.
        evidence = EndpointStatusEvidence(
            exists=True, permission_denied=True, error_message=_platform_message(exc)
        )
        return Finding(
            ToolStatus.OK, f"{params.endpoint}: refused, {evidence.error_message}", evidence
        )
    evidence = describe_endpoint(endpoint, time.time() * 1000)
    summary = (
        f"{params.endpoint}: {evidence.ready}, {evidence.config_update}, serving "
        f"{evidence.primary_model} v{evidence.primary_version} ({evidence.workload_size})"
    )
    if evidence.config_update == "IN_PROGRESS":
        summary += f", updating for {evidence.update_minutes:g} min"
    if evidence.state_message:
        summary += f": {evidence.state_message}"
    return Finding(ToolStatus.OK, summary, evidence)


def _platform_message(exc: UpstreamHTTPError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    message = body.get("message") if isinstance(body.get("message"), str) else None
    code = exc.error_code or "PERMISSION_DENIED"
    return f"{exc.status_code} {code}: {message or exc.reason}"


# -- list_endpoints ----------------------------------------------------------------------------


class ListEndpointsParams(BaseModel):
    name: str | None = None


class ListEndpointsEvidence(BaseModel):
    endpoints: list[str]
    exact_match: bool
    suggestions: list[str] = Field(description="did-you-mean, best first")
    best_suggestion: str | None


def did_you_mean(name: str, candidates: list[str]) -> list[str]:
    """Candidates close to ``name``, best first (case-insensitive)."""
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=5, cutoff=0.6)
    return [by_lower[c] for c in close if by_lower[c] != name]


@tool("list_endpoints", kind="read", params=ListEndpointsParams, evidence=ListEndpointsEvidence)
async def list_endpoints(platform: Platform, params: ListEndpointsParams) -> Finding:
    """List the serving endpoints; with a name, whether it exists and what was probably meant."""
    names = sorted(e.name for e in await platform.serving.list_endpoints())
    if params.name is None:
        evidence = ListEndpointsEvidence(
            endpoints=names, exact_match=False, suggestions=[], best_suggestion=None
        )
        return Finding(ToolStatus.OK, f"{len(names)} endpoint(s): {', '.join(names)}", evidence)
    suggestions = did_you_mean(params.name, names)
    evidence = ListEndpointsEvidence(
        endpoints=names,
        exact_match=params.name in names,
        suggestions=suggestions,
        best_suggestion=suggestions[0] if suggestions else None,
    )
    if evidence.exact_match:
        summary = f"{params.name} exists among {len(names)} endpoint(s)"
    elif suggestions:
        summary = f"no endpoint named {params.name}; did you mean {suggestions[0]}?"
    else:
        summary = f"no endpoint named {params.name} and nothing close to it"
    return Finding(ToolStatus.OK, summary, evidence)


# -- sample_invocation -------------------------------------------------------------------------

_SAMPLE_VALUES: dict[str, Any] = {
    "string": "The product arrived on time and works well.",
    "long": 1,
    "integer": 1,
    "int": 1,
    "double": 0.5,
    "float": 0.5,
    "boolean": True,
}


class SampleInvocationParams(BaseModel):
    endpoint: str = Field(min_length=1)
    payload: dict[str, Any] | None = Field(
        None, description="request body; built from the served version's signature when absent"
    )


class SampleInvocationEvidence(BaseModel):
    http_status: int
    error_code: str | None = None
    error_message: str | None = None
    predictions_count: int = 0
    null_fraction: float | None = None
    output_keys: list[str] = Field(default_factory=list)
    keys_consistent: bool | None = None
    non_string_fields: list[str] = Field(default_factory=list)
    latency_ms: float | None = None
    payload: dict[str, Any] | None = None


class Signature(BaseModel):
    """A served version's signature, as ``signature_check`` compares it."""

    model: str
    version: str
    inputs: list[ReturnField]
    required_inputs: list[str]
    outputs: list[ReturnField]


async def served_signature(platform: Platform, endpoint: ServingEndpoint) -> Signature | None:
    """The signature of the version that takes most of the endpoint's traffic."""
    primary = primary_entity(endpoint)
    if primary is None:
        return None
    inputs, outputs = await platform.registry.signature(primary.entity_name, primary.entity_version)
    if not inputs and not outputs:
        return None
    return Signature(
        model=primary.entity_name,
        version=primary.entity_version,
        inputs=[ReturnField(name=f.name, type=f.type) for f in inputs if f.name],
        required_inputs=[f.name for f in inputs if f.name and f.required],
        outputs=[ReturnField(name=f.name, type=f.type) for f in outputs if f.name],
    )


def sample_payload(signature: Signature | None) -> dict[str, Any]:
    """A one-record request that satisfies the signature's inputs."""
    fields = signature.inputs if signature else [ReturnField(name="text", type="string")]
    record = {f.name: _SAMPLE_VALUES.get(f.type.lower(), "sample") for f in fields}
    return {"dataframe_records": [record]}


def read_invocation(
    invocation: Invocation, signature: Signature | None, payload: dict[str, Any]
) -> SampleInvocationEvidence:
    """What an invocation's answer says about the model's output."""
    predictions = invocation.predictions or []
    dicts = [p for p in predictions if isinstance(p, dict)]
    key_sets = [frozenset(p) for p in dicts]
    keys = sorted(set().union(*key_sets)) if key_sets else []
    declared = {f.name: normalise_type(f.type) for f in signature.outputs} if signature else {}
    non_string = sorted(
        {
            k
            for p in dicts
            for k, v in p.items()
            if v is not None and not isinstance(v, str) and declared.get(k, "string") == "string"
        }
    )
    nulls = sum(
        1
        for p in predictions
        if p is None or (isinstance(p, dict) and all(v is None for v in p.values()))
    )
    return SampleInvocationEvidence(
        http_status=invocation.http_status,
        error_code=invocation.error_code,
        error_message=invocation.error_message,
        predictions_count=len(predictions),
        null_fraction=round(nulls / len(predictions), 3) if predictions else None,
        output_keys=keys,
        keys_consistent=len(set(key_sets)) <= 1 if key_sets else None,
        non_string_fields=non_string,
        latency_ms=round(invocation.latency_ms, 1),
        payload=payload,
    )


async def invoke_sample(
    platform: Platform, endpoint: ServingEndpoint, payload: dict[str, Any] | None
) -> tuple[SampleInvocationEvidence, Signature | None]:
    """Invoke the endpoint once (with a payload built from its signature unless one is given)."""
    signature = await served_signature(platform, endpoint)
    body = payload if payload is not None else sample_payload(signature)
    # Several records, so that answers whose keys vary from call to call show it.
    if payload is None:
        body = {"dataframe_records": body["dataframe_records"] * 3}
    invocation = await platform.serving.invoke(endpoint.name, body)
    return read_invocation(invocation, signature, body), signature


@tool(
    "sample_invocation",
    kind="read",
    params=SampleInvocationParams,
    evidence=SampleInvocationEvidence,
)
async def sample_invocation(platform: Platform, params: SampleInvocationParams) -> Finding:
    """Send a sample request to an endpoint and describe the answer (errors, nulls, keys, types)."""
    try:
        endpoint = await platform.serving.get_endpoint(params.endpoint)
    except NotFound as exc:
        evidence = SampleInvocationEvidence(
            http_status=404, error_code=exc.error_code, error_message=str(exc.reason)
        )
        return Finding(ToolStatus.OK, f"endpoint {params.endpoint} does not exist", evidence)
    evidence, _ = await invoke_sample(platform, endpoint, params.payload)
    if evidence.http_status >= 400:
        code = f" {evidence.error_code}" if evidence.error_code else ""
        summary = f"HTTP {evidence.http_status}{code}: {evidence.error_message or ''}"
    else:
        summary = (
            f"{evidence.predictions_count} prediction(s), null fraction {evidence.null_fraction}"
        )
        if evidence.keys_consistent is False:
            summary += ", output keys vary between answers"
        if evidence.non_string_fields:
            summary += f", non-string fields {', '.join(evidence.non_string_fields)}"
    return Finding(ToolStatus.OK, summary, evidence)


# -- signature_check ---------------------------------------------------------------------------


class SignatureCheckParams(BaseModel):
    endpoint: str = Field(min_length=1)
    caller_inputs: list[str] | None = Field(None, description="defaults to what pipelines send")
    expected_outputs: list[ReturnField] | None = Field(
        None, description="defaults to the returnType pipelines expect"
    )


class SignatureCheckEvidence(BaseModel):
    model: str | None
    version: str | None
    signature_inputs: list[str]
    signature_outputs: list[ReturnField]
    missing_inputs: list[str]
    unexpected_inputs: list[str]
    input_matches: bool
    output_missing: list[str]
    output_type_mismatches: list[str]
    output_matches: bool
    observed_dynamic_keys: bool
    observed_float_fields: list[str]
    signature_matches_observed: bool
    older_versions: list[str] = Field(
        default_factory=list, description="registered versions older than the served one"
    )
    last_matching_version: str | None = Field(
        None,
        description="the newest older version whose signature matches the callers: set when a "
        "new version introduced a contract break, None when it has been there since the first",
    )


# How many older versions a contract check reads the signatures of (newest first).
OLDER_VERSIONS_CHECKED = 5

# Spark SQL spellings of the signature's scalar types (a returnType may write either).
TYPE_SYNONYMS = {
    "int": "integer",
    "bigint": "long",
    "smallint": "integer",
    "tinyint": "integer",
    "bool": "boolean",
    "real": "float",
    "str": "string",
    "timestamp": "datetime",
    "date": "datetime",
}
_TYPE_WORD = re.compile(r"\b(" + "|".join(TYPE_SYNONYMS) + r")\b")


def same_type(a: str, b: str) -> bool:
    """Whether two type spellings name the same type: case, spacing, ``name: type`` or
    ``name type`` inside a struct, and ``BIGINT``/``long``-style synonyms do not matter."""
    return normalise_type(a) == normalise_type(b)


def normalise_type(text: str) -> str:
    """One spelling of a type (``STRUCT<a: BIGINT>`` and ``struct<a long>`` alike)."""
    lowered = " ".join(text.lower().replace(":", " ").split())
    lowered = re.sub(r"\s*([<>,])\s*", r"\1", lowered)
    return _TYPE_WORD.sub(lambda m: TYPE_SYNONYMS[m.group(1)], lowered)


def _version_key(version: str) -> tuple[int, str]:
    return (int(version) if version.isdigit() else -1, version)


def contract_matches(
    inputs: list[ReturnField],
    required: list[str],
    outputs: list[ReturnField],
    caller_inputs: list[str],
    expected: list[ReturnField],
) -> bool:
    """Whether a signature accepts what callers send and declares what they parse."""
    names = {f.name for f in inputs}
    declared = {f.name: f.type for f in outputs}
    if caller_inputs and (set(required) - set(caller_inputs) or set(caller_inputs) - names):
        return False
    return all(f.name in declared and same_type(declared[f.name], f.type) for f in expected)


async def last_matching_version(
    platform: Platform,
    signature: Signature,
    caller_inputs: list[str],
    expected: list[ReturnField],
    *,
    read_signatures: bool = True,
) -> tuple[list[str], str | None]:
    """Older versions of the served model, and the newest one whose signature fits the callers.

    Schema issues are a regression only when an earlier version worked (Issue 2 Step 3, Issue 3:
    roll back only when a new version introduced the break)."""
    versions = await platform.registry.search_versions(signature.model)
    older = sorted(
        (v.version for v in versions if _version_key(v.version) < _version_key(signature.version)),
        key=_version_key,
        reverse=True,
    )
    for version in older[:OLDER_VERSIONS_CHECKED] if read_signatures else []:
        ins, outs = await platform.registry.signature(signature.model, version)
        if contract_matches(
            [ReturnField(name=f.name, type=f.type) for f in ins if f.name],
            [f.name for f in ins if f.name and f.required],
            [ReturnField(name=f.name, type=f.type) for f in outs if f.name],
            caller_inputs,
            expected,
        ):
            return older, version
    return older, None


@tool("signature_check", kind="read", params=SignatureCheckParams, evidence=SignatureCheckEvidence)
async def signature_check(platform: Platform, params: SignatureCheckParams) -> Finding:
    """Compare the served signature with what callers send and expect and what answers look like."""
    try:
        endpoint = await platform.serving.get_endpoint(params.endpoint)
    except NotFound:
        return Finding(ToolStatus.NO_DATA, f"endpoint {params.endpoint} does not exist")
    caller_inputs, expected = params.caller_inputs, params.expected_outputs
    if caller_inputs is None or expected is None:
        callers = [
            c
            for c in await find_callers(platform, params.endpoint)
            if c.endpoint_called == params.endpoint
        ]
        if caller_inputs is None:
            caller_inputs = sorted({f for c in callers for f in c.request_fields})
        if expected is None:
            seen: dict[str, ReturnField] = {}
            for c in callers:
                for f in c.return_fields:
                    seen.setdefault(f.name, f)
            expected = list(seen.values())
    observed, signature = await invoke_sample(platform, endpoint, None)
    if signature is None:
        return Finding(
            ToolStatus.NO_DATA, f"no signature registered for what {params.endpoint} serves"
        )
    sig_inputs = {f.name for f in signature.inputs}
    sig_outputs = {f.name: f.type for f in signature.outputs}
    missing = sorted(set(signature.required_inputs) - set(caller_inputs)) if caller_inputs else []
    unexpected = sorted(set(caller_inputs) - sig_inputs)
    output_missing = sorted(f.name for f in expected if f.name not in sig_outputs)
    mismatches = sorted(
        f.name
        for f in expected
        if f.name in sig_outputs and not same_type(sig_outputs[f.name], f.type)
    )
    dynamic = observed.keys_consistent is False or bool(
        set(observed.output_keys) - set(sig_outputs)
    )
    floats = observed.non_string_fields
    broken = bool(missing or unexpected or output_missing or mismatches)
    older, matching = await last_matching_version(
        platform, signature, caller_inputs, expected, read_signatures=broken
    )
    evidence = SignatureCheckEvidence(
        model=signature.model,
        version=signature.version,
        signature_inputs=sorted(sig_inputs),
        signature_outputs=signature.outputs,
        missing_inputs=missing,
        unexpected_inputs=unexpected,
        input_matches=not missing and not unexpected,
        output_missing=output_missing,
        output_type_mismatches=mismatches,
        output_matches=not output_missing and not mismatches,
        observed_dynamic_keys=dynamic,
        observed_float_fields=floats,
        signature_matches_observed=observed.http_status < 400 and not dynamic and not floats,
        older_versions=older,
        last_matching_version=matching,
    )
    problems = []
    if not evidence.input_matches:
        problems.append(f"inputs: missing {missing}, unexpected {unexpected}")
    if not evidence.output_matches:
        problems.append(f"outputs: missing {output_missing}, type mismatches {mismatches}")
    if dynamic:
        problems.append("answers use keys outside the signature")
    if floats:
        problems.append(f"answers return non-strings in {', '.join(floats)}")
    head = f"{signature.model} v{signature.version}"
    summary = f"{head}: " + (
        "; ".join(problems) if problems else "signature matches callers and answers"
    )
    return Finding(ToolStatus.OK, summary, evidence)
