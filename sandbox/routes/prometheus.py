"""The Prometheus HTTP API, answering the PromQL of ``tools/sli_queries.yaml`` from the world."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from sandbox.routes.common import outage_guard
from sandbox.simulation import slis
from sandbox.state import SandboxState
from sandbox.world import World
from tools.sli_queries import LABEL_SLIS, load_queries

MAX_POINTS = 11_000  # Prometheus refuses ranges with more points than this


@dataclass(frozen=True)
class Pattern:
    sli: str
    regex: re.Pattern[str]


_GROUPS = {"target": r'(?:[^"\\]|\\.)*', "window": r"\d+"}


def _compile(sli: str, template: str) -> Pattern:
    # Whitespace is insignificant in PromQL: compare with runs of spaces collapsed.
    parts = re.split(r"(\{target\}|\{window\})", " ".join(template.split()))
    out, seen = [], set()
    for part in parts:
        name = part[1:-1]
        if name in _GROUPS and part == "{" + name + "}":
            out.append(f"(?P={name})" if name in seen else f"(?P<{name}>{_GROUPS[name]})")
            seen.add(name)
        else:
            out.append(re.escape(part))
    return Pattern(sli, re.compile("^" + "".join(out) + "$"))


def compile_queries(queries: dict[str, str] | None = None) -> list[Pattern]:
    """One regex per SLI template, matching the template with its placeholders filled in."""
    return [_compile(sli, t) for sli, t in (queries or load_queries()).items()]


def match(
    patterns: list[Pattern], query: str, likely: str | None = None
) -> tuple[str, str, float | None] | None:
    """``(sli, target, window minutes)`` of a query equal to a filled-in template, else ``None``
    (the window is ``None`` for templates without one). The ``likely`` SLI is tried first."""
    normal = " ".join(query.split())
    first = [p for p in patterns if p.sli == likely]
    for pattern in first + patterns:
        found = pattern.regex.match(normal)
        if found:
            target = re.sub(r"\\(.)", r"\1", found.group("target"))
            window = found.groupdict().get("window")
            return pattern.sli, target, float(window) if window else None
    return None


# One part of the adapter's query for every SLI: an SLI query with a label naming it.
_UNION_PART = re.compile(
    r'^label_replace\((?P<inner>.*), "(?P<label>\w+)", "(?P<name>\w+)", "", ""\)$'
)


def _top_level_or(query: str) -> list[str]:
    """``query`` cut at each ``or`` outside parentheses, braces and strings."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(query):
        char = query[i]
        if quoted:  # inside a string: only its end (an unescaped quote) matters
            quoted = char != '"'
            i += 2 if char == "\\" else 1
            continue
        if char == '"':
            quoted = True
        elif char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
        elif depth == 0 and query.startswith(" or ", i):
            parts.append(query[start:i])
            start = i = i + 4
            continue
        i += 1
    parts.append(query[start:])
    return parts


def match_union(
    patterns: list[Pattern], query: str
) -> list[tuple[dict[str, str], str, str, float | None]] | None:
    """The parts of ``label_replace(<SLI query>, "<label>", "<name>", "", "") or ...`` (how
    the adapter asks for every SLI at once) as ``(added label, sli, target, window)``, or
    ``None`` when ``query`` is not such a union of SLI queries."""
    parts = _top_level_or(" ".join(query.split()))
    found = []
    for part in parts:
        piece = _UNION_PART.match(part)
        inner = match(patterns, piece.group("inner"), piece.group("name")) if piece else None
        if piece is None or inner is None:
            return None
        found.append(({piece.group("label"): piece.group("name")}, *inner))
    return found


def format_value(value: float) -> str:
    return f"{float(value):.10g}"


def sample(sli: str, target: str, value: Any) -> tuple[dict[str, str], str] | None:
    """The labels and value string of an SLI's one sample, or ``None`` for "no series"."""
    if value is None:
        return None
    if sli in LABEL_SLIS:
        return {"target": target, LABEL_SLIS[sli]: str(value)}, "1"
    return {"target": target}, format_value(value)


def as_of(world: World, target: str, minutes_ago: float) -> World:
    """The world as ``target``'s metrics were ``minutes_ago`` minutes ago: its past episodes
    shifted to that moment (one that had not begun yet is left out; one going on then is going
    on). Live values stay as they are: a world describes its past only through its episodes."""
    pins = world.metrics.get(target)
    if pins is None or not pins.history or minutes_ago <= 0:
        return world
    episodes = [
        e.model_copy(
            update={
                "from_minutes_ago": e.from_minutes_ago - minutes_ago,
                "to_minutes_ago": max(0.0, e.to_minutes_ago - minutes_ago),
            }
        )
        for e in pins.history
        if e.from_minutes_ago > minutes_ago
    ]
    shifted = pins.model_copy(update={"history": episodes})
    return world.model_copy(update={"metrics": {**world.metrics, target: shifted}})


