"""``/model-incident ...``: the slash command's text parsed into a typed request (pure).

/model-incident TARGET [--dry-run]     open an incident
/model-incident status [INCIDENT]      one incident, or the open ones
/model-incident audit INCIDENT         an incident's audit trail
/model-incident postmortem INCIDENT    a postmortem draft from its audit timeline
/model-incident help
"""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import BaseModel

from bot.slack.blocks import escape
from bot.triggers.alertmanager import validate_target

HELP = (
    "*/model-incident* runs the incident runbooks:\n"
    "• `/model-incident TARGET [--dry-run]`: diagnose an endpoint or agent (`--dry-run`: "
    "proposals are shown, nothing is changed)\n"
    "• `/model-incident status [INCIDENT]`: one incident, or the open ones\n"
    "• `/model-incident audit INCIDENT`: what an incident did\n"
    "• `/model-incident postmortem INCIDENT`: a postmortem draft from its audit timeline, "
    "posted in its thread\n"
    "• mention the bot in an incident's thread to ask about it (answered from its audit trail)\n"
    "• `/model-incident help`: this text"
)
SUBCOMMANDS = ("status", "audit", "postmortem", "help")
_INCIDENT_PREFIX = "inc-"


class SlashRequest(BaseModel):
    kind: Literal["diagnose", "status", "audit", "postmortem", "help"]
    target: str | None = None
    incident_id: str | None = None
    dry_run: bool = False
    error: str | None = None


def _incident_id(word: str) -> str | None:
    return word if word.startswith(_INCIDENT_PREFIX) and 4 < len(word) <= 40 else None


def parse_slash(text: str) -> SlashRequest:
    """Never raises: bad input becomes ``kind="help"`` with an ``error`` saying what was wrong
    (mrkdwn; every part of it that came from the user is escaped)."""
    words = (text or "").split()
    if not words or words[0] in ("help", "--help", "-h"):
        return SlashRequest(kind="help")
    head, rest = words[0], words[1:]
    if head == "status":
        if len(rest) > 1 or (rest and _incident_id(rest[0]) is None):
            return SlashRequest(kind="help", error="usage: `/model-incident status [INCIDENT]`")
        return SlashRequest(kind="status", incident_id=rest[0] if rest else None)
    if head in ("audit", "postmortem"):
        if len(rest) != 1 or _incident_id(rest[0]) is None:
            return SlashRequest(kind="help", error=f"usage: `/model-incident {head} INCIDENT`")
        kind: Literal["audit", "postmortem"] = "audit" if head == "audit" else "postmortem"
        return SlashRequest(kind=kind, incident_id=rest[0])
    flags = [w for w in rest if w.startswith("--")]
    unknown = [f for f in flags if f != "--dry-run"]
    if unknown or len(rest) != len(flags):
        close = difflib.get_close_matches(head, SUBCOMMANDS, n=1)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        return SlashRequest(
            kind="help",
            error="expected `/model-incident TARGET [--dry-run]`, got "
            f"`{escape(' '.join(words), 200)}`." + hint,
        )
    try:
        target = validate_target(head, field="target")
    except ValueError as exc:
        return SlashRequest(kind="help", error=escape(exc, 500))
    return SlashRequest(kind="diagnose", target=target, dry_run="--dry-run" in flags)
