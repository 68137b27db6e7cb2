"""The expression language: what it evaluates, what it refuses, and how it treats missing data."""

from __future__ import annotations

import pytest

from bot.runbooks.expr import (
    ExprError,
    compile_expr,
    param_expressions,
    render_template,
    resolve_params,
)

EVIDENCE = {
    "exists": True,
    "config_update": "IN_PROGRESS",
    "update_minutes": 25.0,
    "served_versions": ["3", "4"],
    "agent": {"status": "down", "use_fallback": False},
    "counts": {"auth": 0, "rate_limit": 4},
}
NAMES = {"evidence": EVIDENCE, "target": "sentiment-endpoint", "trigger": {}, "facts": {"v": "4"}}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("evidence.config_update == 'IN_PROGRESS' and evidence.update_minutes > 15", True),
        ("evidence.update_minutes > 30", False),
        ("evidence.agent.use_fallback == False", True),
        ("evidence.counts.rate_limit > 0", True),
        ("evidence.counts['rate_limit'] + 1", 5),
        ("facts.v in evidence.served_versions", True),
        ("'5' not in evidence.served_versions", True),
        ("len(evidence.served_versions)", 2),
        ("max(evidence.served_versions)", "4"),
        ("evidence.served_versions[-1]", "4"),
        ("evidence.served_versions[7]", None),
        ("'Medium' if evidence.exists else 'Small'", "Medium"),
        ("lower('READY')", "ready"),
        ("round(2.456, 1)", 2.5),
        ("abs(-3)", 3),
        ("{target: 10, facts.v: 90}", {"sentiment-endpoint": 10, "4": 90}),
        ("[facts.v] if facts.v is not None else []", ["4"]),
        ("1 < evidence.update_minutes < 30", True),
    ],
)
def test_evaluates_the_documented_subset(source: str, expected: object) -> None:
    assert compile_expr(source).evaluate(NAMES) == expected


@pytest.mark.parametrize(
    "source",
    [
        "evidence.latency_p95_ms > 1000",
        "evidence.latency_p95_ms <= 1000",
        "evidence.missing.deeper > 1",
        "'x' in evidence.missing",
        "'x' not in evidence.missing",
        "evidence.config_update > 3",  # str vs int: false, not an exception
    ],
)
def test_missing_or_ill_typed_data_makes_comparisons_false(source: str) -> None:
    assert compile_expr(source).evaluate(NAMES) is False


def test_missing_data_propagates_as_none() -> None:
    assert compile_expr("evidence.nothing").evaluate(NAMES) is None
    assert compile_expr("evidence.nothing + 1").evaluate(NAMES) is None
    assert compile_expr("evidence.update_minutes / 0").evaluate(NAMES) is None
    assert compile_expr("len(evidence.nothing)").evaluate(NAMES) is None
    assert compile_expr("max(evidence.nothing, 3)").evaluate(NAMES) == 3
    assert compile_expr("evidence.nothing is None").evaluate(NAMES) is True
    # Attribute access never reaches Python attributes of non-dict values.
    assert compile_expr("target.upper").evaluate(NAMES) is None


@pytest.mark.parametrize(
    ("source", "piece"),
    [
        ("evidence.__class__", "evidence.__class__"),
        ("evidence._private", "evidence._private"),
        ("__import__('os')", "__import__"),
        ("open('/etc/passwd')", "open"),
        ("evidence.keys()", "evidence.keys"),
        ("(lambda: 1)()", "lambda: 1"),
        ("[x for x in evidence.served_versions]", "[x for x in evidence.served_versions]"),
        ("{x: 1 for x in 'ab'}", "{x: 1 for x in 'ab'}"),
        ("os", "os"),
        ("len(*evidence.served_versions)", "len(*evidence.served_versions)"),
        ("round(1.5, ndigits=1)", "round(1.5, ndigits=1)"),
        ("evidence.served_versions[0:1]", "evidence.served_versions[0:1]"),
        ("2 ** 10", "2 ** 10"),
        ("1 << 2", "1 << 2"),
        ("~1", "~1"),
        ("evidence.x is 3", "evidence.x is 3"),
        ("{**evidence}", "{**evidence}"),
        ("(y := 1)", "y := 1"),
        ("f'{target}'", "f'{target}'"),
    ],
)
def test_refuses_everything_outside_the_subset(source: str, piece: str) -> None:
    with pytest.raises(ExprError) as info:
        compile_expr(source)
    assert info.value.piece == piece
    assert piece in str(info.value)


def test_syntax_errors_name_the_expression() -> None:
    with pytest.raises(ExprError, match="syntax error"):
        compile_expr("evidence.exists ==")


def test_string_repetition_is_not_a_way_to_allocate_memory() -> None:
    # '*' is allowed for numbers only; data cannot size a result.
    assert compile_expr("target * 3").evaluate(NAMES) is None


def test_paths_and_names_for_lint() -> None:
    expr = compile_expr("evidence.agent.status == 'ok' and facts.v in evidence.served_versions[0]")
    assert expr.names_used() == {"evidence", "facts"}
    assert expr.paths() == {
        ("evidence", "agent", "status"),
        ("facts", "v"),
        ("evidence", "served_versions"),
    }


def test_render_template_fills_placeholders_and_leaves_other_braces() -> None:
    text = "Endpoint {target} was deleted by {facts.who} {facts.minutes} min ago {not valid}."
    out = render_template(text, {"target": "ep", "facts": {"minutes": 35.0}})
    assert out == "Endpoint ep was deleted by unknown 35 min ago {not valid}."
    assert render_template("{facts.list}", {"facts": {"list": ["a", "b"]}}) == "a, b"


def test_resolve_params_evaluates_only_prefixed_strings() -> None:
    params = {"endpoint": "=target", "routes": "={facts.v: 100}", "size": "Small", "n": [1, "=1+1"]}
    assert resolve_params(params, NAMES) == {
        "endpoint": "sentiment-endpoint",
        "routes": {"4": 100},
        "size": "Small",
        "n": [1, 2],
    }
    assert dict(param_expressions(params)) == {
        "params.endpoint": "target",
        "params.routes": "{facts.v: 100}",
        "params.n[1]": "1+1",
    }
