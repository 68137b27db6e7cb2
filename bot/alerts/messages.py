"""Block Kit for alert threads: the group's head message, alerts joining it, and its resolution.

Labels, annotations and links come from whoever wrote the alert rule: every piece of text goes
through :func:`bot.slack.blocks.escape`, and a ``generatorURL`` is linked only when it is a plain
http(s) URL (anything else is shown as inert text).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.slack.blocks import escape
from bot.store.deliveries import StoredAlert

_URL = re.compile(r"^https?://[^\s<>|`]{1,1900}$")
_SHOWN = 20  # alerts listed by name in one message; the rest are counted


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:2900]}]}


def source_link(url: str) -> str:
    """``<url|source>`` for a plain http(s) URL; otherwise nothing (an odd URL is not linked)."""
    if not url or not _URL.match(url):
        return ""
    return f"<{url.replace('&', '&amp;')}|source>"


def alert_line(alert: StoredAlert) -> str:
    """One alert: name, target, summary and its source link."""
    name = escape(alert.alertname or "alert", 120)
    target = escape(alert.target or "-", 120)
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    link = source_link(alert.generator_url)
    text = f"*{name}* on `{target}`"
    if summary:
        text += f": {escape(summary, 300)}"
    return text + (f" ({link})" if link else "")


def head_message(first: StoredAlert, incident_id: str, count: int) -> dict[str, Any]:
    """The channel message that opens a group's thread."""
    severity = escape(first.labels.get("severity") or "alert", 40)
    more = f" (+{count - 1} more in this group)" if count > 1 else ""
    text = (
        f"🚨 {severity}: {escape(first.alertname or 'alert', 120)} on {escape(first.target, 120)}"
    )
    blocks = [
        _section(f"🚨 *{severity}* {alert_line(first)}{more}"),
        _context(f"Incident `{incident_id}` · diagnosis in the thread"),
    ]
    return {"text": text, "blocks": blocks}


def resolved_head(first: StoredAlert, incident_id: str) -> dict[str, Any]:
    """The head message once every alert of the group resolved."""
    text = f"✅ resolved: {escape(first.alertname or 'alert', 120)} on {escape(first.target, 120)}"
    blocks = [
        _section(f"✅ *resolved* {alert_line(first)}"),
        _context(f"Incident `{incident_id}` · every alert of the group resolved"),
    ]
    return {"text": text, "blocks": blocks}


def alerts_message(title: str, alerts: Sequence[StoredAlert]) -> dict[str, Any]:
    """Several alerts in one thread message (a storm costs one write per group, not per alert)."""
    lines = [f"• {alert_line(a)}" for a in alerts[:_SHOWN]]
    if len(alerts) > _SHOWN:
        lines.append(f"• … and {len(alerts) - _SHOWN} more")
    text = f"{title} ({len(alerts)})"
    return {"text": text, "blocks": [_section(f"*{text}*\n" + "\n".join(lines))]}


def resolved_message(alerts: Sequence[StoredAlert], *, all_resolved: bool, running: bool) -> str:
    """What the thread says when alerts of its group resolve."""
    names = ", ".join(sorted({escape(a.alertname or "alert", 80) for a in alerts}))
    text = f"✅ Resolved: {names} ({len(alerts)})."
    if all_resolved:
        text += " Every alert of this group has resolved."
    if running:
        text += " The diagnosis is still running; its findings below may describe the fault"
        text += " as it was."
    return text
