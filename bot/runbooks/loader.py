"""Load and validate the runbooks in a folder. Every error names the file, node and field."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.domain import TargetKind
from bot.runbooks.model import AnyNode, DiagnosisNode, Runbook
from bot.runbooks.thresholds import (
    THRESHOLDS_FILE,
    Thresholds,
    ThresholdsError,
    load_thresholds,
    substitute,
)

_NODE_KINDS = {"check", "diagnosis", "action", "advice", "escalate"}


class RunbookError(ValueError):
    """A runbook that cannot be loaded: where (file, node, field) and what is wrong."""

    def __init__(self, file: Path | str, node: str | None, field: str | None, message: str) -> None:
        where = str(file)
        if node:
            where += f" node {node!r}"
        if field:
            where += f" field {field!r}"
        super().__init__(f"{where}: {message}")
        self.file = str(file)
        self.node = node
        self.field = field
        self.message = message


# libyaml's parser when PyYAML has it (about ten times faster than the pure-Python one, which
# made parsing the runbooks a tenth of a CLI start); the constructor is the safe one either way.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc]
    """PyYAML keeps the last of two equal keys; in a runbook that silently drops a node."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    mapping: dict[Any, Any] = loader.construct_mapping(node)
    return mapping


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _split_location(loc: tuple[int | str, ...]) -> tuple[str | None, str | None]:
    """Turn a pydantic error location into (node, field); the union tag is not a field."""
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] == "nodes":
        node, rest = parts[1], parts[2:]
        if rest and rest[0] in _NODE_KINDS:
            rest = rest[1:]
        return node, ".".join(rest) or None
    return None, ".".join(parts) or None


def parse_runbook(text: str, file: Path | str) -> Runbook:
    """Validate one runbook's YAML text; raise :class:`RunbookError` at the first problem."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RunbookError(file, None, None, f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RunbookError(file, None, None, "a runbook is a mapping with id, title, nodes, ...")
    nodes = data.get("nodes")
    if isinstance(nodes, dict):
        for name, node in nodes.items():
            if not isinstance(node, dict) or node.get("kind") not in _NODE_KINDS:
                kind = node.get("kind") if isinstance(node, dict) else None
                raise RunbookError(
                    file, str(name), "kind", f"{kind!r} is not one of {sorted(_NODE_KINDS)}"
                )
    data = _with_thresholds(data, file)
    try:
        return Runbook.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        node, field_name = _split_location(err["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise RunbookError(file, node, field_name, f"{err['msg']}{more}") from None


def _with_thresholds(data: dict[str, Any], file: Path | str) -> dict[str, Any]:
    """Replace ``${name}`` by the thresholds file next to the runbook (bot/runbooks/thresholds)."""
    thresholds: Thresholds | None = None
    folder = Path(file).parent
    try:
        if Path(file).is_file():
            thresholds = load_thresholds(folder)
    except ThresholdsError as exc:
        raise RunbookError(file, None, None, str(exc)) from None
    try:
        result: dict[str, Any] = substitute(data, thresholds)
    except KeyError as exc:
        where, name = exc.args
        node, field_name = _split_location(tuple(where))
        known = ", ".join(sorted(thresholds.thresholds)) if thresholds else "none"
        raise RunbookError(
            file, node, field_name, f"unknown threshold ${{{name}}} (thresholds: {known})"
        ) from None
    return result


@dataclass(frozen=True)
class LeafRef:
    """Where a diagnosis leaf lives."""

    runbook: Runbook
    node_name: str
    node: DiagnosisNode


@dataclass
class RunbookSet:
    """All loaded runbooks, with the look-ups the agent and lint need."""

    runbooks: list[Runbook]
    files: dict[str, Path] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Runbook]:
        return iter(self.runbooks)

    def __len__(self) -> int:
        return len(self.runbooks)

    @property
    def by_id(self) -> dict[str, Runbook]:
        """Runbooks by id."""
        return {r.id: r for r in self.runbooks}

    def get(self, runbook_id: str) -> Runbook:
        """The runbook with this id; ``KeyError`` listing the known ones otherwise."""
        try:
            return self.by_id[runbook_id]
        except KeyError:
            known = ", ".join(sorted(self.by_id))
            raise KeyError(f"no runbook {runbook_id!r}; known: {known}") from None

    def leaves(self) -> Iterator[LeafRef]:
        """Every diagnosis leaf of every runbook."""
        for runbook in self.runbooks:
            for name, node in runbook.nodes.items():
                if isinstance(node, DiagnosisNode):
                    yield LeafRef(runbook, name, node)

    def leaf_ref(self, diagnosis_id: str) -> LeafRef:
        """The runbook and node of a diagnosis id; ``KeyError`` when there is none."""
        for ref in self.leaves():
            if ref.node.id == diagnosis_id:
                return ref
        raise KeyError(f"no diagnosis {diagnosis_id!r} in any runbook")

    def leaf(self, diagnosis_id: str) -> DiagnosisNode:
        """The diagnosis node with this stable id (e.g. ``endpoint.deleted``)."""
        return self.leaf_ref(diagnosis_id).node

    def diagnosis_ids(self) -> list[str]:
        """Every diagnosis id, in runbook order."""
        return [ref.node.id for ref in self.leaves()]

    def for_alert(self, alertname: str) -> Runbook | None:
        """The runbook whose ``alerts`` lists this Alertmanager alertname, if any."""
        return next((r for r in self.runbooks if alertname in r.alerts), None)

    def for_kind(self, kind: TargetKind | str) -> list[Runbook]:
        """The runbooks that apply to a target kind (``endpoint`` or ``agent``)."""
        return [r for r in self.runbooks if r.applies_to == kind]

    def node_of(self, runbook_id: str, node_name: str) -> AnyNode:
        """One node of one runbook."""
        return self.get(runbook_id).node(node_name)


def load_runbooks(directory: Path | str) -> RunbookSet:
    """Load every ``*.yaml`` runbook in ``directory`` (sorted by file name).

    Raises :class:`RunbookError` for a file that does not validate, two runbooks with the same id,
    or two runbooks claiming the same alert."""
    folder = Path(directory)
    if not folder.is_dir():
        raise RunbookError(folder, None, None, "runbook folder does not exist")
    runbooks: list[Runbook] = []
    files: dict[str, Path] = {}
    alerts: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == THRESHOLDS_FILE:
            continue  # the numbers the runbooks refer to, not a runbook
        runbook = parse_runbook(path.read_text(encoding="utf-8"), path)
        if runbook.id in files:
            raise RunbookError(path, None, "id", f"{runbook.id!r} also used by {files[runbook.id]}")
        for alert in runbook.alerts:
            if alert in alerts:
                raise RunbookError(
                    path, None, "alerts", f"{alert!r} already starts runbook {alerts[alert]!r}"
                )
            alerts[alert] = runbook.id
        runbooks.append(runbook)
        files[runbook.id] = path
    return RunbookSet(runbooks, files)


def default_runbook_dir() -> Path:
    """``runbooks/`` at the top of the repository."""
    return Path(__file__).resolve().parents[2] / "runbooks"
