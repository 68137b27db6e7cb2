"""Lint catches each class of problem on small broken runbooks, against a small tool catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from bot.commands.runbooks import app
from bot.runbooks.lint import LintFinding, lint_dir
from tools.platform import Platform
from tools.spec import Finding, ToolSpec


class EndpointParams(BaseModel):
    endpoint: str


class Entity(BaseModel):
    name: str
    workload_size: str


class StatusEvidence(BaseModel):
    exists: bool
    ready: str | None = None
    primary: Entity | None = None
    tags: dict[str, str] = {}


class ScaleParams(BaseModel):
    endpoint: str
    workload_size: str
    dry_run: bool = True
    idempotency_key: str


class MutationEvidence(BaseModel):
    applied: bool


async def _never_called(platform: Platform, params: object) -> Finding:
    raise AssertionError("lint never runs tools")


TOOLS = {
    "endpoint_status": ToolSpec(
        "endpoint_status", "read", "status", EndpointParams, StatusEvidence, _never_called
    ),
    "scale_endpoint": ToolSpec(
        "scale_endpoint", "mutate", "scale", ScaleParams, MutationEvidence, _never_called
    ),
}

CLEAN = """
id: tiny
title: Tiny
source: seed.txt
applies_to: endpoint
entry: status
nodes:
  status:
    kind: check
    tool: endpoint_status
    params: {endpoint: "=target"}
    record:
      size: evidence.primary.workload_size
    branches:
      - when: "evidence.exists == False"
        goto: gone
      - when: "evidence.ready != 'READY' and evidence.tags.team == 'ml'"
        goto: small
    otherwise: advise
    on_no_data: page
  gone:
    kind: diagnosis
    id: endpoint.gone
    title: Gone
    explain: "{target} is gone (size {facts.size})"
    remedies: [page]
  small:
    kind: diagnosis
    id: latency.small
    title: Too small
    remedies: [scale, page]
  scale:
    kind: action
    title: Scale up
    tool: scale_endpoint
    params: {endpoint: "=target", workload_size: Large}
    verify: check_ready
  check_ready:
    kind: check
    tool: endpoint_status
    params: {endpoint: "=target"}
    branches:
      - when: "evidence.ready == 'READY'"
        goto: recovered
    otherwise: not_recovered
    on_no_data: not_recovered
  advise:
    kind: advice
    title: Nothing found
    instructions: "All good for {target}."
  page:
    kind: escalate
    to: platform-admin
    reason: "cannot read {target}"
