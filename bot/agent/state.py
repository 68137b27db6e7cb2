"""The graph's state: plain JSON data, so the checkpointer can persist it and a resumed process can
pick up exactly where the last one stopped.

List fields carry a reducer, so a node returns only what it adds: ``steps``, ``diagnoses`` and
``advice`` are appended to; ``plans`` and ``actions`` are keyed (by diagnosis, by proposal id), so a
node returns the entries it added or changed and the others stay as they were. Every other field
is replaced by the value a node returns.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Annotated, Any, TypedDict, TypeVar

Item = TypeVar("Item", bound=Mapping[str, Any])


def _merge_by(key: str, old: list[Item], new: list[Item]) -> list[Item]:
    """``old`` with each entry of ``new`` replacing the one with the same key, or appended."""
    merged = list(old)
    for item in new:
        at = next((i for i, seen in enumerate(merged) if seen[key] == item[key]), None)
        if at is None:
            merged.append(item)
        else:
            merged[at] = item
    return merged


class CausePlan(TypedDict):
    """The remedies of one cause diagnosis, tried in order."""

    diagnosis: str
    options: list[str]
    index: int
    outcome: str | None  # resolved | advice | escalated | not_recovered | exhausted


def merge_plans(old: list[CausePlan], new: list[CausePlan]) -> list[CausePlan]:
    """One plan per diagnosis: a node returns the plans it added or moved on."""
    return _merge_by("diagnosis", old, new)


def merge_actions(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One action record per proposal: verification amends the record execution wrote."""
    return _merge_by("proposal_id", old, new)


class IncidentState(TypedDict, total=False):
    incident_id: str
    trigger: dict[str, Any]
    target: str
    target_kind: str
    runbook: str | None
    cursor: str | None
    facts: dict[str, Any]
    steps: Annotated[list[dict[str, Any]], operator.add]  # StepEvent dumps, in seq order
    diagnoses: Annotated[list[dict[str, Any]], operator.add]
    plans: Annotated[list[CausePlan], merge_plans]
    pending: dict[str, Any] | None  # the proposal waiting for a decision
    decision: dict[str, Any] | None  # the raw answer to the pending proposal (untrusted)
    actions: Annotated[list[dict[str, Any]], merge_actions]
    advice: Annotated[list[str], operator.add]
    escalation: dict[str, str] | None
    tool_cache: dict[str, dict[str, Any]]
    proposals_made: int
    final_state: str | None
    summary: str
