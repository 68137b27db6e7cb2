"""Static checks of the runbooks against themselves and the tool catalogue.

Everything the walker would trip over at 3 a.m. is found here instead: unreachable nodes, unknown
goto targets, tools that do not exist or have the wrong kind, parameters a tool does not accept,
predicates that do not compile or read evidence fields the tool never returns, facts nobody records,
duplicate diagnosis ids, diagnoses without remedies and checks without ``on_no_data``."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from bot.runbooks.expr import ExprError, compile_expr, param_expressions, placeholders
from bot.runbooks.loader import RunbookError, RunbookSet, load_runbooks
from bot.runbooks.model import (
    OUTCOMES,
    ActionNode,
    AdviceNode,
    AnyNode,
    CheckNode,
    DiagnosisNode,
    EscalateNode,
    Runbook,
    successors,
)
from tools.spec import ToolSpec

# Parameters every mutating tool takes that the agent, not the runbook, fills in.
AGENT_PARAMS = frozenset({"dry_run", "idempotency_key"})


@dataclass(frozen=True, order=True)
class LintFinding:
    """One problem: where it is (file, node, field) and what is wrong."""

    file: str
    node: str
    field: str
    message: str

    def __str__(self) -> str:
        where = ":".join(p for p in (self.file, self.node, self.field) if p)
        return f"{where}: {self.message}"


def tool_catalogue() -> dict[str, ToolSpec]:
    """The registered tools. A tool package that fails to import is a broken build, not "no
    tools": the error propagates instead of turning every tool into an "unknown tool" finding."""
    from tools.catalog import catalogue

    return catalogue()


def lint_dir(
    directory: Path | str, tools: Mapping[str, ToolSpec] | None = None
) -> list[LintFinding]:
    """Load and lint every runbook in ``directory``; a load error is one finding."""
    try:
        runbooks = load_runbooks(directory)
    except RunbookError as exc:
        return [LintFinding(exc.file, exc.node or "", exc.field or "", exc.message)]
    return lint_runbooks(runbooks, tool_catalogue() if tools is None else tools)


def lint_runbooks(runbooks: RunbookSet, tools: Mapping[str, ToolSpec]) -> list[LintFinding]:
    """Every finding for a loaded set of runbooks, sorted by file and node."""
    findings: list[LintFinding] = []
    for runbook in runbooks:
        file = str(runbooks.files.get(runbook.id, runbook.id))
        findings += [LintFinding(file, n, f, m) for n, f, m in _lint_runbook(runbook, tools)]
    findings += _duplicate_diagnoses(runbooks)
    return sorted(set(findings))


def _duplicate_diagnoses(runbooks: RunbookSet) -> list[LintFinding]:
    """A diagnosis id belongs to one runbook. Within it, one cause may sit at several nodes with
    the same role when the evidence before them picks a different remedy list (a 401 with a valid
    key waiting is fixed by a restart; without one, a person must set the key first)."""
    seen: dict[str, str] = {}
    owner: dict[str, tuple[str, str]] = {}
    out: list[LintFinding] = []
    for ref in runbooks.leaves():
        where = f"{ref.runbook.id}:{ref.node_name}"
        if owner.get(ref.node.id) == (ref.runbook.id, ref.node.role):
            continue
        owner.setdefault(ref.node.id, (ref.runbook.id, ref.node.role))
        if ref.node.id in seen:
            file = str(runbooks.files.get(ref.runbook.id, ref.runbook.id))
            out.append(
                LintFinding(
                    file,
                    ref.node_name,
                    "id",
                    f"diagnosis id {ref.node.id!r} also at {seen[ref.node.id]}",
                )
            )
        else:
            seen[ref.node.id] = where
    return out


Problem = tuple[str, str, str]  # node, field, message


def _lint_runbook(runbook: Runbook, tools: Mapping[str, ToolSpec]) -> Iterator[Problem]:
    if runbook.entry not in runbook.nodes:
        yield "", "entry", f"entry {runbook.entry!r} is not a node"
    if not runbook.nodes:
        yield "", "nodes", "a runbook needs nodes"
    yield from _targets(runbook)
    yield from _reachability(runbook)
    recorded = {
        fact
        for node in runbook.nodes.values()
        if isinstance(node, CheckNode)
        for fact in node.record
    }
    for name, node in runbook.nodes.items():
        yield from ((name, f, m) for f, m in _lint_node(node, tools, recorded))


_KIND_NAMES: dict[type[BaseModel], str] = {
    CheckNode: "check",
    DiagnosisNode: "diagnosis",
    ActionNode: "action",
    AdviceNode: "advice",
    EscalateNode: "escalate",
}
# Which kinds of node each link may point to.
_LINK_KINDS: dict[str, tuple[type[BaseModel], ...]] = {
    "remedies": (ActionNode, AdviceNode, EscalateNode),
    "verify": (CheckNode,),
    "then": (ActionNode, AdviceNode, EscalateNode),
    "continue_to": (CheckNode, DiagnosisNode, AdviceNode),
}


def _targets(runbook: Runbook) -> Iterator[Problem]:
    verify_nodes = _verify_subgraph(runbook)
    for name, node in runbook.nodes.items():
        for field_name, target in successors(node):
            link = field_name.split("[", 1)[0]
            if target in OUTCOMES:
                if not isinstance(node, CheckNode) or name not in verify_nodes:
                    yield name, field_name, f"outcome {target!r} only ends a verify check"
                continue
            if target not in runbook.nodes:
                yield name, field_name, f"unknown node {target!r}"
                continue
            allowed = _LINK_KINDS.get(link)
            if allowed and not isinstance(runbook.nodes[target], allowed):
                kinds = "/".join(_KIND_NAMES[k] for k in allowed)
                yield (
                    name,
                    field_name,
                    (f"{target!r} is of kind {runbook.nodes[target].kind}, expected {kinds}"),
                )


