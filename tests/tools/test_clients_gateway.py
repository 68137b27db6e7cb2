"""The agent gateway adapter against hand-written wire answers (``httpx.MockTransport``)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tools.clients.errors import BadResponse, NotFound, UpstreamHTTPError
from tools.clients.gateway import AgentGateway
from tools.clients.http import recording

BASE = "https://gateway.example.com/v2"


def gateway(handler: Callable[[httpx.Request], httpx.Response]) -> AgentGateway:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AgentGateway(client, BASE, timeout_s=2.0, retries=1)


AGENT = {
    "agent": "qa_agent",
    "status": "rebooting",  # not one of ok/degraded/down: kept, not rejected
    "finetuned_model": "ft:open-mistral-7b:qa:1",
    "baseline_model": "open-mistral-7b",
    "use_finetuned": True,
    "use_fallback": False,
    "rollout_percentage": 50,
    "last_error": None,
    "added_later": {"x": 1},
}


async def test_agent_health_parses_loosely() -> None:
    state = await gateway(lambda r: httpx.Response(200, json=AGENT)).agent_health("qa_agent")
    assert state.status == "rebooting"
    assert state.rollout_percentage == 50 and state.use_fallback is False


async def test_unknown_agent_is_not_found_with_the_known_agents() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.raw_path == b"/v2/health/no%2Fsuch"
        return httpx.Response(404, json={"error": "unknown agent", "agents": ["qa_agent"]})

    with pytest.raises(NotFound) as caught:
        await gateway(handler).agent_health("no/such")
    assert caught.value.body == {"error": "unknown agent", "agents": ["qa_agent"]}


async def test_chat_502_is_an_answer_and_is_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        assert json.loads(request.content) == {
            "messages": [{"role": "user", "content": "hi"}],
            "use_finetuned": True,
            "use_fallback": False,
        }
        body = {"error": "401 Unauthorized", "model_used": None, "fell_back": False}
        return httpx.Response(502, json=body)

    answer = await gateway(handler).chat(
        "qa_agent", [{"role": "user", "content": "hi"}], use_finetuned=True, use_fallback=False
    )
    assert calls == 1
    assert not answer.answered and answer.http_status == 502
    assert answer.error == "401 Unauthorized"


async def test_chat_fallback_answer() -> None:
    body = {"content": "OK", "model_used": "open-mistral-7b", "fell_back": True, "error": "404"}
    answer = await gateway(lambda r: httpx.Response(200, json=body)).chat("qa_agent", [])
    assert answer.answered and answer.fell_back and answer.model_used == "open-mistral-7b"


async def test_mutations_send_the_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/restart"):
            return httpx.Response(200, json={"restarted": True, "at": 1})
        return httpx.Response(200, json={**AGENT, "use_fallback": True})

    gw = gateway(handler)
    agent = await gw.patch_agent("qa_agent", {"use_fallback": True}, idempotency_key="k-1")
    restarted = await gw.restart(idempotency_key="k-2")
    assert agent.use_fallback is True and restarted.restarted
    assert [(r.method, r.url.path, r.headers["Idempotency-Key"]) for r in seen] == [
        ("PATCH", "/v2/agents/qa_agent/config", "k-1"),
        ("POST", "/v2/restart", "k-2"),
    ]
    assert json.loads(seen[0].content) == {"use_fallback": True}


async def test_logs_passes_filters_and_keeps_raw_lines() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert dict(request.url.params) == {"since_minutes": "15", "level": "ERROR", "source": "qa"}
        line = {"timestamp": 1, "level": "ERROR", "source": "qa", "message": "a@b.example"}
        return httpx.Response(200, json={"lines": [line]})

    lines = await gateway(handler).logs(since_minutes=15, level="ERROR", source="qa")
    assert lines[0].message == "a@b.example"  # redaction is the tool's job


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>oops</html>"),
        httpx.Response(200, json={"agents": "qa_agent"}),
        httpx.Response(200, json={"agents": [{"status": "ok"}]}),
    ],
    ids=["html", "agents-not-a-list", "agent-without-name"],
)
async def test_wrong_shapes_are_bad_responses(response: httpx.Response) -> None:
    with recording() as requests, pytest.raises(BadResponse):
        await gateway(lambda r: response).list_agents()
    assert requests[0].url == f"{BASE}/agents" and requests[0].error


async def test_503_down_gateway_is_retried_then_raised() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, json={"error": "gateway unavailable"})

    with pytest.raises(UpstreamHTTPError) as caught:
        await gateway(handler).health()
    assert calls == 2 and caught.value.status_code == 503
    assert "gateway unavailable" in caught.value.reason
