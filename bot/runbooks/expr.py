"""A small, safe expression language for runbook predicates, facts and parameters.

Expressions are parsed with :mod:`ast`, checked against a whitelist of node types at compile time,
and evaluated by walking the tree here: nothing is ever passed to ``eval``. Evidence comes from
tools and may be missing or partial, so evaluation never raises: attribute access on a dict is a key
lookup, a missing key is ``None``, ordering comparisons and ``in`` with ``None`` are false, and
arithmetic on ``None`` (or on values of the wrong type) is ``None``. A predicate over absent data is
therefore false, and the check's ``on_no_data`` / ``otherwise`` branch decides what happens.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# The names an expression may read (see docs/runbook-format.md).
NAMES = frozenset({"evidence", "target", "trigger", "facts"})
MAX_SOURCE_CHARS = 2000
# Strings starting with this are expressions in ``params``.
PARAM_PREFIX = "="


class ExprError(ValueError):
    """An expression that is not in the allowed subset; names the offending piece."""

    def __init__(self, source: str, piece: str, message: str) -> None:
        super().__init__(f"{message}: {piece!r} in {source!r}")
        self.source = source
        self.piece = piece
        self.message = message


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _len(value: object) -> object:
    return len(value) if isinstance(value, str | Sequence | Mapping) else None


def _any(value: object) -> object:
    return any(value) if isinstance(value, Iterable) and not isinstance(value, str) else None


def _all(value: object) -> object:
    return all(value) if isinstance(value, Iterable) and not isinstance(value, str) else None


def _extreme(pick: Callable[[list[Any]], Any]) -> Callable[..., object]:
    def apply(*args: object) -> object:
        items: Iterable[object] = args
        if len(args) == 1 and isinstance(args[0], Iterable) and not isinstance(args[0], str):
            items = args[0]
        present = [v for v in items if v is not None]
        if not present:
            return None
        try:
            return pick(present)
        except TypeError:
            return None

    return apply


def _abs(value: object) -> object:
    return abs(value) if _number(value) else None  # type: ignore[arg-type]


def _round(value: object, digits: object = 0) -> object:
    if not _number(value) or not isinstance(digits, int) or isinstance(digits, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return value
    return round(value, digits)  # type: ignore[call-overload]


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else None


FUNCTIONS: dict[str, Callable[..., object]] = {
    "len": _len,
    "any": _any,
    "all": _all,
    "min": _extreme(min),
    "max": _extreme(max),
    "abs": _abs,
    "round": _round,
    "lower": _lower,
}

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
    ast.IfExp,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Subscript,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.Call,
)


@dataclass(frozen=True)
class Expr:
    """A compiled expression: evaluate it against names, or ask which names and paths it reads."""

    source: str
    tree: ast.Expression

    def evaluate(self, names: Mapping[str, object]) -> object:
        """The value of the expression; never raises for missing or ill-typed data."""
        return _Evaluator(names).eval(self.tree.body)

    def truth(self, names: Mapping[str, object]) -> bool:
        """The expression as a predicate."""
        return bool(self.evaluate(names))

    def names_used(self) -> frozenset[str]:
        """The root names read (``evidence``, ``facts``, ``target``, ``trigger``)."""
        return frozenset(
            n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name) and n.id in NAMES
        )

    def paths(self) -> frozenset[tuple[str, ...]]:
        """Attribute paths read, such as ``("evidence", "agent", "status")``. A path stops at a
        subscript, whose keys are data rather than fields."""
        found: set[tuple[str, ...]] = set()
        for node in ast.walk(self.tree):
            path = _attribute_path(node)
            if path is not None and len(path) > 1:
                found.add(path)
        # Keep only the longest path of each chain: ("evidence", "a") is implied by (.., "a", "b").
        return frozenset(p for p in found if not any(q != p and q[: len(p)] == p for q in found))


def _attribute_path(node: ast.AST) -> tuple[str, ...] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in NAMES:
        return (node.id, *reversed(parts))
    return None


@lru_cache(maxsize=4096)
def compile_expr(source: str) -> Expr:
    """Parse and check ``source``; raise :class:`ExprError` naming the first piece not allowed."""
    if not isinstance(source, str):
        raise ExprError(str(source), str(source), "an expression must be a string")
    text = source.strip()
    if not text:
        raise ExprError(source, source, "empty expression")
    if len(text) > MAX_SOURCE_CHARS:
        raise ExprError(source, text[:40] + "…", f"expression longer than {MAX_SOURCE_CHARS} chars")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExprError(source, exc.text or text, f"syntax error ({exc.msg})") from None
    for node in ast.walk(tree):
        _check_node(text, node)
    return Expr(text, tree)


def _piece(text: str, node: ast.AST) -> str:
    return ast.get_source_segment(text, node) or type(node).__name__


def _check_node(text: str, node: ast.AST) -> None:
    # Operators have no source position of their own: name the whole operation instead.
    ops: list[ast.AST] = []
    if isinstance(node, ast.BinOp | ast.UnaryOp | ast.BoolOp):
        ops = [node.op]
    elif isinstance(node, ast.Compare):
        ops = list(node.ops)
    for op in ops:
        if not isinstance(op, _ALLOWED_NODES):
            raise ExprError(
                text, _piece(text, node), f"operator {type(op).__name__} is not allowed"
            )
    if not isinstance(node, _ALLOWED_NODES):
        raise ExprError(text, _piece(text, node), f"{type(node).__name__} is not allowed")
    if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        raise ExprError(text, _piece(text, node), "attributes starting with '_' are not allowed")
    if isinstance(node, ast.Constant) and not (
        node.value is None or isinstance(node.value, str | int | float | bool)
    ):
        raise ExprError(text, _piece(text, node), "only str, number, bool and None literals")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise ExprError(
                text,
                _piece(text, node.func),
                f"only these functions may be called: {', '.join(sorted(FUNCTIONS))}",
            )
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise ExprError(text, _piece(text, node), "keyword or starred arguments not allowed")
    if isinstance(node, ast.Name) and node.id not in NAMES and node.id not in FUNCTIONS:
        raise ExprError(
            text, node.id, f"unknown name (expressions read only {', '.join(sorted(NAMES))})"
        )
    if isinstance(node, ast.Compare):
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot) and not (
                isinstance(right, ast.Constant) and right.value is None
            ):
                raise ExprError(text, _piece(text, node), "'is' / 'is not' only with None")
    if isinstance(node, ast.Dict) and any(k is None for k in node.keys):
        raise ExprError(text, _piece(text, node), "'**' in dict literals is not allowed")
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        raise ExprError(text, _piece(text, node), "slices are not allowed")


class _Evaluator:
    def __init__(self, names: Mapping[str, object]) -> None:
        self.names = names

    def eval(self, node: ast.expr) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise TypeError(f"{node.id} can only be called")  # ruled out by compile_expr
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute):
            return _lookup(self.eval(node.value), node.attr)
        if isinstance(node, ast.Subscript):
            return _lookup(self.eval(node.value), self.eval(node.slice))
        if isinstance(node, ast.BoolOp):
            return self._bool_op(node)
        if isinstance(node, ast.UnaryOp):
            return _unary(node.op, self.eval(node.operand))
        if isinstance(node, ast.BinOp):
            return _binary(node.op, self.eval(node.left), self.eval(node.right))
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            return FUNCTIONS[node.func.id](*(self.eval(a) for a in node.args))
        if isinstance(node, ast.List | ast.Tuple):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.Dict):
            out: dict[Any, object] = {}
            for k, v in zip(node.keys, node.values, strict=True):
                assert k is not None
                key = self.eval(k)
                if key is not None and isinstance(key, str | int | float | bool):
                    out[key] = self.eval(v)
            return out
        raise TypeError(f"{type(node).__name__} escaped compile_expr")

    def _bool_op(self, node: ast.BoolOp) -> object:
        value: object = None
        for operand in node.values:
            value = self.eval(operand)
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def _compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.eval(right_node)
            if not _compare_one(op, left, right):
                return False
            left = right
        return True


def _lookup(container: object, key: object) -> object:
    if isinstance(container, Mapping):
        try:
            return container.get(key)
        except TypeError:  # unhashable key
            return None
    if isinstance(container, list | tuple) and isinstance(key, int) and not isinstance(key, bool):
        return container[key] if -len(container) <= key < len(container) else None
    return None


def _unary(op: ast.unaryop, value: object) -> object:
    if isinstance(op, ast.Not):
        return not value
    if not _number(value):
        return None
    return -value if isinstance(op, ast.USub) else value  # type: ignore[operator]


def _binary(op: ast.operator, left: object, right: object) -> object:
    if left is None or right is None:
        return None
    # Only numbers, and + on str/list: repetition ('x' * n) would let data size the result.
    if isinstance(op, ast.Add) and isinstance(left, str) and isinstance(right, str):
        return left + right
    if isinstance(op, ast.Add) and isinstance(left, list) and isinstance(right, list):
        return left + right
    if not (_number(left) and _number(right)):
        return None
    a: float = left  # type: ignore[assignment]
    b: float = right  # type: ignore[assignment]
    try:
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Div):
            return a / b
        if isinstance(op, ast.FloorDiv):
            return a // b
        if isinstance(op, ast.Mod):
            return a % b
    except (ZeroDivisionError, OverflowError):
        return None
    return None


def _compare_one(op: ast.cmpop, left: object, right: object) -> bool:
    if isinstance(op, ast.Eq):
        return left == right
    if isinstance(op, ast.NotEq):
        return left != right
    if isinstance(op, ast.Is):
        return left is None
    if isinstance(op, ast.IsNot):
        return left is not None
    if left is None or right is None:
        return False  # no data is not "less than" or "in" anything
    try:
        if isinstance(op, ast.Lt):
            return bool(left < right)  # type: ignore[operator]
        if isinstance(op, ast.LtE):
            return bool(left <= right)  # type: ignore[operator]
        if isinstance(op, ast.Gt):
            return bool(left > right)  # type: ignore[operator]
        if isinstance(op, ast.GtE):
            return bool(left >= right)  # type: ignore[operator]
        if isinstance(op, ast.In):
            return bool(left in right)  # type: ignore[operator]
        if isinstance(op, ast.NotIn):
            return bool(left not in right)  # type: ignore[operator]
    except TypeError:
        return False
    return False


# Placeholders in explain / instructions: {target}, {facts.x}, {facts.routes['a']}.
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*(?:\[[^\[\]{}]*\])*)\}")


def placeholders(text: str) -> Iterator[tuple[str, Expr | ExprError]]:
    """Each ``{...}`` placeholder of ``text`` with its compiled expression (or why it does not
    compile), for lint and rendering."""
    for match in _PLACEHOLDER.finditer(text):
        try:
            yield match.group(0), compile_expr(match.group(1))
        except ExprError as exc:
            yield match.group(0), exc


def format_value(value: object) -> str:
    """How a value reads in a message: no data is ``unknown``, floats are short."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value) or "none"
    return str(value)


