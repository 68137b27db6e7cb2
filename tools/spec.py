"""What a tool is, as plain values: its name, kind, parameter and evidence models and its body.

Tool modules import this (and nothing above it); ``tools/catalog.py`` lists the specs they define.
Keeping the spec types below the catalogue is what lets the catalogue import the tools without
the tools importing the catalogue back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from tools.platform import Platform
from tools.result import ToolStatus

ToolKind = Literal["read", "mutate"]
P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class Finding:
    """What a tool body returns; the runner wraps it into a :class:`~tools.result.ToolResult`."""

    status: ToolStatus
    summary: str
    evidence: BaseModel | None = None
    error: str | None = None


ToolBody = Callable[[Platform, Any], Awaitable[Finding]]


@dataclass(frozen=True)
class ToolSpec:
    """One tool: what runbooks name, what lint checks predicates against, what the runner calls."""

    name: str
    kind: ToolKind
    description: str
    params: type[BaseModel]
    evidence: type[BaseModel]
    body: ToolBody


def tool(
    name: str, *, kind: ToolKind, params: type[P], evidence: type[BaseModel]
) -> Callable[[Callable[[Platform, P], Awaitable[Finding]]], ToolSpec]:
    """Turn a tool body into its :class:`ToolSpec` (the docstring's first line describes it).

    Nothing is registered: a tool exists for the bot once ``tools/catalog.py`` lists it.
    """

    def make(fn: Callable[[Platform, P], Awaitable[Finding]]) -> ToolSpec:
        doc = (fn.__doc__ or name).strip().splitlines()[0]
        return ToolSpec(name, kind, doc, params, evidence, fn)

    return make
