"""Attacks on the webhook parser: any JSON value in any field, mixed batches, status spellings.

Alertmanager drops a delivery answered with 4xx and the bot answers 4xx only for
``WebhookError``, so an exception escaping the parser, or a bad alert refusing its neighbours,
would silently lose real alerts. Each property below is checked on a few hundred generated
payloads per run; the named cases are the payloads that broke the previous parser.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.triggers import WebhookBatch, WebhookError, parse_webhook
from bot.triggers.alertmanager import TARGET_LABELS, validate_target

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Every JSON value, including what Python's json module reads from "1e999" and "NaN".
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        ["firing", "resolved", "Resolved", "resolved ", "", "\x00", "\ud800", "1e999"]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
ALERT_FIELDS = (
    "status",
    "labels",
    "annotations",
    "startsAt",
    "endsAt",
    "generatorURL",
    "fingerprint",
)
ENVELOPE_FIELDS = (
    "version",
    "groupKey",
    "truncatedAlerts",
    "status",
    "receiver",
    "groupLabels",
    "commonLabels",
    "commonAnnotations",
    "externalURL",
)
label_maps = st.dictionaries(
    st.sampled_from([*TARGET_LABELS, "alertname", "x"]), json_values, max_size=4
)
alert_like = st.fixed_dictionaries(
    {},
    optional={
        **{name: json_values for name in ALERT_FIELDS},
        "labels": label_maps | json_values,
    },
)
envelopes = st.fixed_dictionaries({}, optional={name: json_values for name in ENVELOPE_FIELDS})


def _refused(name: str) -> bool:
    try:
        validate_target(name, field="x")
    except ValueError:
        return True
    return False


# Names the target validator refuses: spaces, shell and terminal characters, too long, empty.
bad_names = st.sampled_from(
    ["a b", "bad;name", "x\x1b[31m", "x\nfinal    resolved", "-lead", "x" * 201, "../../etc"]
) | st.text(min_size=1, max_size=8).filter(_refused)
good_names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,30}\Z")
firing_spellings = st.sampled_from(
    ["firing", "Firing", "FIRING", " firing", "firing\n", "\tFiRiNg "]
)
resolved_spellings = st.sampled_from(
    ["resolved", "Resolved", "RESOLVED", "resolved ", " resolved", "\nResolved\t"]
)


@st.composite
def valid_alerts(draw: st.DrawFn, number: int) -> tuple[dict[str, Any], str]:
    """A firing alert that must open an incident, and the target it must name.

    Target labels ranked above the valid one may carry malformed names: they must not hide it.
    """
    rank = draw(st.integers(0, len(TARGET_LABELS) - 1))
    target = draw(good_names)
    labels: dict[str, Any] = {"alertname": draw(st.text(max_size=10)), TARGET_LABELS[rank]: target}
    for above in TARGET_LABELS[:rank]:
        if draw(st.booleans()):
            labels[above] = draw(bad_names)
    alert: dict[str, Any] = {
        "status": draw(firing_spellings),
        "labels": labels,
        "fingerprint": f"valid-{number:010d}",
    }
    for name in ("annotations", "startsAt", "endsAt", "generatorURL"):
        if draw(st.booleans()):
            alert[name] = draw(json_values)
    return alert, target


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [t for v in value for t in _strings(v)]
    return []


def assert_accounts_for_every_alert(payload: dict[str, Any]) -> WebhookBatch:
    """The parser's contract on one payload: it refuses only a payload without an alert list,
    and otherwise every alert ends up exactly once as a trigger, a resolved or a rejected one,
    in a batch that can be stored (no NUL, no lone surrogate)."""
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        with pytest.raises(WebhookError):
            parse_webhook(payload)
        return WebhookBatch(version="", group_key="", status="")
    batch = parse_webhook(payload)
    assert len(batch.triggers) + len(batch.resolved) + len(batch.rejected) == len(alerts)
    for text in _strings(batch.model_dump(mode="json")):
        assert "\x00" not in text
        text.encode()  # no lone surrogate: the text can be written to a UTF-8 column
    for item in batch.triggers:
        assert item.dedupe_key.endswith("|firing")
    assert batch.truncated_alerts >= 0
    return batch


@FUZZ
@given(envelope=envelopes, alerts=st.lists(alert_like | json_values, max_size=5) | json_values)
def test_no_json_value_in_any_field_raises(envelope: dict[str, Any], alerts: Any) -> None:
    assert_accounts_for_every_alert({**envelope, "alerts": alerts})


@FUZZ
@given(value=json_values)
def test_any_top_level_value_is_refused_with_a_webhook_error_only(value: Any) -> None:
    if isinstance(value, dict):
        value.pop("alerts", None)
    with pytest.raises(WebhookError):
        parse_webhook(value)


@settings(FUZZ, max_examples=150)
@given(data=st.data(), envelope=envelopes, count=st.integers(1, 4))
def test_every_valid_alert_of_a_mixed_batch_is_kept(
    data: st.DataObject, envelope: dict[str, Any], count: int
) -> None:
    # Common labels would legitimately name a target of their own for every alert; the envelope
    # fuzzes every other field.
    envelope.pop("commonLabels", None)
    valid = [data.draw(valid_alerts(i)) for i in range(count)]
    alerts: list[Any] = []
    for alert, _ in valid:
        alerts += data.draw(st.lists(alert_like | json_values, max_size=2))
        alerts.append(alert)
    alerts += data.draw(st.lists(alert_like | json_values, max_size=2))
    batch = assert_accounts_for_every_alert({**envelope, "alerts": alerts})
    kept = {t.trigger.fingerprint: t.trigger.target for t in batch.triggers}
    for number, (_, target) in enumerate(valid):
        assert kept.get(f"valid-{number:010d}") == target


@FUZZ
@given(spelling=resolved_spellings, batch_status=firing_spellings | resolved_spellings)
def test_no_spelling_of_resolved_opens_an_incident(spelling: str, batch_status: str) -> None:
    alert = {"status": spelling, "labels": {"alertname": "X", "endpoint": "fraud-scorer"}}
    batch = parse_webhook({"status": batch_status, "alerts": [alert]})
    assert batch.triggers == []
    assert [r.target for r in batch.resolved] == ["fraud-scorer"]
    assert batch.resolved[0].dedupe_key.endswith("|resolved")


@FUZZ
@given(spelling=firing_spellings)
def test_every_spelling_of_firing_opens_one_incident_with_one_dedupe_key(spelling: str) -> None:
    alert = {"status": spelling, "labels": {"endpoint": "fraud-scorer"}, "fingerprint": "f1"}
    batch = parse_webhook({"groupKey": "g", "alerts": [alert]})
    assert [t.dedupe_key for t in batch.triggers] == ["g|f1|firing"]


# ---------------------------------------------------------------- the payloads that broke it


def _delivery(raw: str) -> Any:
    """A delivery as the webhook receives it: JSON text, read with Python's json module."""
    return json.loads(raw)


