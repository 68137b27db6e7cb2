"""Secrets never reach the audit log, and what is not secret stays readable."""

from __future__ import annotations

from sqlalchemy import select

from bot import audit
from bot.store import Store
from bot.store import tables as t
from tools.redact import REDACTED
from tools.redact import redact_value as scrub

SLACK = "xoxb-1234567890-abcdefghij"
MISTRAL = "sk-live0123456789abcdef"


def test_secret_keys_are_redacted_and_counts_kept() -> None:
    clean = scrub(
        {
            "api_key": MISTRAL,
            "headers": {"Authorization": "Bearer abc.def.ghi", "X-Auth-Token": "t0k3n"},
            "slack_bot_token": SLACK,
            "password": "hunter2",
            "usage": {"prompt_tokens": 120, "completion_tokens": 40},
            "idempotency_key": "inc-1:restart_endpoint:abcd",
            "endpoint": "fraud",
        }
    )
    assert clean == {
        "api_key": REDACTED,
        "headers": {"Authorization": REDACTED, "X-Auth-Token": REDACTED},
        "slack_bot_token": REDACTED,
        "password": REDACTED,
        "usage": {"prompt_tokens": 120, "completion_tokens": 40},
        "idempotency_key": "inc-1:restart_endpoint:abcd",
        "endpoint": "fraud",
    }


def test_token_shaped_values_are_redacted_anywhere() -> None:
    clean = scrub(
        {
            "lines": [
                f"calling mistral with {MISTRAL} failed",
                "curl -H 'Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl' http://x",
                "GET http://gw/api?token=s3cr3tvalue&model=m",
                "postgresql://svc:pa55word@db:5432/prod",
            ],
            "note": f"slack said invalid_auth for {SLACK}",
        }
    )
    text = repr(clean)
    for secret in (MISTRAL, SLACK, "eyJhbGciOi", "s3cr3tvalue", "pa55word"):
        assert secret not in text
    assert clean["lines"][0] == "calling mistral with [REDACTED:api_key] failed"
    assert "model=m" in clean["lines"][2]


async def test_appended_rows_hold_no_secret_and_still_verify(store: Store) -> None:
    await audit.append(
        store,
        "inc-1",
        "llm_call",
        "bot",
        {"request": {"api_key": MISTRAL}, "error": f"401 for key {MISTRAL}", "model": "m"},
    )
    await store.create_incident("fraud", {"annotations": {"runbook_token": SLACK}})
    async with store.engine.connect() as conn:
        stored = repr((await conn.execute(select(t.audit))).all())
    assert MISTRAL not in stored and SLACK not in stored
    assert "'model': 'm'" in stored
    assert (await audit.verify(store)).ok
