"""Render runbooks for people: a rich Tree of one runbook, a table of all of them."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from bot.runbooks.loader import RunbookSet
from bot.runbooks.model import (
    OUTCOMES,
    ActionNode,
    AdviceNode,
    AnyNode,
    CheckNode,
    DiagnosisNode,
    EscalateNode,
    Runbook,
)

_STYLE = {
    "check": "cyan",
    "diagnosis": "bold red",
    "action": "bold yellow",
    "advice": "green",
    "escalate": "magenta",
}


def runbook_table(runbooks: RunbookSet) -> Table:
    """One row per runbook: id, target kind, alerts, size."""
    table = Table(title="Runbooks")
    for column in ("id", "title", "applies to", "alerts", "nodes", "diagnoses"):
        table.add_column(column)
    for runbook in runbooks:
        table.add_row(
            runbook.id,
            runbook.title,
            runbook.applies_to,
            ", ".join(runbook.alerts) or "-",
            str(len(runbook.nodes)),
            str(len(runbook.diagnoses())),
        )
    return table


def _label(name: str, node: AnyNode) -> str:
    style = _STYLE[node.kind]
    title = escape(node.title) if node.title else ""
    head = f"[{style}]{node.kind}[/] [bold]{escape(name)}[/]"
    if isinstance(node, DiagnosisNode):
        head = f"[{style}]diagnosis[/] [bold]{escape(node.id)}[/] ({node.role})"
    if isinstance(node, CheckNode | ActionNode):
        head += f" [dim]tool={escape(node.tool)}[/]"
    if isinstance(node, ActionNode):
        head += f" [dim]risk={node.risk}[/]"
    if isinstance(node, EscalateNode):
        head += f" → {escape(node.to)}"
    return f"{head} {title}".rstrip()


def runbook_tree(runbook: Runbook) -> Tree:
    """The decision tree from ``entry``; a node shown once is referenced, not repeated."""
    tree = Tree(f"[bold]{escape(runbook.id)}[/] {escape(runbook.title)} [dim]({runbook.source})[/]")
    shown: set[str] = set()
    _add(tree, runbook, runbook.entry, shown)
    return tree


def _add(parent: Tree, runbook: Runbook, name: str, shown: set[str], prefix: str = "") -> None:
    if name in OUTCOMES:
        parent.add(f"{prefix}[bold]{name}[/]")
        return
    node = runbook.nodes.get(name)
    if node is None:
        parent.add(f"{prefix}[red]unknown node {escape(name)}[/]")
        return
    if name in shown:
        parent.add(f"{prefix}[dim]↪ {escape(name)} (see above)[/]")
        return
    shown.add(name)
    branch = parent.add(prefix + _label(name, node))
    if isinstance(node, CheckNode):
        for b in node.branches:
            _add(branch, runbook, b.goto, shown, f"[dim]when {escape(b.when)} →[/] ")
        _add(branch, runbook, node.otherwise, shown, "[dim]otherwise →[/] ")
        if node.on_no_data:
            _add(branch, runbook, node.on_no_data, shown, "[dim]no data →[/] ")
    elif isinstance(node, DiagnosisNode):
        for i, remedy in enumerate(node.remedies, 1):
            _add(branch, runbook, remedy, shown, f"[dim]remedy {i} →[/] ")
        if node.continue_to:
            _add(branch, runbook, node.continue_to, shown, "[dim]continue →[/] ")
    elif isinstance(node, ActionNode):
        if node.verify:
            _add(branch, runbook, node.verify, shown, "[dim]verify →[/] ")
        if node.then:
            _add(branch, runbook, node.then, shown, "[dim]then →[/] ")
    elif isinstance(node, AdviceNode):
        branch.add(f"[dim]{escape(node.instructions.strip())}[/]")
