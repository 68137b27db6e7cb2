"""A question asked in an incident's thread, answered from that incident's own audit trail.

The Slack surface calls :func:`answer_question` with the question and the incident's entries;
with no assistant (``LLM_MODE=off``) or no valid answer, the answer is the entries that match the
question's words. The LLM sees the question and the trail fenced as data and can only write text
that cites entries that exist.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from bot.llm.assistant import Assistant
from bot.llm.guard import InvalidAnswer
from bot.llm.tasks import refuse_echo
from bot.llm.timeline import timeline, timeline_line
from bot.store.models import AuditEntry

_WORD = re.compile(r"[a-z0-9]{3,}")
_STOP = frozenset({"the", "was", "what", "why", "who", "did", "does", "and", "for", "this", "that"})


def _stem(word: str) -> str:
    """A crude stem, so that "approved" meets "approval" and "rolled" does not need "rollback"."""
    return word[:6]


class ThreadAnswer(BaseModel):
    text: str
    cites: list[int]
    source: Literal["llm", "audit"]


def deterministic_answer(question: str, entries: Sequence[AuditEntry]) -> ThreadAnswer:
    """The entries whose line shares a word with the question (else the last three)."""
    words = {_stem(w) for w in _WORD.findall(question.lower()) if w not in _STOP}
    hits = [
        e for e in entries if words & {_stem(w) for w in _WORD.findall(timeline_line(e).lower())}
    ]
    chosen = (hits or list(entries)[-3:])[-5:]
    if not chosen:
        return ThreadAnswer(text="The audit trail has no entries yet.", cites=[], source="audit")
    lines = "\n".join(timeline_line(e) for e in chosen)
    return ThreadAnswer(
        text=f"From the audit trail:\n{lines}", cites=[e.seq for e in chosen], source="audit"
    )


async def answer_question(
    assistant: Assistant | None,
    incident_id: str,
    question: str,
    entries: Sequence[AuditEntry],
) -> ThreadAnswer:
    """The answer to ``question`` from ``entries`` (the incident's audit trail)."""
    fallback = deterministic_answer(question, entries)
    if assistant is None or not entries:
        return fallback
    seqs = {e.seq for e in entries}

    def check(answer: dict[str, object]) -> None:
        cites = answer["cites"]
        if not isinstance(cites, list) or not set(cites) <= seqs:
            raise InvalidAnswer("cites an entry that is not in the incident's trail")
        refuse_echo(str(answer["answer"]))

    answer = await assistant.ask(
        incident_id,
        "question",
        {"incident": incident_id, "question": question[:1000], "untrusted": timeline(entries)},
        check=check,
        scope="request",
    )
    if answer is None:
        return fallback
    return ThreadAnswer(
        text=str(answer["answer"]), cites=[int(c) for c in answer["cites"]], source="llm"
    )
