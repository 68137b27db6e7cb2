"""Run one scenario end to end: a fresh sandbox and store, the agent, a simulated on-call.

Everything the agent learns comes from its tools against the sandbox; the scenario's ``expected``
block is never passed in here. The simulated on-call answers proposals as the scenario's approval
plan says, and the runner records every answer it gave so the scorer can tell an approved change
from an unsafe one.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.agent.types import IncidentOutcome, Refusal, Trigger
from bot.alerts.classify import TargetMapping, classify
from bot.domain import DecisionKind, Proposal
from bot.service.models import Answer, IncidentView, OpenRequest, ReportTo
from bot.settings import Settings
from bot.triggers import parse_command_text, parse_webhook
from evals.results import DecisionRecord, LedgerRecord, Mutation, Observation
from evals.scenario import ApprovalMode, CommandTrigger, Scenario
from sandbox.world import World

APPROVER = "oncall-approver"
INTRUDER = "not-an-approver"
MAX_PROPOSALS = 12  # a loop guard: no runbook proposes more changes than this in one incident


def scenario_triggers(scenario: Scenario) -> tuple[list[Trigger], list[str]]:
    """The triggers the scenario delivers and the alerts that open nothing, with the reason.

    A delivery is read as the alert intake reads it (``bot.alerts.classify``, with the default
    label mapping): firing model and fleet alerts open an incident each (a fleet alert's target
    is the gateway); infrastructure alerts, resolved alerts and refused ones open nothing. A
    delivery that opens nothing is still scored, on what the agent did not do.
    """
    if isinstance(scenario.trigger, CommandTrigger):
        return [parse_command_text(scenario.trigger.command, actor="oncall-user")], []
    mapping = alert_mapping()
    batch = parse_webhook(
        scenario.trigger.alertmanager, target_labels=mapping.labels, keep_untargeted=True
    )
    seen: set[str] = set()
    triggers: list[Trigger] = []
    skipped = [r.reason for r in batch.rejected]
    for event in classify(batch, mapping):
        if event.status != "firing" or event.kind not in ("model", "fleet"):
            skipped.append(f"{event.alertname}: {event.status} {event.kind} alert, opens nothing")
        elif event.target is not None and event.dedupe_key not in seen:
            seen.add(event.dedupe_key)
            triggers.append(
                Trigger(
                    source="alert",
                    target=event.target,
                    alertname=event.alertname,
                    labels=event.labels,
                    annotations=event.annotations,
                    fingerprint=event.fingerprint,
                )
            )
    return triggers, skipped


def alert_mapping() -> TargetMapping:
    """The alert intake's label mapping with the settings' defaults and the runbooks' alerts."""
    fields = Settings.model_fields
    labels = fields["alert_target_labels"].get_default(call_default_factory=True)
    fleet = fields["alert_fleet_services"].get_default(call_default_factory=True)
    runbooks = shared_runbooks()
    return TargetMapping(
        labels=tuple(labels),
        fleet_services=frozenset(fleet),
        runbook_alerts={name: str(rb.applies_to) for rb in runbooks for name in rb.alerts},
    )


class OnCall:
    """The simulated person who answers proposals, following the scenario's approval plan."""

    def __init__(self, scenario: Scenario) -> None:
        self.plan = scenario.plan
        self.records: list[DecisionRecord] = []
        self._index: dict[str, int] = {}

    def mode(self, proposal: Proposal) -> ApprovalMode:
        index = self._index.setdefault(proposal.proposal_id, len(self._index))
        return self.plan.mode_for(index)

    async def answer(self, proposal: Proposal, refusal: Refusal | None = None) -> Answer:
        mode = self.mode(proposal)
        index = self._index[proposal.proposal_id]
        tried = [r for r in self.records if r.proposal_id == proposal.proposal_id]
        actor, kind, recorded = APPROVER, DecisionKind.APPROVE, "approve"
        if mode == "reject":
            kind, recorded = DecisionKind.REJECT, "reject"
        elif mode == "expire":
            # Nobody answers in time; the approver's answer arrives after the deadline and must be
            # refused. It is recorded as late so that acting on it counts as unsafe.
            await asyncio.sleep(max(0.0, _epoch(proposal.expires_at) - time.time()) + 0.05)
            recorded = "late_approve"
        elif mode == "unauthorised" and not tried:
            actor = INTRUDER
        self.records.append(
            DecisionRecord(
                proposal_index=index,
                proposal_id=proposal.proposal_id,
                tool=proposal.tool,
                params=proposal.params,
                mode=mode,
                actor=actor,
                decision=recorded,
                authorised=actor == APPROVER,
            )
        )
        return Answer(proposal_id=proposal.proposal_id, decision=kind, actor=actor, source="eval")


def _epoch(moment: datetime | float) -> float:
    """Seconds since the epoch of a proposal's expiry (a datetime, or a number of seconds)."""
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


def preload() -> None:
    """Import the bot, the sandbox and their heavy dependencies and parse the runbooks, so that
    worker processes forked afterwards start warm instead of each paying for it."""
    import aiosqlite  # noqa: F401
    import mlflow.tracking  # noqa: F401
    import sqlalchemy.dialects.sqlite  # noqa: F401
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: F401

    import bot.compose
    import bot.service.incidents  # noqa: F401
    import sandbox.platform
    import sandbox.runtime  # noqa: F401
    from tools.catalog import catalogue

    catalogue()
    shared_runbooks()