def render_template(text: str, names: Mapping[str, object]) -> str:
    """Fill ``{expr}`` placeholders in ``text``; one that does not compile is left as written."""

    def fill(match: re.Match[str]) -> str:
        try:
            expr = compile_expr(match.group(1))
        except ExprError:
            return match.group(0)
        return format_value(expr.evaluate(names))

    return _PLACEHOLDER.sub(fill, text)


def param_expressions(params: object, path: str = "params") -> Iterator[tuple[str, str]]:
    """Every ``"=expr"`` string in a params structure with its path, e.g. ``params.routes``."""
    if isinstance(params, str) and params.startswith(PARAM_PREFIX):
        yield path, params[len(PARAM_PREFIX) :]
    elif isinstance(params, Mapping):
        for key, value in params.items():
            yield from param_expressions(value, f"{path}.{key}")
    elif isinstance(params, list):
        for i, value in enumerate(params):
            yield from param_expressions(value, f"{path}[{i}]")


def resolve_params(params: object, names: Mapping[str, object]) -> Any:
    """``params`` with every ``"=expr"`` string replaced by its value (nested dicts and lists too).

    Raises :class:`ExprError` for an expression that does not compile."""
    if isinstance(params, str) and params.startswith(PARAM_PREFIX):
        return compile_expr(params[len(PARAM_PREFIX) :]).evaluate(names)
    if isinstance(params, Mapping):
        return {key: resolve_params(value, names) for key, value in params.items()}
    if isinstance(params, list):
        return [resolve_params(value, names) for value in params]
    return params
