"""The scenario format: one YAML file per scenario, validated by these pydantic models.

``evals/schema.json`` is generated from :class:`Scenario` (``python -m evals.schema``) so that
people outside the team can write scenarios with editor completion. The ``expected`` block is read
by the scorer only: the runner never hands it to the agent.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from sandbox.world import World

Category = Literal[
    "leaf",
    "distractor",
    "multi_fault",
    "no_fault",
    "escalation",
    "injection",
    "tool_failure",
    "approval",
]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]

# How the simulated on-call answers a proposal:
#   approve       an authorised approver approves
#   reject        an authorised approver rejects
#   expire        nobody answers before the proposal expires
#   unauthorised  someone outside the approver list approves first (must be refused), then an
#                 authorised approver approves
#   crash_resume  the process dies while waiting; a new runner resumes from the checkpointer and an
#                 authorised approver approves there
ApprovalMode = Literal["approve", "reject", "expire", "unauthorised", "crash_resume"]


class Strict(BaseModel):
    """Scenarios are written by hand: an unknown key is a mistake, not something to ignore."""

    model_config = ConfigDict(extra="forbid")


class CommandTrigger(Strict):
    """``/model-incident <target>`` typed by a person."""

    command: str = Field(pattern=r"^/model-incident\s+\S+\s*$")


class AlertmanagerTrigger(Strict):
    """An Alertmanager webhook payload (version 4), delivered as is."""

    alertmanager: dict[str, Any]


class FaultRef(Strict):
    """A fault of the sandbox's catalogue (``sandbox/faults.py``) applied to one target."""

    id: str
    target: str


class ApprovalPlan(Strict):
    """How proposals are answered: ``default`` for all, ``proposals`` by index (0 = the first)."""

    default: ApprovalMode = "approve"
    proposals: dict[int, ApprovalMode] = Field(default_factory=dict)

    def mode_for(self, index: int) -> ApprovalMode:
        return self.proposals.get(index, self.default)


class ExpectedAction(Strict):
    """An acceptable action: the tool, and the parameters that must match (a subset)."""

    tool: str
    params: dict[str, Any] = Field(default_factory=dict)


class Expected(Strict):
    """The right answer. Never shown to the agent."""

    root_causes: list[str | list[str]] = Field(
        default_factory=list,
        description="diagnosis leaf ids that are causes; an item that is a list means any one of "
        "these causes (the seeds allow several readings of the same evidence)",
    )
    impacted: list[str] = Field(
        default_factory=list, description="leaf ids that are consequences, not causes"
    )
    acceptable_actions: list[ExpectedAction] = Field(default_factory=list)
    acceptable_advice: list[str] = Field(
        default_factory=list,
        description="advice nodes (runbook node names) that are a right answer instead of a "
        "change: with acceptable_actions, 'this advice or this change'",
    )
    forbidden_actions: list[str] = Field(
        default_factory=list, description="tool names that must never be proposed"
    )
    escalate: bool = False
    evidence: list[str] = Field(
        default_factory=list, description="strings the explanation must cite (case-insensitive)"
    )

    @property
    def cause_groups(self) -> list[list[str]]:
        """Each expected cause as the list of ids that satisfy it."""
        return [[c] if isinstance(c, str) else list(c) for c in self.root_causes]

    @property
    def cause_ids(self) -> list[str]:
        """Every id that counts as a right root cause (the groups flattened, in order)."""
        return list(dict.fromkeys(c for group in self.cause_groups for c in group))


def _world_spec_model() -> type[BaseModel]:
    """``World``'s fields, all optional, plus ``base``, ``faults`` and ``patch``.

    Built from ``World.model_fields`` so that a field the sandbox adds is accepted here at once.
    """
    fields: dict[str, Any] = {
        name: (info.annotation | None, Field(None, description=info.description))
        for name, info in World.model_fields.items()
    }
    fields["base"] = (
        Literal["default", "empty"],
        Field("empty", description="the world to start from"),
    )
    fields["faults"] = (
        list[FaultRef],
        Field(default_factory=list, description="applied in order after the explicit fields"),
    )
    fields["patch"] = (
        dict[str, Any] | None,
        Field(None, description="World fields merged last, after the faults"),
    )
    return create_model(  # type: ignore[call-overload,no-any-return]
        "WorldSpec",
        __base__=Strict,
        __doc__="A sandbox World: base, then explicit fields merged by name, faults, then patch.",
        **fields,
    )


WorldSpec = _world_spec_model()


class Scenario(Strict):
    """One eval scenario."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    category: Category
    notes: str = ""
    trigger: CommandTrigger | AlertmanagerTrigger
    world: WorldSpec  # type: ignore[valid-type]
    approval: ApprovalPlan | ApprovalMode = Field(
        default_factory=ApprovalPlan,
        description="a mode for every proposal, or {default, proposals: {index: mode}}",
    )
    expected: Expected

    @field_validator("approval", mode="before")
    @classmethod
    def _approval_shorthand(cls, value: Any) -> Any:
        # ``approval: reject`` is short for ``approval: {default: reject}``.
        return {"default": value} if isinstance(value, str) else value

    @property
    def plan(self) -> ApprovalPlan:
        """The approval plan (the validator has turned a bare mode into a plan)."""
        assert isinstance(self.approval, ApprovalPlan)
        return self.approval


# libyaml's loader when installed: scenario files are long, and the pure-Python one dominated the
# parent's validation pass.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ScenarioError(Exception):
    """A scenario file that cannot be used, with its path and the field at fault."""

    def __init__(self, path: Path | str, field: str, message: str) -> None:
        super().__init__(f"{path}: {field}: {message}")
        self.path = str(path)
        self.field = field
        self.message = message


def parse_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file. Raises :class:`ScenarioError` naming path and field."""
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, "(file)", f"cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(path, "(yaml)", str(exc).replace("\n", " ")) from None
    if not isinstance(doc, dict):
        raise ScenarioError(path, "(document)", "expected a mapping at the top level")
    try:
        return Scenario.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ScenarioError(path, _loc(err["loc"]), f"{err['msg']}{more}") from None


def _loc(loc: tuple[int | str, ...]) -> str:
    # Drop the union tags pydantic inserts (``CommandTrigger``) so the path reads like the file.
    parts = [str(p) for p in loc if not (isinstance(p, str) and re.match(r"^[A-Z]\w+$", p))]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or "(document)"
