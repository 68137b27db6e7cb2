"""`pipeline_usage`: which SQL pipelines call an endpoint with ``ai_query``, and how.

The SQL is parsed, not executed: the endpoint name each ``ai_query`` calls, the request fields it
sends (``named_struct`` / ``struct`` field names) and the ``returnType`` it expects back. A pipeline
that calls a close misspelling of the endpoint counts too: that is the "endpoint not found" case.
"""

from __future__ import annotations

import asyncio
import difflib
import re

from pydantic import BaseModel, Field

from tools.clients.databricks import PipelineDetail
from tools.platform import Platform
from tools.result import ToolStatus
from tools.spec import Finding, tool

# Names at least this similar to the endpoint are treated as a misspelling of it.
MISSPELLING_RATIO = 0.8


class ReturnField(BaseModel):
    name: str
    type: str


class AiQueryCall(BaseModel):
    """One ``ai_query(...)`` call found in SQL."""

    endpoint_called: str
    request_fields: list[str] = Field(default_factory=list)
    return_fields: list[ReturnField] = Field(default_factory=list)
    fail_on_error: bool = True


class PipelineCall(BaseModel):
    id: str
    name: str
    endpoint_called: str
    request_fields: list[str]
    return_fields: list[ReturnField]
    concurrency: int | None
    fail_on_error: bool


class PipelineUsageParams(BaseModel):
    endpoint: str = Field(min_length=1)


class PipelineUsageEvidence(BaseModel):
    pipelines: list[PipelineCall]
    callers_count: int
    referenced_names: list[str]
    max_concurrency: int | None


_AI_QUERY = re.compile(r"\bai_query\s*\(", re.IGNORECASE)
_NAMED_ARG = re.compile(r"^\s*(\w+)\s*=>\s*(.*)$", re.DOTALL)
_ALIAS = re.compile(r"\bas\s+`?(\w+)`?\s*$", re.IGNORECASE)


def _balanced(sql: str, start: int) -> str:
    """The text between the parenthesis opened just before ``start`` and its match."""
    depth, i, quote = 1, start, ""
    while i < len(sql):
        ch = sql[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return sql[start:i]
        i += 1
    return sql[start:]


def _split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside quotes, parentheses and angle brackets."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    previous = ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "(<":
            depth += 1
        elif ch == ")" or (ch == ">" and previous != "="):  # `=>` names an argument
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(current).strip())
            current = []
            previous = ch
            continue
        current.append(ch)
        previous = ch
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"`":
        return text[1:-1]
    return text


def _request_fields(expr: str) -> list[str]:
    expr = expr.strip()
    lowered = expr.lower()
    if lowered.startswith("named_struct"):
        args = _split_top_level(_balanced(expr, expr.index("(") + 1))
        return [_unquote(a) for a in args[0::2]]
    if lowered.startswith("struct"):
        fields = []
        for arg in _split_top_level(_balanced(expr, expr.index("(") + 1)):
            alias = _ALIAS.search(arg)
            fields.append(alias.group(1) if alias else arg.split(".")[-1].strip("` "))
        return fields
    return []


def parse_struct_type(text: str) -> list[ReturnField]:
    """Fields of ``STRUCT<a: STRING, b: DOUBLE>`` (or the DDL form ``a STRING, b DOUBLE``)."""
    text = _unquote(text).strip()
    match = re.match(r"^struct\s*<(.*)>$", text, re.IGNORECASE | re.DOTALL)
    body = match.group(1) if match else text
    fields = []
    for part in _split_top_level(body):
        name, _, kind = part.replace(":", " ", 1).strip().partition(" ")
        if name:
            fields.append(ReturnField(name=name.strip("`"), type=kind.strip().lower() or "string"))
    return fields


def parse_ai_query_calls(sql: str) -> list[AiQueryCall]:
    """Every ``ai_query`` call in a SQL text, in order of appearance."""
    calls = []
    for match in _AI_QUERY.finditer(sql):
        positional: list[str] = []
        named: dict[str, str] = {}
        for arg in _split_top_level(_balanced(sql, match.end())):
            named_arg = _NAMED_ARG.match(arg)
            if named_arg:
                named[named_arg.group(1).lower()] = named_arg.group(2).strip()
            else:
                positional.append(arg)
        endpoint = named.get("endpoint") or (positional[0] if positional else "")
        request = named.get("request") or (positional[1] if len(positional) > 1 else "")
        return_type = named.get("returntype") or (positional[2] if len(positional) > 2 else "")
        fail_on_error = named.get("failonerror", "true").strip().lower() != "false"
        calls.append(
            AiQueryCall(
                endpoint_called=_unquote(endpoint),
                request_fields=_request_fields(request),
                return_fields=parse_struct_type(return_type) if return_type else [],
                fail_on_error=fail_on_error,
            )
        )
    return calls


def is_same_or_misspelled(called: str, endpoint: str) -> bool:
    """True when ``called`` names ``endpoint`` or a close misspelling of it."""
    if called == endpoint:
        return True
    return (
        difflib.SequenceMatcher(None, called.lower(), endpoint.lower()).ratio() >= MISSPELLING_RATIO
    )


async def _pipeline_sql(platform: Platform, detail: PipelineDetail) -> str:
    paths = [lib.path for lib in detail.spec.libraries if lib.path]
    sources = await asyncio.gather(*(platform.serving.export_source(p) for p in paths))
    return "\n".join(sources)


async def find_callers(platform: Platform, endpoint: str) -> list[PipelineCall]:
    """The ``ai_query`` calls of every pipeline that calls ``endpoint`` (or a misspelling of it)."""
    statuses = await platform.serving.list_pipelines()
    details = await asyncio.gather(
        *(platform.serving.get_pipeline(s.pipeline_id) for s in statuses)
    )
    sqls = await asyncio.gather(*(_pipeline_sql(platform, d) for d in details))
    callers = []
    for detail, sql in zip(details, sqls, strict=True):
        raw = detail.spec.configuration.get("ai_query.concurrency")
        concurrency = int(raw) if raw and raw.strip().isdigit() else None
        for call in parse_ai_query_calls(sql):
            if is_same_or_misspelled(call.endpoint_called, endpoint):
                callers.append(
                    PipelineCall(
                        id=detail.pipeline_id,
                        name=detail.name,
                        concurrency=concurrency,
                        **call.model_dump(),
                    )
                )
    return callers


@tool("pipeline_usage", kind="read", params=PipelineUsageParams, evidence=PipelineUsageEvidence)
async def pipeline_usage(platform: Platform, params: PipelineUsageParams) -> Finding:
    """Find the pipelines that call an endpoint with ai_query: request fields and return type."""
    callers = await find_callers(platform, params.endpoint)
    names = sorted({c.endpoint_called for c in callers})
    concurrencies = [c.concurrency for c in callers if c.concurrency is not None]
    evidence = PipelineUsageEvidence(
        pipelines=callers,
        callers_count=len({c.id for c in callers}),
        referenced_names=names,
        max_concurrency=max(concurrencies) if concurrencies else None,
    )
    if not callers:
        return Finding(ToolStatus.OK, f"no pipeline calls {params.endpoint}", evidence)
    others = [n for n in names if n != params.endpoint]
    summary = f"{evidence.callers_count} pipeline(s) call {params.endpoint}"
    if others:
        summary += f"; some call {', '.join(others)} (misspelled?)"
    return Finding(ToolStatus.OK, summary, evidence)
