"""The one redactor, pattern by pattern: each credential and piece of personal data is replaced,
and the near-misses an operator needs to read (versions, ids, hashes, counts) stay as they are."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.redact import REDACTED, REDACTION_MARK, is_secret_key, redact, redact_value

# Each secret is the part that must disappear; the text around it must survive.
SECRETS: list[tuple[str, str, str]] = [
    ("api_key", "DATABRICKS_TOKEN used {}", "dapi0123456789abcdef0123456789abcdef"),
    ("api_key", "token {} for the workspace", "dapi0123456789abcdef0123456789abcdef-2"),
    ("api_key", "slack said invalid_auth for {}", "xoxb-1234567890-0987654321-AbCdEfGhIjKl"),
    ("api_key", "user token {}", "xoxp-1234567890-0987654321-AbCdEfGhIjKl"),
    ("api_key", "socket mode with {}", "xapp-1-A0123456789-0123456789012-abcdef0123"),
    ("api_key", "openai key {} rejected", "sk-proj-Ab12Cd34Ef56Gh78Ij90"),
    ("api_key", "my key is {} pls help", "sk-live-9f8e7d6c5b4a39281706"),
    ("api_key", "stripe {} charged", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("api_key", "MISTRAL_API_KEY={}", "Qw3rTy7uIoP9aSdF2gHjK4lZ5xCvB6nM"),
    ("api_key", "MLFLOW_TRACKING_TOKEN={} set", "mlflow-0a1b2c3d4e5f"),
    ("password", "MLFLOW_TRACKING_PASSWORD={} set", "s3cr3t-Passw0rd"),
    ("api_key", "aws id {} in use", "AKIAIOSFODNN7EXAMPLE"),
    ("api_key", "aws_secret_access_key = {}", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("aws_secret", "exported secret {} to env", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("api_key", "gcp key {} used", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    ("api_key", "oauth {} expired", "ya29.a0AfH6SMBx1234567890abcdefghij"),
    ("api_key", "azure secret {} rotated", "abc8Q~abcdefghijklmnopqrstuvwxyz0123456"),
    ("api_key", "DefaultEndpointsProtocol=https;AccountKey={};", "bXlrZXk0MjQyNDI0Mg=="),
    ("api_key", "GET https://acct.blob.core.windows.net/c?sv=2022&sig={}", "AbC123%2Bdef%3D"),
    ("api_key", "posting to https://hooks.slack.com/{}", "services/T0001/B0001/XXXXXXXXXXXXXXXX"),
    ("api_key", "github {} pushed", "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
    ("bearer", "curl -H 'Authorization: Bearer {}' http://x", "abc.def-ghijklmnop"),
    ("bearer", "retrying with bearer {} now", "Zm9vYmFyYmF6cXV4MTIz"),
    ("basic_auth", "Authorization: Basic {}", "dXNlcjpwYXNzd29yZA=="),
    ("basic_auth", "proxy said basic {} was refused", "YWxpY2U6czNjcjN0"),
    ("api_key", '{{"authorization": "{}"}}', "Qw3rTy7uIoP9aSdF2gHjK4lZ"),
    ("cookie", "Cookie: {}", "session=abc123; csrftoken=xyz789"),
    ("password", "postgresql://svc:{}@db:5432/prod", "pa55word"),
    ("password", "MLFLOW_TRACKING_URI=https://admin:{}@mlflow.internal", "hunter2hunter2"),
    ("password", '{{"password": "{}"}}', "correct horse battery staple"),
    ("api_key", 'payload {{\\"token\\": \\"{}\\"}}', "abcd1234efgh"),
    ("jwt", "id_token={}", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJl"),
    ("jwt", "got {} from the idp", "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJpZHAifQ.sig_part-1"),
    (
        "private_key",
        "key file: {} end",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1x\n-----END RSA PRIVATE KEY-----",
    ),
    (
        "private_key",
        '{{"private_key": "{}"}}',
        "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0\\n-----END PRIVATE KEY-----",
    ),
    ("private_key", "truncated: {}", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk"),
    ("email", "contact me at {} please", "maria.rossi@example.com"),
    ("phone", "call {} after 5", "+44 20 7946 0958"),
    ("phone", "call {} now", "(415) 555-0100"),
    ("card", "charged twice on card {} today", "4111 1111 1111 1111"),
    ("card", "card {} declined", "5500-0000-0000-0004"),
    ("iban", "refund to {} please", "DE89 3704 0044 0532 0130 00"),
    ("iban", "iban {} on file", "GB82WEST12345698765432"),
    ("national_id", "ssn {} on the form", "123-45-6789"),
    ("national_id", "NI number {} given", "AB 12 34 56 C"),
    ("national_id", "codice fiscale {} in the ticket", "RSSMRA85T10A562S"),
    ("address", "ship to {} today", "742 Evergreen Terrace, Springfield, OR 97403"),
    ("address", "billing address {} on file", "12 Main St."),
    ("address", "livraison au {} demain", "12 rue de Rivoli"),
    ("address", "consegna in {} entro lunedì", "Via Roma 10"),
    ("address", "Lieferung an {}, Berlin", "Hauptstraße 5"),
    ("birth_date", "applicant dob {} verified", "1984-03-12"),
    ("birth_date", '{{"date_of_birth": "{}"}}', "12/03/1984"),
    ("birth_date", "born on {} in Leeds", "3 March 1990"),
    ("passport", "passport no: {} scanned", "X1234567"),
    ("passport", "driver's license {} expired", "D123-4567-8901"),
    ("person_name", '{{"customer_name": "{}", "tier": 2}}', "Jane Doe"),
    ("person_name", "patient name: {} admitted", "Ana Maria Lopez"),
    ("ip", "request from client {} rejected", "81.2.69.142"),
    ("ip", "client {} connected", "2001:4860:4860::8888"),
]

NEAR_MISSES = [
    "request timed out after 120000 ms",
    "answered 118 requests at 1732230000000",
    "order 1234567890123 shipped",  # 13 digits, no valid card number
    "deployed version 2025-10-15 12:30:45",
    "MistralAPIError: 401 Unauthorized",
    "serving main.ml.sentiment_classifier v4 (Medium)",
    "models:/main.ml.sentiment_classifier@champion",
    "run 9b1f1c8e-8a70-4b1e-9a57-3f1c8a0b2d11 finished",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b",
    "digest sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
    "max_tokens: 256, prompt_tokens=1200, completion_tokens: 40",
    "idempotency_key=inc-1:rollback_to_previous_champion:9f2c",
    "tokenizers==0.19.1 and torch 2.3.1",
    "version 1.2.3.4 released",
    "upstream 10.0.0.12:8080 and 192.168.1.5 answered",
    "GET http://34.120.1.9/api/2.0/serving-endpoints/fraud",
    "Bearer authentication failed",
    "Basic configuration loaded",
    "sk-learn-model is not a key",
    "token: none, password: ****, secret=null",
    "the api_key was rotated 5 minutes ago",
    "at 12:30:45 the p99 was 870 ms",
    "fe80::1 and ::1 are local",
    "Authorization failed for user U123",
    "pipeline ai_query(endpoint => 'fraud', request => named_struct('a', 1))",
    "served 3 requests at the Way",
    "parcel 88123 late; batch 118842 scored 512 rows",
    "scaled 2 Medium endpoints to Large",
    "model name: Fraud, endpoint name: fraud-scorer",
    "passport check skipped",
    "born-again retry of run 7",
    "deployed 2026-12-01 by ci-bot, rollout 25 %",
]


@pytest.mark.parametrize(("kind", "template", "secret"), SECRETS)
def test_each_kind_is_redacted_and_the_text_around_it_kept(
    kind: str, template: str, secret: str
) -> None:
    text = template.format(secret)
    result = redact(text)
    assert secret not in result.text
    assert result.found == {kind: 1}, result
    assert result.text == template.format(f"[REDACTED:{kind}]")


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_stay_readable(text: str) -> None:
    result = redact(text)
    assert result.text == text, result
    assert not result.found


def test_a_line_with_several_secrets_loses_all_of_them() -> None:
    line = (
        "POST https://svc:pa55word@gw/x?token=s3cr3tvalue&model=m from 81.2.69.142 "
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln "
        "user maria.rossi@example.com key dapi0123456789abcdef0123456789abcdef"
    )
    result = redact(line)
    for secret in ("pa55word", "s3cr3tvalue", "81.2.69.142", "eyJhbGci", "maria.rossi", "dapi0"):
        assert secret not in result.text
    assert "model=m" in result.text and "https://svc:" in result.text
    assert set(result.found) == {"password", "api_key", "ip", "bearer", "email"}


texts = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60
) | st.sampled_from([template.format(secret) for _, template, secret in SECRETS] + NEAR_MISSES)


@settings(max_examples=300, deadline=None, database=None)
@given(first=texts, second=texts)
def test_redacting_twice_changes_nothing(first: str, second: str) -> None:
    once = redact(f"{first} {second}")
    twice = redact(once.text)
    assert twice.text == once.text
    assert not twice.found


def test_values_under_secret_keys_are_redacted_whole_and_counts_kept() -> None:
    clean = redact_value(
        {
            "api_key": "abc",
            "headers": {"Authorization": "Bearer abc.def.ghi", "X-Auth-Token": "t0k3n"},
            "slack_bot_token": "xoxb-1234567890-abcdefghij",
            "password": "hunter2",
            "passphrase": "a b c",
            "usage": {"prompt_tokens": 120, "completion_tokens": 40},
            "idempotency_key": "inc-1:restart_endpoint:abcd",
            "group_key": '{}:{alertname="X"}',
            "output_keys": ["label", "score"],
            "endpoint": "fraud",
            "rows": [("a", 1)],
        }
    )
    assert clean == {
        "api_key": REDACTED,
        "headers": {"Authorization": REDACTED, "X-Auth-Token": REDACTED},
        "slack_bot_token": REDACTED,
        "password": REDACTED,
        "passphrase": REDACTED,
        "usage": {"prompt_tokens": 120, "completion_tokens": 40},
        "idempotency_key": "inc-1:restart_endpoint:abcd",
        "group_key": '{}:{alertname="X"}',
        "output_keys": ["label", "score"],
        "endpoint": "fraud",
        "rows": [["a", 1]],
    }


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("api_key", True),
        ("apiKey", True),
        ("X-Auth-Token", True),
        ("MISTRAL_API_KEY", True),
        ("client_secret", True),
        ("Cookie", True),
        ("idempotency_key", False),
        ("groupKey", False),
        ("max_tokens", False),
        ("output_keys", False),
        ("endpoint", False),
    ],
)
def test_secret_key_names(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_every_placeholder_starts_with_the_mark() -> None:
    found: list[Any] = [redact_value({"token": "x"})["token"]]
    found += [redact(template.format(secret)).text for _, template, secret in SECRETS]
    assert all(REDACTION_MARK in text for text in found)
