"""`gateway_logs`: recent log lines, redacted before they leave the tool, counted by kind."""

from __future__ import annotations

import re
import time
from collections import Counter

from pydantic import BaseModel, Field

from tools.platform import Platform
from tools.redact import redact
from tools.result import ToolStatus
from tools.spec import Finding, tool

# At most this many lines (the newest) are kept in the evidence; counts cover every line.
MAX_LINES = 200

# First match wins: OOM kills also mention exit codes, auth errors are also exceptions, etc.
CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("oom", re.compile(r"(?i)out of memory|oomkill|\bOOM\b|exit(?:ed)? (?:with )?code 137")),
    ("auth", re.compile(r"(?i)\b40[13]\b|unauthori[sz]ed|forbidden|invalid (?:api )?key")),
    ("rate_limit", re.compile(r"(?i)\b429\b|rate limit|too many requests|quota")),
    ("not_found", re.compile(r"(?i)\b404\b|not found|invalid model|does not exist")),
    ("timeout", re.compile(r"(?i)timed? ?out|deadline exceeded")),
    ("exception", re.compile(r"(?i)exception|traceback|\w+error\b|\bfailed\b")),
)


def _age_minutes(timestamp: float | str | None, now_ms: float) -> float | None:
    """Minutes since an epoch-milliseconds timestamp (``None`` when it is not one)."""
    try:
        return round(max(0.0, now_ms - float(timestamp or "")) / 60000, 1)
    except ValueError:
        return None


def categorise(message: str) -> str | None:
    """The failure category of one log message, or ``None`` when it is not a failure."""
    return next((name for name, pattern in CATEGORIES if pattern.search(message)), None)


class GatewayLogsParams(BaseModel):
    source: str | None = Field(None, description="agent, endpoint or 'gateway'; omit for all")
    since_minutes: int = Field(60, ge=1, le=7 * 24 * 60)


class LogLineOut(BaseModel):
    timestamp: float | str | None
    level: str
    source: str
    message: str


class GatewayLogsEvidence(BaseModel):
    lines: list[LogLineOut]
    counts: dict[str, int]
    pii_found: bool
    pii_kinds: list[str]
    top_category: str | None
    newest_minutes_ago: dict[str, float] = Field(
        default_factory=dict,
        description="age of the newest line of each failure category: old lines are history",
    )


@tool("gateway_logs", kind="read", params=GatewayLogsParams, evidence=GatewayLogsEvidence)
async def gateway_logs(platform: Platform, params: GatewayLogsParams) -> Finding:
    """Recent log lines (personal data and secrets redacted) with failures counted by kind."""
    raw = await platform.gateway.logs(since_minutes=params.since_minutes, source=params.source)
    counts: Counter[str] = Counter({name: 0 for name, _ in CATEGORIES})
    pii: Counter[str] = Counter()
    lines: list[LogLineOut] = []
    newest: dict[str, float] = {}
    now_ms = time.time() * 1000
    for line in raw:
        cleaned = redact(line.message)
        pii.update(cleaned.found)
        category = categorise(cleaned.text)
        if category is not None:
            counts[category] += 1
            age = _age_minutes(line.timestamp, now_ms)
            if age is not None:
                newest[category] = min(age, newest.get(category, age))
        lines.append(
            LogLineOut(
                timestamp=line.timestamp,
                level=line.level,
                source=redact(line.source).text,
                message=cleaned.text,
            )
        )
    top = max(counts.items(), key=lambda kv: kv[1]) if any(counts.values()) else None
    evidence = GatewayLogsEvidence(
        lines=lines[-MAX_LINES:],
        counts=dict(counts),
        pii_found=bool(pii),
        pii_kinds=sorted(pii),
        top_category=top[0] if top else None,
        newest_minutes_ago=newest,
    )
    where = f"{params.source} " if params.source else ""
    if not raw:
        return Finding(
            ToolStatus.NO_DATA,
            f"no {where}log lines in the last {params.since_minutes} min",
            evidence,
        )
    failing = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    summary = f"{len(raw)} {where}log lines in {params.since_minutes} min"
    summary += f"; failures: {failing}" if failing else "; no failures"
    if pii:
        summary += f"; sensitive data redacted ({', '.join(sorted(pii))})"
    return Finding(ToolStatus.OK, summary, evidence)