"""


def lint_text(tmp_path: Path, text: str, extra: str | None = None) -> list[LintFinding]:
    (tmp_path / "tiny.yaml").write_text(text, encoding="utf-8")
    if extra is not None:
        (tmp_path / "other.yaml").write_text(extra, encoding="utf-8")
    return lint_dir(tmp_path, TOOLS)


def test_the_clean_fixture_is_clean(tmp_path: Path) -> None:
    assert lint_text(tmp_path, CLEAN) == []


@pytest.mark.parametrize(
    ("old", "new", "node", "field", "message"),
    [
        # unreachable node
        (
            "  page:\n",
            "  orphan:\n    kind: escalate\n    to: x\n    reason: y\n  page:\n",
            "orphan",
            "",
            "unreachable from entry 'status'",
        ),
        # unknown goto target
        (
            "        goto: gone\n",
            "        goto: gnoe\n",
            "status",
            "branches[0].goto",
            "unknown node 'gnoe'",
        ),
        (
            "    remedies: [page]\n",
            "    remedies: [pgae]\n",
            "gone",
            "remedies[0]",
            "unknown node 'pgae'",
        ),
        ("entry: status", "entry: start", "", "entry", "entry 'start' is not a node"),
        # unknown tool, wrong tool kind
        (
            "    tool: scale_endpoint\n",
            "    tool: resize\n",
            "scale",
            "tool",
            "unknown tool 'resize'",
        ),
        (
            "    tool: scale_endpoint\n",
            "    tool: endpoint_status\n",
            "scale",
            "tool",
            "an action needs a mutate tool",
        ),
        (
            "  check_ready:\n    kind: check\n    tool: endpoint_status\n",
            "  check_ready:\n    kind: check\n    tool: scale_endpoint\n",
            "check_ready",
            "tool",
            "a check (or verify) needs a read tool",
        ),
        # params the tool does not take / requires
        (
            "workload_size: Large}",
            "workload_size: Large, size: 3}",
            "scale",
            "params.size",
            "takes no parameter 'size'",
        ),
        (
            '    params: {endpoint: "=target", workload_size: Large}\n',
            '    params: {endpoint: "=target"}\n',
            "scale",
            "params.workload_size",
            "requires parameter",
        ),
        (
            "workload_size: Large}",
            'workload_size: "=evidence.size"}',
            "scale",
            "params.workload_size",
            "evidence is not available here",
        ),
        # predicates that do not compile or read fields the evidence does not have
        (
            "evidence.exists == False",
            "evidence.exists = False",
            "status",
            "branches[0].when",
            "does not compile",
        ),
        (
            "evidence.exists == False",
            "evidence.exsits == False",
            "status",
            "branches[0].when",
            "StatusEvidence has no field 'exsits'",
        ),
        (
            "evidence.primary.workload_size",
            "evidence.primary.size",
            "status",
            "record.size",
            "Entity has no field 'size'",
        ),
        (
            "evidence.exists == False",
            "evidence.exists.__class__",
            "status",
            "branches[0].when",
            "does not compile",
        ),
        # facts nobody records, placeholders that do not compile
        (
            "(size {facts.size})",
            "(size {facts.sise})",
            "gone",
            "explain",
            "fact 'sise' is never recorded",
        ),
        (
            "All good for {target}.",
            "All good for {evidence.exists}.",
            "advise",
            "instructions",
            "only target, trigger and facts",
        ),
        # diagnosis without remedies, check without on_no_data
        ("    remedies: [scale, page]\n", "", "small", "remedies", "needs at least one remedy"),
        ("    on_no_data: page\n", "", "status", "on_no_data", "a check needs on_no_data"),
        # link kinds and outcomes
        ("    verify: check_ready\n", "    verify: page\n", "scale", "verify", "expected check"),
        (
            "    remedies: [page]\n",
            "    remedies: [status]\n",
            "gone",
            "remedies[0]",
            "expected action/advice/escalate",
        ),
        (
            "    otherwise: advise\n",
            "    otherwise: recovered\n",
            "status",
            "otherwise",
            "only ends a verify check",
        ),
    ],
)
def test_each_class_of_problem_is_reported(
    tmp_path: Path, old: str, new: str, node: str, field: str, message: str
) -> None:
    assert old in CLEAN, old
    findings = lint_text(tmp_path, CLEAN.replace(old, new, 1))
    matching = [f for f in findings if f.node == node and f.field == field and message in f.message]
    assert matching, findings
    assert all(f.file.endswith("tiny.yaml") for f in matching)


def test_duplicate_diagnosis_ids_across_runbooks(tmp_path: Path) -> None:
    other = CLEAN.replace("id: tiny", "id: other", 1).replace(
        "id: latency.small", "id: latency.other"
    )
    findings = lint_text(tmp_path, CLEAN, other)
    assert [(f.file.rsplit("/", 1)[-1], f.node, f.field) for f in findings] == [
        ("tiny.yaml", "gone", "id")
    ]
    assert "'endpoint.gone' also at other:gone" in findings[0].message


def test_a_load_error_is_a_finding(tmp_path: Path) -> None:
    findings = lint_text(tmp_path, CLEAN.replace("    to: platform-admin\n", ""))
    assert [(f.node, f.field) for f in findings] == [("page", "to")]


def test_cli_lint_exit_codes_and_output(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "tiny.yaml").write_text(
        CLEAN.replace("        goto: gone\n", "        goto: gnoe\n", 1)
    )
    result = runner.invoke(app, ["lint", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "node=status" in result.output and "unknown node 'gnoe'" in result.output


def test_cli_show_lists_and_draws(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "tiny.yaml").write_text(CLEAN)
    listing = runner.invoke(app, ["show", "--dir", str(tmp_path)])
    assert listing.exit_code == 0 and "tiny" in listing.output
    tree = runner.invoke(app, ["show", "tiny", "--dir", str(tmp_path)])
    assert tree.exit_code == 0
    for text in ("endpoint.gone", "latency.small", "tool=scale_endpoint", "recovered", "no data"):
        assert text in tree.output
    missing = runner.invoke(app, ["show", "nope", "--dir", str(tmp_path)])
    assert missing.exit_code == 1
