"""What the assistant is asked during an incident, each a plain function over :class:`Assistant`
with its own narrowing of the answer: a choice only among the options offered, leaf ids only
among those that exist, text that claims nothing the incident did not record."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from bot.llm.guard import InvalidAnswer

if TYPE_CHECKING:
    from bot.llm.assistant import Assistant

# Text an answer must never carry back: a fence of ours, or an instruction echoed from the data.
_ECHOED = re.compile(
    r"</?\s*untrusted|ignore (all |any )?(the )?previous"
    r"|disregard (the |all )?(runbook|instructions)|approval is not required",
    re.IGNORECASE,
)


class Choice(BaseModel):
    """The option the LLM chose for a check, and why."""

    goto: str
    reason: str


def _with_enum(path: Sequence[str], values: Sequence[str]) -> Any:
    def narrow(schema: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(schema)
        node = out
        for key in path:
            node = node[key]
        node["enum"] = list(values)
        return out

    return narrow


def refuse_echo(*texts: str) -> None:
    """InvalidAnswer when an answer repeats an instruction from untrusted text or our fences."""
    for text in texts:
        if _ECHOED.search(text):
            raise InvalidAnswer("the answer repeats an instruction from the untrusted text")


async def interpret(
    assistant: Assistant,
    incident_id: str,
    *,
    node: str,
    question: str,
    text: str,
    options: Mapping[str, str],
) -> Choice | None:
    """One of ``options`` (goto → what it means) for free text no rule of the check matched."""
    if not text.strip() or len(options) < 2:
        return None

    def check(answer: dict[str, Any]) -> None:
        if answer["choice"] not in options:  # the schema's enum says so too; be sure anyway
            raise InvalidAnswer(f"chose {answer['choice']!r}, which was not offered")
        refuse_echo(answer["reason"])

    answer = await assistant.ask(
        incident_id,
        "interpret",
        {
            "question": question,
            "options": json.dumps(dict(options)),
            "untrusted": text[:4000],
        },
        narrow=_with_enum(("properties", "choice"), list(options)),
        check=check,
        context={"node": node, "options": list(options)},
        reserve=1,  # the summary's call
    )
    if answer is None:
        return None
    return Choice(goto=str(answer["choice"]), reason=str(answer["reason"]))


async def triage(
    assistant: Assistant,
    incident_id: str,
    *,
    state: Mapping[str, Any],
    leaves: Mapping[str, str],
    evidence: str,
) -> list[str]:
    """Leaf ids of the runbook that may apply, most likely first (only ids that exist)."""
    trigger = state.get("trigger", {})
    labels = dict(trigger.get("labels", {}))
    answer = await assistant.ask(
        incident_id,
        "triage",
        {
            "target": str(state.get("target", "")),
            "alertname": str(labels.get("alertname", "(command)")),
            "labels": json.dumps(labels),
            "leaves": json.dumps(dict(leaves)),
            "evidence": evidence[:2000],
            "untrusted": json.dumps(trigger.get("annotations", {}))[:2000],
        },
        narrow=_with_enum(("properties", "ranked", "items"), list(leaves)),
        check=lambda a: refuse_echo(a["reason"]),
        # Reading only: asked once, and only while the budget keeps a call for a free-text
        # reading and one for the summary.
        retry=False,
        reserve=2,
    )
    return [str(x) for x in answer["ranked"]] if answer else []


def _evidence_lines(state: Mapping[str, Any]) -> str:
    lines = [
        f"{s.get('node')}: {s.get('summary')} -> {s.get('branch')}"
        for s in state.get("steps", [])
        if s.get("kind") == "check"
    ]
    return "\n".join(lines)[-3000:]


async def summarise(assistant: Assistant, state: Mapping[str, Any]) -> str | None:
    """The incident's summary and the why of each proposal, citing the evidence; None keeps the
    deterministic summary. The summary must name the target and echo no instruction."""
    target = str(state.get("target", ""))
    actions = list(state.get("actions", []))
    ids = [str(a.get("proposal_id")) for a in actions]

    def check(answer: dict[str, Any]) -> None:
        if target and target.lower() not in answer["summary"].lower():
            raise InvalidAnswer("the summary does not name the target")
        refuse_echo(answer["summary"], *(w["why"] for w in answer["why"]))

    answer = await assistant.ask(
        str(state["incident_id"]),
        "summarise",
        {
            "target": target,
            "final_state": str(state.get("final_state", "")),
            "diagnoses": json.dumps(
                [
                    {"id": d["id"], "explanation": d.get("explanation")}
                    for d in state.get("diagnoses", [])
                ]
            ),
            "actions": json.dumps(
                [
                    {
                        k: a.get(k)
                        for k in (
                            "proposal_id",
                            "tool",
                            "params",
                            "decision",
                            "executed",
                            "verified",
                        )
                    }
                    for a in actions
                ],
                default=str,
            ),
            "advice": json.dumps(state.get("advice", [])),
            "escalation": json.dumps(state.get("escalation")),
            "evidence": _evidence_lines(state),
            "untrusted": json.dumps(state.get("trigger", {}).get("annotations", {}))[:2000],
        },
        narrow=_with_enum(("properties", "why", "items", "properties", "proposal_id"), ids or [""]),
        check=check,
    )
    if answer is None:
        return None
    tools = {str(a.get("proposal_id")): str(a.get("tool")) for a in actions}
    why = [
        f"Why {tools[w['proposal_id']]}: {w['why']}"
        for w in answer["why"]
        if w["proposal_id"] in tools
    ]
    return "\n".join([answer["summary"], *why])
