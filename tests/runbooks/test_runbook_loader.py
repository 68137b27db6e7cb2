"""Loading runbooks: valid files load into look-ups; every error names file, node and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runbooks.loader import RunbookError, load_runbooks
from bot.runbooks.model import CheckNode, DiagnosisNode

VALID = """
id: tiny
title: Tiny
source: seed.txt
applies_to: endpoint
alerts: [TinyAlert]
entry: status
nodes:
  status:
    kind: check
    tool: endpoint_status
    params: {endpoint: "=target"}
    branches:
      - when: "evidence.exists == False"
        goto: gone
    otherwise: gone
    on_no_data: gone
  gone:
    kind: diagnosis
    id: endpoint.gone
    title: Gone
    remedies: [page]
  page:
    kind: escalate
    to: platform-admin
    reason: "{target} is gone"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_runbook_loads_with_lookups(tmp_path: Path) -> None:
    write(tmp_path, "tiny.yaml", VALID)
    runbooks = load_runbooks(tmp_path)
    assert list(runbooks.by_id) == ["tiny"]
    runbook = runbooks.get("tiny")
    assert isinstance(runbook.node("status"), CheckNode)
    assert runbooks.for_alert("TinyAlert") is runbook
    assert runbooks.for_alert("OtherAlert") is None
    assert runbooks.for_kind("endpoint") == [runbook]
    assert runbooks.for_kind("agent") == []
    leaf = runbooks.leaf("endpoint.gone")
    assert isinstance(leaf, DiagnosisNode) and leaf.remedies == ["page"]
    assert runbooks.leaf_ref("endpoint.gone").node_name == "gone"
    assert runbooks.files["tiny"] == tmp_path / "tiny.yaml"
    with pytest.raises(KeyError, match="no diagnosis"):
        runbooks.leaf("endpoint.unknown")


@pytest.mark.parametrize(
    ("old", "new", "node", "field", "message"),
    [
        (
            "    to: platform-admin\n",
            "    to: platform-admin\n    priority: 1\n",
            "page",
            "priority",
            "Extra inputs",
        ),
        ("    tool: endpoint_status\n", "", "status", "tool", "Field required"),
        ("    kind: escalate\n", "    kind: shout\n", "page", "kind", "'shout' is not one of"),
        ("    id: endpoint.gone\n", "    id: Gone Endpoint\n", "gone", "id", "String should match"),
        ("applies_to: endpoint", "applies_to: database", None, "applies_to", "Input should be"),
        ("    otherwise: gone\n", "    otherwise: [gone]\n", "status", "otherwise", "valid string"),
        (
            '      - when: "evidence.exists == False"\n        goto: gone\n',
            "      - goto: gone\n",
            "status",
            "branches.0.when",
            "Field required",
        ),
    ],
)
def test_errors_name_file_node_and_field(
    tmp_path: Path, old: str, new: str, node: str | None, field: str, message: str
) -> None:
    assert old in VALID
    path = write(tmp_path, "broken.yaml", VALID.replace(old, new, 1))
    with pytest.raises(RunbookError) as info:
        load_runbooks(tmp_path)
    err = info.value
    assert (err.file, err.node, err.field) == (str(path), node, field)
    assert message in err.message
    assert str(path) in str(err) and field in str(err)


def test_duplicate_node_names_are_an_error_not_a_silent_overwrite(tmp_path: Path) -> None:
    text = VALID + "  gone:\n    kind: escalate\n    to: x\n    reason: y\n"
    write(tmp_path, "dup.yaml", text)
    with pytest.raises(RunbookError, match="duplicate key 'gone'") as info:
        load_runbooks(tmp_path)
    assert info.value.file.endswith("dup.yaml")


def test_two_runbooks_with_one_id_or_one_alert(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "b.yaml", VALID)
    with pytest.raises(RunbookError) as info:
        load_runbooks(tmp_path)
    assert info.value.field == "id" and info.value.file.endswith("b.yaml")

    write(tmp_path, "b.yaml", VALID.replace("id: tiny", "id: other"))
    with pytest.raises(RunbookError, match="'TinyAlert' already starts runbook 'tiny'"):
        load_runbooks(tmp_path)


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    write(tmp_path, "x.yaml", "id: [unclosed\n")
    with pytest.raises(RunbookError, match="not valid YAML"):
        load_runbooks(tmp_path)
    write(tmp_path, "x.yaml", "- a list\n")
    with pytest.raises(RunbookError, match="a runbook is a mapping"):
        load_runbooks(tmp_path)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match="does not exist"):
        load_runbooks(tmp_path / "nope")