def _verify_subgraph(runbook: Runbook) -> set[str]:
    """Checks reachable from an action's ``verify`` through check branches: they may end in
    outcomes."""
    todo = [n.verify for n in runbook.nodes.values() if isinstance(n, ActionNode) and n.verify]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        node = runbook.nodes.get(name)
        if name in seen or not isinstance(node, CheckNode):
            continue
        seen.add(name)
        todo += [t for _, t in successors(node)]
    return seen


def _reachability(runbook: Runbook) -> Iterator[Problem]:
    if runbook.entry not in runbook.nodes:
        return
    seen: set[str] = set()
    todo = [runbook.entry]
    while todo:
        name = todo.pop()
        if name in seen or name not in runbook.nodes:
            continue
        seen.add(name)
        todo += [t for _, t in successors(runbook.nodes[name])]
    for name in runbook.nodes:
        if name not in seen:
            yield name, "", f"unreachable from entry {runbook.entry!r}"


def _lint_node(
    node: AnyNode, tools: Mapping[str, ToolSpec], recorded: set[str]
) -> Iterator[tuple[str, str]]:
    if isinstance(node, CheckNode | ActionNode):
        spec = tools.get(node.tool)
        want = "read" if isinstance(node, CheckNode) else "mutate"
        if spec is None:
            yield "tool", f"unknown tool {node.tool!r}"
        elif spec.kind != want:
            role = "a check (or verify)" if want == "read" else "an action"
            yield "tool", f"{node.tool!r} is a {spec.kind} tool; {role} needs a {want} tool"
        yield from _lint_params(node.params, spec, recorded)
    if isinstance(node, CheckNode):
        if node.on_no_data is None:
            yield "on_no_data", "a check needs on_no_data (a tree never guesses without data)"
        evidence = tools[node.tool].evidence if node.tool in tools else None
        for i, branch in enumerate(node.branches):
            yield from _lint_expr(branch.when, f"branches[{i}].when", evidence, recorded)
        for fact, source in node.record.items():
            yield from _lint_expr(source, f"record.{fact}", evidence, recorded)
    if isinstance(node, DiagnosisNode):
        if node.role == "cause" and not node.remedies:
            yield "remedies", "a cause diagnosis needs at least one remedy"
        yield from _lint_template(node.explain, "explain", recorded)
    if isinstance(node, AdviceNode):
        yield from _lint_template(node.instructions, "instructions", recorded)
    if isinstance(node, EscalateNode):
        yield from _lint_template(node.reason, "reason", recorded)


def _lint_params(
    params: Mapping[str, object], spec: ToolSpec | None, recorded: set[str]
) -> Iterator[tuple[str, str]]:
    for path, source in param_expressions(params):
        # A tool's own evidence does not exist before the tool runs.
        yield from _lint_expr(source, path, None, recorded, evidence_allowed=False)
    if spec is None:
        return
    accepted = spec.params.model_fields
    for key in params:
        if key not in accepted:
            yield (
                f"params.{key}",
                f"{spec.name!r} takes no parameter {key!r} (takes {', '.join(accepted) or 'none'})",
            )
    for key, info in accepted.items():
        if info.is_required() and key not in params and key not in AGENT_PARAMS:
            yield f"params.{key}", f"{spec.name!r} requires parameter {key!r}"


def _lint_expr(
    source: str,
    where: str,
    evidence: type[BaseModel] | None,
    recorded: set[str],
    *,
    evidence_allowed: bool = True,
) -> Iterator[tuple[str, str]]:
    try:
        expr = compile_expr(source)
    except ExprError as exc:
        yield where, f"does not compile: {exc}"
        return
    for path in sorted(expr.paths()):
        yield from _lint_path(path, where, evidence, recorded)
    if not evidence_allowed and "evidence" in expr.names_used():
        yield where, "evidence is not available here (only target, trigger and facts)"


def _lint_path(
    path: tuple[str, ...], where: str, evidence: type[BaseModel] | None, recorded: set[str]
) -> Iterator[tuple[str, str]]:
    root, rest = path[0], path[1:]
    if root == "facts" and rest and rest[0] not in recorded:
        yield where, f"fact {rest[0]!r} is never recorded in this runbook"
    if root != "evidence" or evidence is None:
        return
    model: type[BaseModel] | None = evidence
    for depth, name in enumerate(rest):
        if model is None:
            return  # below a dict / list / scalar: keys are data, not fields
        if name not in model.model_fields:
            dotted = ".".join(path[: depth + 2])
            yield where, f"{dotted}: {model.__name__} has no field {name!r}"
            return
        model = _model_of(model.model_fields[name].annotation)


def _model_of(annotation: object) -> type[BaseModel] | None:
    """The pydantic model a field holds directly (``X`` or ``X | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(models) == 1:
            return _model_of(models[0])
    return None


def _lint_template(text: str, where: str, recorded: set[str]) -> Iterator[tuple[str, str]]:
    for piece, expr in placeholders(text):
        if isinstance(expr, ExprError):
            yield where, f"placeholder {piece} does not compile: {expr.message}"
            continue
        if "evidence" in expr.names_used():
            yield where, f"placeholder {piece}: only target, trigger and facts can be shown"
        for path in sorted(expr.paths()):
            yield from _lint_path(path, where, None, recorded)