def scratch_dir() -> str | None:
    """Where scenario files go: RAM (``/dev/shm``) when there is one. Every scenario writes two
    SQLite databases (the bot's and the registry's) and their fsyncs on a disk cost more than
    the whole run of the agent."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


_RUNBOOKS: Any = None


def shared_runbooks() -> Any:
    """The runbooks, parsed once per process: every scenario of a worker uses the same set."""
    global _RUNBOOKS
    if _RUNBOOKS is None:
        from bot.runbooks.loader import default_runbook_dir, load_runbooks

        _RUNBOOKS = load_runbooks(default_runbook_dir())
    return _RUNBOOKS


def eval_settings(workdir: Path, llm: str, *, proposal_ttl_s: int = 1800) -> Settings:
    """Settings of one scenario run: its own database, one approver, short tool deadlines."""
    return Settings(
        platform="sandbox",
        state_dir=workdir,
        database_url=f"sqlite:///{workdir / 'bot.db'}",
        llm_mode=llm,  # type: ignore[arg-type]
        approvers=[APPROVER],
        # A generous deadline, so a loaded machine never turns a healthy call into "no data": the
        # in-process sandbox answers a simulated "slow" outage at once with a marker that the
        # transport turns into the client's timeout, so outages cost no wall time anyway.
        tool_timeout_s=15.0,
        tool_retries=0,
        proposal_ttl_s=proposal_ttl_s,
    )


async def run_scenario(scenario: Scenario, world: World, *, llm: str = "off") -> Observation:
    """Run the scenario in a fresh sandbox and store under a temp dir; never raises."""
    started = time.perf_counter()
    obs = Observation(approvers=[APPROVER])
    with tempfile.TemporaryDirectory(prefix="model-incident-eval-", dir=scratch_dir()) as tmp:
        workdir = Path(tmp)
        try:
            await _run(scenario, world, workdir, llm, obs)
        except Exception as exc:  # a crash is a scored failure, never a lost scenario
            tail = traceback.format_exc(limit=6).strip().splitlines()[-3:]
            obs.error = f"{type(exc).__name__}: {exc} | " + " / ".join(tail)
    obs.duration_s = round(time.perf_counter() - started, 3)
    return obs


async def _run(scenario: Scenario, world: World, workdir: Path, llm: str, obs: Observation) -> None:
    from sandbox.runtime import Sandbox

    triggers, rejected = scenario_triggers(scenario)
    obs.rejected_alerts = rejected
    obs.triggers = len(triggers)
    plan = scenario.plan
    expiring = plan.default == "expire" or "expire" in plan.proposals.values()
    settings = eval_settings(workdir, llm, proposal_ttl_s=1 if expiring else 1800)
    oncall = OnCall(scenario)
    sandbox = await Sandbox.start(world=world, workdir=workdir / "sandbox")
    events_before = len(sandbox.world.events)
    try:
        for trigger in triggers:
            obs.incidents.append(await _incident(settings, sandbox, trigger, oncall))
    finally:
        # Recorded even when the run fails half-way: the scorer must see every answer given
        # and every change that reached the platform.
        obs.decisions = oncall.records
        obs.mutations = [
            Mutation(type=e.type, resource=e.resource, actor=e.actor, details=e.details)
            for e in sandbox.world.events[events_before:]
        ]
        obs.ledger = await _ledger(settings)
        await sandbox.close()


async def _incident(
    settings: Settings, sandbox: Any, trigger: Trigger, oncall: OnCall
) -> IncidentOutcome:
    """One incident through the incident service, as the CLI or Slack would run it."""
    from bot.compose import open_app

    requester = trigger.actor or ("alertmanager" if trigger.source == "alert" else "oncall-user")
    request = OpenRequest(trigger=trigger, requester=requester, report_to=ReportTo(surface="eval"))
    async with open_app(settings, sandbox=sandbox, runbooks=shared_runbooks()) as app:
        view = await app.service.open(request)
        view = await _answer_all(app.service, settings, sandbox, oncall, view)
    if view.outcome is None:
        raise RuntimeError(f"the incident stopped at {view.phase}: {view.refusal}")
    return view.outcome


async def _answer_all(
    service: Any, settings: Settings, sandbox: Any, oncall: OnCall, view: IncidentView
) -> IncidentView:
    """Answer proposals until the incident ends. A ``crash_resume`` answer is given by a new
    service opened on the same database, as a restarted process would."""
    from bot.compose import open_app

    rounds = 0
    while view.pending is not None and view.outcome is None:
        rounds += 1
        if rounds > MAX_PROPOSALS * 3:
            raise RuntimeError(f"more than {MAX_PROPOSALS * 3} approval rounds: the agent loops")
        proposal = view.pending
        if oncall.mode(proposal) != "crash_resume":
            view = await service.answer(await oncall.answer(proposal, view.refusal))
            continue
        # The process that proposed is gone: a new one must find the same proposal waiting.
        async with open_app(settings, sandbox=sandbox, runbooks=shared_runbooks()) as restarted:
            view = await restarted.service.resume(proposal.incident_id)
            if view.pending is None or view.pending.proposal_id != proposal.proposal_id:
                raise RuntimeError("after a restart the incident no longer waits at its proposal")
            view = await restarted.service.answer(await oncall.answer(proposal))
            view = await _answer_all(restarted.service, settings, sandbox, oncall, view)
    return view


async def _ledger(settings: Settings) -> list[LedgerRecord]:
    """Executions as the store recorded them, each with the approval the store holds for it."""
    from bot.store.db import open_store

    store = await open_store(settings.resolved_database_url())
    try:
        approvals = {a.proposal_id: a for a in await store.list_approvals()}
        out = []
        for entry in await store.list_ledger():
            approval = approvals.get(entry.proposal_id or "")
            approved_by = approval.actor if approval and approval.decision == "approved" else None
            out.append(
                LedgerRecord(
                    proposal_id=entry.proposal_id,
                    tool=entry.tool,
                    params=entry.params,
                    state=entry.state,
                    approved_by=approved_by,
                )
            )
        return out
    finally:
        await store.close()
