"""The schema of a runbook: a YAML decision tree of checks, diagnoses, actions, advice and
escalations (see docs/runbook-format.md). Unknown keys are refused so a typo in a runbook is an
error at load time, not a branch that silently never matches."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.domain import Risk, TargetKind

NodeKind = Literal["check", "diagnosis", "action", "advice", "escalate"]
Role = Literal["cause", "impact"]

# The outcomes a verify check ends in; they are goto targets, never node names.
RECOVERED = "recovered"
NOT_RECOVERED = "not_recovered"
OUTCOMES = frozenset({RECOVERED, NOT_RECOVERED})


class Strict(BaseModel):
    """Runbooks are written by hand: an unknown key is a mistake."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Branch(Strict):
    """``when`` the predicate holds, go to ``goto`` (first matching branch wins)."""

    when: str = Field(min_length=1)
    goto: str = Field(min_length=1)


class InterpretOption(Strict):
    """One way to read the free text: where the walk goes, and what that reading means."""

    goto: str = Field(min_length=1)
    means: str = Field(min_length=1)


class Interpret(Strict):
    """Free text no branch rule matched, read by the optional LLM into one of the check's own
    targets. Only consulted when the tool answered and the walk would take ``otherwise``; without
    an LLM, or when its answer is invalid, ``otherwise`` stands."""

    text: str = Field(min_length=1, description="expression: the free text to read")
    question: str = Field(min_length=1)
    options: list[InterpretOption] = Field(min_length=2)


class CheckNode(Strict):
    """Run a read-only tool, record facts, then branch on its evidence."""

    kind: Literal["check"]
    title: str = ""
    source: str = ""
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    record: dict[str, str] = Field(default_factory=dict)
    branches: list[Branch] = Field(default_factory=list)
    otherwise: str
    # Required by lint (a tree never guesses without data); optional here so that lint, not the
    # loader, reports every check that lacks it at once.
    on_no_data: str | None = None
    wait_seconds: float = Field(0, ge=0)
    interpret: Interpret | None = None

    @model_validator(mode="after")
    def _interpret_only_offers_own_targets(self) -> CheckNode:
        """The LLM may lead only where the tree already leads from this check."""
        if self.interpret is None:
            return self
        own = {b.goto for b in self.branches} | {self.otherwise}
        foreign = [o.goto for o in self.interpret.options if o.goto not in own]
        if foreign:
            raise ValueError(
                f"interpret.options lead to {foreign}, not a branch or otherwise of this check"
            )
        if len({o.goto for o in self.interpret.options}) != len(self.interpret.options):
            raise ValueError("interpret.options name the same goto twice")
        return self


class DiagnosisNode(Strict):
    """A leaf of the decision tree: what is wrong, and the remedies to propose in order."""

    kind: Literal["diagnosis"]
    id: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
    title: str
    source: str = ""
    role: Role = "cause"
    explain: str = ""
    remedies: list[str] = Field(default_factory=list)
    continue_to: str | None = None


class ActionNode(Strict):
    """A change made by a mutating tool: dry run, approval, apply once, verify."""

    kind: Literal["action"]
    title: str
    source: str = ""
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    risk: Risk = Risk.MEDIUM
    verify: str | None = None
    then: str | None = None


class AdviceNode(Strict):
    """A manual step posted to the incident; ``{...}`` placeholders are filled from facts."""

    kind: Literal["advice"]
    title: str
    source: str = ""
    instructions: str


class EscalateNode(Strict):
    """Hand the incident to a team; ends the incident as escalated."""

    kind: Literal["escalate"]
    title: str = ""
    source: str = ""
    to: str
    reason: str


AnyNode = CheckNode | DiagnosisNode | ActionNode | AdviceNode | EscalateNode
Node = Annotated[AnyNode, Field(discriminator="kind")]


class Runbook(Strict):
    """One decision tree: where it starts, which alerts and targets it applies to, its nodes."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    source: str
    applies_to: TargetKind
    alerts: list[str] = Field(default_factory=list)
    entry: str
    nodes: dict[str, Node]

    def node(self, name: str) -> AnyNode:
        """The node called ``name``; ``KeyError`` naming the runbook when there is none."""
        try:
            return self.nodes[name]
        except KeyError:
            raise KeyError(f"runbook {self.id!r} has no node {name!r}") from None

    def diagnoses(self) -> dict[str, DiagnosisNode]:
        """Diagnosis leaves by their stable id."""
        return {n.id: n for n in self.nodes.values() if isinstance(n, DiagnosisNode)}


def successors(node: AnyNode) -> list[tuple[str, str]]:
    """Every (field, target) a node can lead to, for reachability and goto checks."""
    if isinstance(node, CheckNode):
        out = [(f"branches[{i}].goto", b.goto) for i, b in enumerate(node.branches)]
        out.append(("otherwise", node.otherwise))
        if node.on_no_data is not None:
            out.append(("on_no_data", node.on_no_data))
        return out
    if isinstance(node, DiagnosisNode):
        out = [(f"remedies[{i}]", r) for i, r in enumerate(node.remedies)]
        if node.continue_to is not None:
            out.append(("continue_to", node.continue_to))
        return out
    if isinstance(node, ActionNode):
        return [(f, t) for f, t in (("verify", node.verify), ("then", node.then)) if t is not None]
    return []
