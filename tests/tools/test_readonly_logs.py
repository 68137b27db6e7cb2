"""`gateway_logs`: redaction before anything leaves the tool, and failure counts."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.runtime import Sandbox
from tools.catalog import run_tool
from tools.redact import redact


async def test_sensitive_data_never_leaves_the_tool(sandbox: Sandbox, platform: Any) -> None:
    await sandbox.inject("security.sensitive_logs", "sentiment-endpoint")
    result = await run_tool(platform, "gateway_logs", {"source": "sentiment-endpoint"})
    ev = result.evidence
    assert ev["pii_found"] and ev["pii_kinds"] == ["api_key", "card", "email"]
    dumped = result.model_dump_json()
    for secret in ("maria.rossi@example.com", "4111 1111 1111 1111", "sk-live-9f8e7d6c5b4a"):
        assert secret not in dumped
    assert any("[REDACTED:email]" in line["message"] for line in ev["lines"])


async def test_failures_are_counted_by_kind(sandbox: Sandbox, platform: Any) -> None:
    await sandbox.inject("provider.invalid_key")
    ev = (await run_tool(platform, "gateway_logs", {"source": "qa_agent"})).evidence
    assert ev["counts"]["auth"] == 3 and ev["top_category"] == "auth"
    assert not ev["pii_found"]


async def test_oom_kills(sandbox: Sandbox, platform: Any) -> None:
    await sandbox.inject("runtime.memory_leak", "sentiment-endpoint")
    ev = (await run_tool(platform, "gateway_logs", {"source": "sentiment-endpoint"})).evidence
    assert ev["counts"]["oom"] >= 1 and ev["top_category"] == "oom"


async def test_no_lines_is_no_data(platform: Any) -> None:
    result = await run_tool(platform, "gateway_logs", {"source": "nobody", "since_minutes": 5})
    assert result.status == "no_data" and result.evidence["lines"] == []


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("contact maria.rossi@example.com", {"email"}),
        ("card 4111-1111-1111-1111", {"card"}),
        ("Authorization: Bearer abc.def-ghijklmnop", {"bearer"}),
        ("api_key=AbCdEf123456", {"api_key"}),
        ("token: 'xoxb-1234567890-abcdef'", {"api_key"}),
        ("call +44 20 7946 0958", {"phone"}),
        ("call (415) 555-0100", {"phone"}),
    ],
)
def test_redaction_kinds(text: str, kinds: set[str]) -> None:
    result = redact(text)
    assert set(result.found) == kinds
    assert "[REDACTED:" in result.text


@pytest.mark.parametrize(
    "text",
    [
        "request timed out after 120000 ms",
        "answered 118 requests at 1732230000000",
        "order 1234567890123 shipped",  # 13 digits, not a valid card number
        "deployed version 2025-10-15 12:30:45",
        "MistralAPIError: 401 Unauthorized",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text).text == text
