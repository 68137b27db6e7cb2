"""The incident graph (LangGraph): the nodes of ``bot.agent.nodes``, wired.

    open → select_runbook → walk ⟲ → plan → propose → approval → decide → execute → verify
         → plan … → finish

Rules that keep it safe (STYLE.md, point 5):
- ``approval`` holds only ``interrupt(...)``; nodes re-run from their first line on resume, so
  nothing before the interrupt may have effects.
- Each side effect sits in its own node after the approval, keyed by the idempotency key,
  recorded in the ledger before and after the call: a process killed mid-execution resumes into
  ``execute``, finds the ledger row and never applies twice.
- The decision that comes back from the interrupt is untrusted: only its proposal id, decision and
  actor are used, and the change itself is read back from the server's own proposal record.

Steps stream to the caller: run the compiled graph with ``stream_mode="custom"`` (alongside any
other mode) and each step arrives as ``{"type": "step", **StepEvent}`` (``bot.agent.events``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from langgraph.graph import END, START, StateGraph

from bot.agent.deps import AgentDeps
from bot.agent.nodes.approval import approval
from bot.agent.nodes.decide import after_decide, decide
from bot.agent.nodes.execute import after_execute, execute
from bot.agent.nodes.finish import finish
from bot.agent.nodes.open import open_incident
from bot.agent.nodes.plan import after_plan, plan
from bot.agent.nodes.propose import after_propose, propose
from bot.agent.nodes.select import after_select, select
from bot.agent.nodes.verify import verify
from bot.agent.nodes.walk import after_walk, walk_one
from bot.agent.state import IncidentState

Node = Callable[[IncidentState, AgentDeps], Awaitable[IncidentState]]


class BoundNode(Protocol):
    """A node as LangGraph calls it: the state alone (by name or position)."""

    def __call__(self, state: IncidentState) -> Awaitable[IncidentState]: ...


def _bind(node: Node, deps: AgentDeps) -> BoundNode:
    """``node`` with its dependencies supplied: what LangGraph calls with the state alone."""

    async def run(state: IncidentState) -> IncidentState:
        return await node(state, deps)

    run.__name__ = run.__qualname__ = node.__name__
    return run


def build_graph(deps: AgentDeps) -> StateGraph[IncidentState]:
    """The incident graph over ``deps`` (clients, store, runbooks); compile it with a
    checkpointer."""
    graph: StateGraph[IncidentState] = StateGraph(IncidentState)
    nodes: dict[str, Node] = {
        "open": open_incident,
        "select_runbook": select,
        "walk": walk_one,
        "plan": plan,
        "propose": propose,
        "approval": approval,
        "decide": decide,
        "execute": execute,
        "verify": verify,
        "finish": finish,
    }
    for name, node in nodes.items():
        graph.add_node(name, _bind(node, deps))
    graph.add_edge(START, "open")
    graph.add_edge("open", "select_runbook")
    graph.add_conditional_edges("select_runbook", after_select, ["walk", "finish"])
    graph.add_conditional_edges("walk", after_walk, ["walk", "plan", "finish"])
    graph.add_conditional_edges("plan", after_plan, ["propose", "finish"])
    graph.add_conditional_edges("propose", after_propose, ["approval", "plan"])
    graph.add_edge("approval", "decide")
    graph.add_conditional_edges("decide", after_decide, ["execute", "approval", "plan"])
    graph.add_conditional_edges("execute", after_execute, ["verify", "plan"])
    graph.add_edge("verify", "plan")
    graph.add_edge("finish", END)
    return graph
