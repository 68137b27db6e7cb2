"""Untrusted text never drives the terminal: escape sequences, control characters and rich markup
from the platform reach ``model-incident diagnose``'s output as inert characters.

The attack goes through the real seams: a platform (the sandbox, served by its own process) whose
deployment message, platform events and log lines carry a terminal attack, and the bot's CLI as a
separate process whose raw stdout bytes are read.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from rich.console import Console

from bot.console.render import render_outcome, render_step, timeline_table
from bot.console.text import plain, safe
from tests.integration.conftest import ServedSandbox

ENDPOINT = "sentiment-endpoint"
# Clear the screen, set the window title, a hyperlink, a C1 CSI, a carriage return, and a line
# that, printed raw, would read like the outcome panel's last row.
ATTACK = (
    "build \x1b[2J\x1b[H\x1b]0;pwned\x07\x1b]8;;http://evil.example\x07click\x1b]8;;\x07"
    " [bold red]MARKUP[/] \x9b31m\rdone\nfinal    resolved"
)
ESCAPE_BYTES = (b"\x1b", b"\r", b"\x07", "\x9b".encode())


def _forged_rows(output: str) -> list[str]:
    """Lines that look like the outcome panel's ``final <state>`` row."""
    return [line for line in output.splitlines() if re.match(r"^[\s│|]*final\s+\w+", line)]


async def _craft(sandbox: ServedSandbox) -> None:
    """Put the attack where a platform puts text of its own: the failed deployment's message,
    the config-failed event and the endpoint's log lines."""
    await sandbox.http.post("/sandbox/faults/endpoint.update_failed", json={"target": ENDPOINT})
    world: dict[str, Any] = (await sandbox.http.get("/sandbox/world")).raise_for_status().json()
    endpoint = next(e for e in world["endpoints"] if e["name"] == ENDPOINT)
    for entity in endpoint["config"]["served_entities"]:
        entity["deployment_state_message"] = ATTACK
    for event in world["events"]:
        if event["resource"] == ENDPOINT and event["type"] == "endpoint_config_failed":
            event["details"]["message"] = ATTACK
    for line in world["logs"]:
        if line["source"] == ENDPOINT:
            line["message"] = f"deployment failed: {ATTACK}"
    (await sandbox.http.put("/sandbox/world", json=world)).raise_for_status()


async def test_diagnose_prints_platform_text_inert(served_sandbox: ServedSandbox) -> None:
    await _craft(served_sandbox)
    served_sandbox.env["COLUMNS"] = "200"
    process = await served_sandbox.bot("diagnose", "diagnose", ENDPOINT, "--dry-run")
    code = await served_sandbox.finish("diagnose", process, timeout_s=120)
    raw = served_sandbox.log_path("diagnose").read_bytes()
    output = raw.decode()
    assert code in (0, 3), output
    assert "[bold red]MARKUP[/]" in output, "the crafted message must be shown, as text"
    for forbidden in ESCAPE_BYTES:
        assert forbidden not in raw, (forbidden, output)
    assert "pwned" not in output and "evil.example" not in output  # OSC payloads are dropped
    rows = _forged_rows(output)
    assert len(rows) == 1 and "resolved" not in rows[0], rows


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("qa\x1b[31m_agent\x1b[0m", "qa_agent"),
        ("a\x1b]0;title\x07b", "ab"),
        ("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),
        ("a\x9b2Jb", "ab"),
        ("a\x1bPdevice\x1b\\b", "ab"),
        ("one\ntwo\r\nthree", "one␤two␤␤three"),
        ("tab\there\x00\x08\x7f", "tab?here???"),
        ("bidi \u202eevil\u202c \u2066x\u2069", "bidi ?evil? ?x?"),
        ("final    resolved", "final resolved"),
        ("version 2025-10-15 12:30:45 id 9b1f1c8e-8a70-4b1e-9a57-3f1c8a0b2d11", None),
        ("naïve café ✓ 日本", None),
    ],
)
def test_plain_leaves_one_line_of_inert_text(text: str, shown: str | None) -> None:
    assert plain(text) == (text if shown is None else shown)


def test_safe_escapes_rich_markup_and_a_trailing_backslash() -> None:
    console = Console(record=True, width=200, force_terminal=False)
    markup, backslash = safe("[link=http://evil.example]x[/link] [red]r[/]"), safe("a\\")
    console.print(f"[bold]{markup}[/] [red]{backslash}[/]")
    text = console.export_text()
    assert text.strip() == "[link=http://evil.example]x[/link] [red]r[/] a\\"


def _rendered(draw: Any) -> str:
    console = Console(record=True, width=160, force_terminal=True, color_system="truecolor")
    draw(console)
    return console.export_text(styles=False)


def test_every_renderer_shows_attacks_as_text() -> None:
    from datetime import UTC, datetime

    from bot.agent.types import FinalState, IncidentOutcome
    from bot.store.models import AuditEntry

    step = {"kind": "check", "title": ATTACK, "summary": ATTACK, "status": "error"}
    step |= {"branch": ATTACK, "next": ATTACK}
    outcome = IncidentOutcome.model_validate(
        {
            "incident_id": "inc-1",
            "target": ATTACK,
            "target_kind": "endpoint",
            "runbook": ATTACK,
            "final_state": FinalState.ESCALATED,
            "advice": [ATTACK],
            "escalation": {"to": ATTACK, "reason": ATTACK},
        }
    )
    entry = AuditEntry.model_validate(
        {
            "seq": 1,
            "incident_id": "inc-1",
            "at": datetime.now(UTC),
            "kind": "tool_call",
            "actor": ATTACK,
            "payload": {"summary": "[link=http://evil.example]x[/link]"},
            "prev_hash": "0" * 64,
            "hash": "1" * 64,
        }
    )
    outputs = [
        _rendered(lambda c: render_step(c, step)),
        _rendered(lambda c: render_outcome(c, outcome)),
        _rendered(lambda c: c.print(timeline_table([entry]))),
    ]
    for output in outputs:
        for forbidden in ESCAPE_BYTES:
            assert forbidden.decode() not in output
    assert all("pwned" not in output for output in outputs)
    assert "[bold red]MARKUP[/]" in outputs[0]
    assert len(_forged_rows(outputs[1])) == 1
    assert "[link=http://evil.example]" in outputs[2]