def range_values(
    world: World, sli: str, target: str, window: float | None, times: list[float], now: float
) -> list[Any]:
    """The SLI at each of ``times`` (unix seconds; ``now`` is the world's present): a range
    query shows the episodes of the world's history where they happened."""
    out: list[Any] = []
    memo: dict[tuple[Any, ...], Any] = {}
    for at in times:
        then = as_of(world, target, max(0.0, (now - at) / 60))
        pins = then.metrics.get(target)
        key = tuple((e.from_minutes_ago, e.to_minutes_ago) for e in pins.history) if pins else ()
        if key not in memo:
            memo[key] = slis(then, target, window).get(sli)
        out.append(memo[key])
    return out


async def form_params(request: Request) -> dict[str, str]:
    """The query string, and for a POST its ``application/x-www-form-urlencoded`` body too."""
    merged = dict(request.query_params)
    if request.method == "POST":
        merged.update(parse_qsl((await request.body()).decode("utf-8", "replace")))
    return merged


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"status": "error", "errorType": kind, "error": message}, status_code=status
    )


def _down() -> JSONResponse:
    return _error(503, "unavailable", "Prometheus is not available")


def prometheus_router(state: SandboxState) -> APIRouter:
    """``/api/v1/query`` and ``/api/v1/query_range``, failing as ``outages.prometheus`` says."""
    router = APIRouter(dependencies=[Depends(outage_guard(state, "prometheus", _down))])
    patterns = compile_queries()

    def evaluate(query: str) -> list[tuple[dict[str, str], str, str, Any]] | JSONResponse:
        """``(extra labels, sli, target, value)`` of each SLI the query asks for."""
        one = match(patterns, query)
        found = [({}, *one)] if one is not None else match_union(patterns, query)
        if found is None:
            return _error(400, "bad_data", f"sandbox answers only the SLI queries: {query!r}"[:300])
        # Rates over a window average in what happened inside it, and only that: an episode
        # that ended before the window began is history, not the present.
        memo: dict[tuple[str, float | None], dict[str, Any]] = {}
        for _, _, target, window in found:
            if (target, window) not in memo:
                memo[(target, window)] = slis(state.world, target, window)
        return [(extra, sli, t, memo[(t, w)].get(sli)) for extra, sli, t, w in found]

    @router.api_route("/api/v1/query", methods=["GET", "POST"])
    async def query(request: Request) -> Any:
        p = await form_params(request)
        if not p.get("query"):
            return _error(400, "bad_data", 'invalid parameter "query": empty')
        result = evaluate(p["query"])
        if isinstance(result, JSONResponse):
            return result
        at = float(p.get("time") or time.time())
        vector = []
        for extra, sli, target, value in result:
            one = sample(sli, target, value)
            if one is not None:
                vector.append({"metric": one[0] | extra, "value": [at, one[1]]})
        return {"status": "success", "data": {"resultType": "vector", "result": vector}}

    @router.api_route("/api/v1/query_range", methods=["GET", "POST"])
    async def query_range(request: Request) -> Any:
        p = await form_params(request)
        try:
            start, end, step = float(p["start"]), float(p["end"]), float(p["step"].rstrip("s"))
        except (KeyError, ValueError):
            return _error(400, "bad_data", "start, end and step (seconds) are required")
        if step <= 0 or end < start:
            return _error(400, "bad_data", "step must be positive and end not before start")
        if (end - start) / step > MAX_POINTS:
            return _error(400, "bad_data", "exceeded maximum resolution of 11,000 points")
        found = match(patterns, p.get("query", ""))
        if found is None:
            return evaluate(p.get("query", ""))  # the same refusal as an instant query
        sli, target, window = found
        times = [start + i * step for i in range(int((end - start) // step) + 1)]
        values = range_values(state.world, sli, target, window, times, time.time())
        points = [(at, sample(sli, target, v)) for at, v in zip(times, values, strict=True)]
        labelled = [(at, s) for at, s in points if s is not None]
        matrix = []
        if labelled:
            matrix = [{"metric": labelled[-1][1][0], "values": [[at, s[1]] for at, s in labelled]}]
        return {"status": "success", "data": {"resultType": "matrix", "result": matrix}}

    @router.get("/-/healthy")
    async def healthy() -> str:
        return "Prometheus Server is Healthy."

    return router
