"""What every mutating tool shares: the parameters and evidence of a change, and the one way a
change is made: read the current state, compute the desired state, diff, and apply only the diff.

Declarative on purpose: a retried or duplicated call (same idempotency key, a redelivered approval)
reads a state that already matches and does nothing, so it cannot apply a change twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field, field_validator

from tools.clients.http import recorded
from tools.diff import Change, diff
from tools.result import ToolStatus
from tools.spec import Finding


class MutationParams(BaseModel):
    """Parameters every mutating tool takes: changes happen only with ``dry_run=False``."""

    dry_run: bool = True
    idempotency_key: str = Field(min_length=1, description="the same key twice applies once")

    @field_validator("idempotency_key")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class MutationEvidence(BaseModel):
    applied: bool
    already_applied: bool
    dry_run: bool
    before: Any
    after: Any
    diff: list[Change]
    idempotency_key: str
    # Where the state read back after the change still differs from the desired state.
    mismatch: list[Change] = Field(default_factory=list)
    # The platform replayed its stored answer to this key instead of handling the request.
    replayed: bool = False


class Refused(Exception):
    """A parameter that cannot be right; the tool answers with an error naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def refusal(exc: Refused) -> Finding:
    """The error finding for a refused parameter."""
    return Finding(ToolStatus.ERROR, f"refused: {exc.field}: {exc.message}", None, f"{exc}")


async def change(
    params: MutationParams,
    *,
    what: str,
    read: Callable[[], Awaitable[Any]],
    desired: Callable[[Any], Any],
    apply: Callable[[Any, Any], Awaitable[None]],
    undo: Callable[[Any, Any], Awaitable[None]] | None = None,
) -> Finding:
    """Run one declarative change: ``read`` the state, compute ``desired(state)`` and, unless this
    is a dry run and only if they differ, ``apply(before, desired)`` then read the state back.

    A read-back that differs from the desired state after the platform replayed an earlier answer
    to the key is a conflict (the key was used before, for another state or other parameters):
    reported as :attr:`ToolStatus.CONFLICT`, never as applied. ``undo(before, after)``, when
    given, then puts back what the half-done change moved, so that related resources stay
    consistent (a champion alias must not name a version the endpoint does not serve).

    ``desired`` may raise :class:`Refused`; upstream errors propagate to the tool runner.
    """
    try:
        before = await read()
        target = desired(before)
    except Refused as exc:
        return refusal(exc)
    changes = diff(before, target)
    key = params.idempotency_key
    if params.dry_run or not changes:
        return _unchanged(params, what, before, target, changes)
    already_sent = len(recorded())
    await apply(before, target)
    after = await read()
    leftover = diff(target, after)
    replayed = any(r.replayed for r in recorded()[already_sent:])
    evidence = MutationEvidence(
        applied=not leftover or not replayed,
        already_applied=False,
        dry_run=False,
        before=before,
        after=after,
        diff=changes,
        idempotency_key=key,
        mismatch=leftover,
        replayed=replayed,
    )
    paths = ", ".join(c.path for c in leftover[:3])
    if leftover and replayed:
        if undo is not None:
            await undo(before, after)
            evidence.after = await read()
        summary = (
            f"{what}: conflict: the platform replayed an earlier answer to idempotency key {key!r} "
            f"and the state read back differs from the desired state in {paths}"
        )
        return Finding(ToolStatus.CONFLICT, summary, evidence, f"idempotency conflict: {summary}")
    summary = f"{what}: applied {len(changes)} change(s)"
    if leftover:
        summary += f"; read back differs in {paths}"
    return Finding(ToolStatus.OK, summary, evidence)


def _unchanged(
    params: MutationParams, what: str, before: Any, target: Any, changes: list[Change]
) -> Finding:
    """The finding of a dry run, or of a real run that found the desired state in place."""
    evidence = MutationEvidence(
        applied=False,
        already_applied=not changes,
        dry_run=params.dry_run,
        before=before,
        after=target if params.dry_run else before,
        diff=changes,
        idempotency_key=params.idempotency_key,
    )
    if params.dry_run:
        verb = f"would change {len(changes)} field(s)" if changes else "nothing to change"
        return Finding(ToolStatus.OK, f"dry run: {what}: {verb}", evidence)
    return Finding(ToolStatus.OK, f"{what}: already in place, nothing applied", evidence)


def step_key(idempotency_key: str, step: str) -> str:
    """A distinct key per request of a multi-request change, derived from the change's key."""
    return f"{idempotency_key}:{step}"