def test_an_overflowing_truncated_count_keeps_the_batch() -> None:
    batch = parse_webhook(
        _delivery(
            '{"truncatedAlerts": 1e999, "status": "firing",'
            ' "alerts": [{"status": "firing", "labels": {"endpoint": "fraud-scorer"}}]}'
        )
    )
    assert batch.truncated_alerts == 0
    assert [t.trigger.target for t in batch.triggers] == ["fraud-scorer"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("NaN", 0), ("-1e999", 0), ("-3", 0), ('"12"', 12), ("7.9", 7), ("true", 0), ('"x"', 0)],
)
def test_truncated_count_is_a_non_negative_integer(raw: str, expected: int) -> None:
    batch = parse_webhook(_delivery(f'{{"truncatedAlerts": {raw}, "alerts": []}}'))
    assert batch.truncated_alerts == expected


@pytest.mark.parametrize("status", ["Resolved", "resolved ", "RESOLVED", "\tresolved\n"])
def test_resolved_in_any_case_or_padding_never_opens_an_incident(status: str) -> None:
    alert = {"status": status, "labels": {"endpoint": "fraud-scorer"}, "fingerprint": "f1"}
    batch = parse_webhook({"groupKey": "g", "status": "firing", "alerts": [alert]})
    assert batch.triggers == []
    assert [r.dedupe_key for r in batch.resolved] == ["g|f1|resolved"]


@pytest.mark.parametrize("status", ["pending", "fire", "resolvedd", "inactive"])
def test_an_unknown_status_is_refused_not_guessed(status: str) -> None:
    alert = {"status": status, "labels": {"endpoint": "fraud-scorer"}}
    batch = parse_webhook({"status": "firing", "alerts": [alert]})
    assert batch.triggers == [] and batch.resolved == []
    assert "alerts[0].status" in batch.rejected[0].reason


def test_a_batch_status_spelt_resolved_covers_alerts_without_their_own() -> None:
    alert = {"labels": {"endpoint": "fraud-scorer"}}
    batch = parse_webhook({"status": " Resolved", "alerts": [alert]})
    assert batch.status == "resolved"
    assert batch.triggers == [] and len(batch.resolved) == 1


def test_a_malformed_endpoint_label_does_not_hide_a_valid_agent_label() -> None:
    labels = {"alertname": "X", "endpoint": "bad name; rm -rf", "agent": "qa_agent"}
    batch = parse_webhook({"alerts": [{"status": "firing", "labels": labels}]})
    assert [t.trigger.target for t in batch.triggers] == ["qa_agent"]


def test_when_no_target_label_is_valid_every_problem_is_named() -> None:
    labels = {"endpoint": "a b", "agent": "c;d"}
    batch = parse_webhook({"alerts": [{"status": "firing", "labels": labels}]})
    reason = batch.rejected[0].reason
    assert "alerts[0].labels.endpoint" in reason and "alerts[0].labels.agent" in reason


def test_nul_and_lone_surrogates_become_storable_text() -> None:
    raw = (
        '{"alerts": [{"status": "firing", "labels": {"endpoint": "fraud-scorer",'
        ' "team": "ml\\u0000ops"}, "annotations": {"summary": "bad \\ud800 text"}}]}'
    )
    trigger = parse_webhook(_delivery(raw)).triggers[0].trigger
    assert trigger.labels["team"] == "mlops"
    assert trigger.annotations["summary"] == "bad \ufffd text"
    json.dumps(trigger.model_dump(mode="json"), ensure_ascii=False).encode()


@pytest.mark.parametrize(
    "field",
    ["fingerprint", "startsAt", "generatorURL", "annotations", "groupKey", "receiver", "version"],
)
@pytest.mark.parametrize("value", [1e999, float("nan"), 10**50, [1, {"a": None}], True, None])
def test_odd_values_in_text_fields_are_coerced(field: str, value: Any) -> None:
    alert: dict[str, Any] = {"status": "firing", "labels": {"endpoint": "fraud-scorer"}}
    payload: dict[str, Any] = {"alerts": [alert]}
    (payload if field in ENVELOPE_FIELDS else alert)[field] = value
    batch = parse_webhook(payload)
    assert [t.trigger.target for t in batch.triggers] == ["fraud-scorer"]
