"""Parsing behind the serving read-only tools: ai_query SQL, did-you-mean, answers, audit events."""

from __future__ import annotations

from tools.clients.databricks import AuditEvent, EndpointConfig, Invocation
from tools.readonly.events import summarise_events
from tools.readonly.pipelines import (
    ReturnField,
    is_same_or_misspelled,
    parse_ai_query_calls,
    parse_struct_type,
)
from tools.readonly.serving import Signature, did_you_mean, read_invocation

SQL = """
CREATE OR REFRESH MATERIALIZED VIEW v AS
SELECT id,
  ai_query(
    'sentiment-endpoint',
    named_struct('text', review_text, 'lang', coalesce(lang, 'en')),
    returnType => 'STRUCT<label: STRING, score: DOUBLE>',
    failOnError => false
  ) AS r,
  AI_QUERY('churn-scorer', struct(customer_id, tenure AS tenure_months)) AS c
FROM t -- ai_query is not called in this comment's parentheses: (
"""


def test_ai_query_calls_name_the_endpoint_request_fields_and_return_type() -> None:
    first, second = parse_ai_query_calls(SQL)
    assert first.endpoint_called == "sentiment-endpoint"
    assert first.request_fields == ["text", "lang"]
    assert first.return_fields == [
        ReturnField(name="label", type="string"),
        ReturnField(name="score", type="double"),
    ]
    assert first.fail_on_error is False
    assert second.endpoint_called == "churn-scorer"
    assert second.request_fields == ["customer_id", "tenure_months"]
    assert second.return_fields == []
    assert second.fail_on_error is True


def test_named_endpoint_and_request_arguments() -> None:
    sql = (
        "SELECT ai_query(endpoint => 'e1', request => named_struct('q', x), "
        "returnType => 'a STRING')"
    )
    (call,) = parse_ai_query_calls(sql)
    assert (call.endpoint_called, call.request_fields) == ("e1", ["q"])
    assert call.return_fields == [ReturnField(name="a", type="string")]


def test_struct_types_with_nesting_keep_their_top_level_fields() -> None:
    fields = parse_struct_type(
        "STRUCT<label: STRING, scores: ARRAY<DOUBLE>, meta: MAP<STRING, INT>>"
    )
    assert [f.name for f in fields] == ["label", "scores", "meta"]
    assert fields[2].type == "map<string, int>"


def test_misspellings_match_but_other_endpoints_do_not() -> None:
    assert is_same_or_misspelled("sentiment-endpoint", "sentiment-endpoint")
    assert is_same_or_misspelled("sentimnet-endpoint", "sentiment-endpoint")
    assert is_same_or_misspelled("sentiment_endpoint", "sentiment-endpoint")
    assert not is_same_or_misspelled("churn-scorer", "sentiment-endpoint")


def test_did_you_mean_puts_the_closest_name_first() -> None:
    names = ["churn-scorer", "sentiment-endpoint", "sentiment-endpoint-v2"]
    assert did_you_mean("sentimnet-endpoint", names)[0] == "sentiment-endpoint"
    assert did_you_mean("SENTIMENT-ENDPOINT", names)[0] == "sentiment-endpoint"
    assert did_you_mean("fraud", names) == []


SIGNATURE = Signature(
    model="m",
    version="1",
    inputs=[ReturnField(name="text", type="string")],
    required_inputs=["text"],
    outputs=[ReturnField(name="label", type="string"), ReturnField(name="score", type="string")],
)


def test_answers_with_varying_keys_and_floats_are_described() -> None:
    answer = Invocation(
        http_status=200,
        body={
            "predictions": [
                {"label": "positive", "score": 0.93},
                {"sentiment": "negative", "confidence": "0.2"},
                None,
            ]
        },
    )
    evidence = read_invocation(answer, SIGNATURE, {})
    assert evidence.predictions_count == 3
    assert evidence.null_fraction == round(1 / 3, 3)
    assert evidence.keys_consistent is False
    assert evidence.output_keys == ["confidence", "label", "score", "sentiment"]
    assert evidence.non_string_fields == ["score"]


def test_all_null_answers_have_null_fraction_one() -> None:
    answer = Invocation(http_status=200, body={"predictions": [{"label": None}, None]})
    evidence = read_invocation(answer, SIGNATURE, {})
    assert evidence.null_fraction == 1.0
    assert evidence.non_string_fields == []


NOW = 1_700_000_000_000
CONFIG = EndpointConfig.model_validate(
    {"served_entities": [{"name": "m-3", "entity_name": "c.s.m", "entity_version": "3"}]}
)


def event(minutes_ago: float, type_: str, **kw: object) -> AuditEvent:
    return AuditEvent.model_validate(
        {"timestamp": NOW - int(minutes_ago * 60000), "type": type_, "resource": "ep", **kw}
    )


def test_a_deletion_after_the_last_creation_means_deleted() -> None:
    events = [
        event(600, "endpoint_created"),
        event(30, "endpoint_deleted", actor="bob@example.com", config=CONFIG.model_dump()),
        event(300, "endpoint_updated"),
    ]
    evidence = summarise_events(events, NOW)
    assert evidence.deleted and evidence.deleted_by == "bob@example.com"
    assert evidence.deleted_minutes_ago == 30
    assert evidence.last_config is not None
    assert evidence.last_config["served_entities"][0]["entity_version"] == "3"
    assert evidence.recent_deploy_minutes_ago == 300
    assert evidence.created_ever
    assert [e.minutes_ago for e in evidence.events] == [30, 300, 600]


def test_recreated_after_deletion_is_not_deleted() -> None:
    events = [event(30, "endpoint_deleted"), event(10, "endpoint_created")]
    evidence = summarise_events(events, NOW)
    assert not evidence.deleted
    assert evidence.deleted_by is None


def test_no_events_means_never_created_in_the_window() -> None:
    evidence = summarise_events([], NOW)
    assert not evidence.created_ever and not evidence.deleted and evidence.last_config is None
