"""Runbooks as data: the schema, the loader, the safe expression language and lint."""

from bot.runbooks.expr import Expr, ExprError, compile_expr, render_template, resolve_params
from bot.runbooks.loader import LeafRef, RunbookError, RunbookSet, load_runbooks
from bot.runbooks.model import (
    NOT_RECOVERED,
    OUTCOMES,
    RECOVERED,
    ActionNode,
    AdviceNode,
    AnyNode,
    Branch,
    CheckNode,
    DiagnosisNode,
    EscalateNode,
    Runbook,
)

__all__ = [
    "NOT_RECOVERED",
    "OUTCOMES",
    "RECOVERED",
    "ActionNode",
    "AdviceNode",
    "AnyNode",
    "Branch",
    "CheckNode",
    "DiagnosisNode",
    "EscalateNode",
    "Expr",
    "ExprError",
    "LeafRef",
    "Runbook",
    "RunbookError",
    "RunbookSet",
    "compile_expr",
    "load_runbooks",
    "render_template",
    "resolve_params",
]
