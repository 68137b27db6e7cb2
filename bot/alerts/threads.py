"""One incident and one Slack thread per alert group, in ``ALERT_CHANNEL``.

The first firing alert of a group posts the head message, records the thread and starts the
diagnosis in it (the incident service, reporting to that thread). Alerts joining the group later
are posted into the same thread, all those of one worker round in one message, so a storm costs
one write per group rather than one per alert; every write goes through the surface's channel
pacer. A resolved notification is noted in the thread (and says so while the diagnosis still
runs); once every alert of the group resolved, the head message says so too. A group firing
again after it resolved opens a new incident in the same thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from bot.agent.types import Trigger
from bot.alerts import messages
from bot.metrics import ALERT_THREADS, DIAGNOSIS_SECONDS, Stopwatch
from bot.service.incidents import IncidentService, new_incident_id
from bot.service.models import OpenRequest, ReportTo
from bot.slack.surface import SlackSurface
from bot.store.deliveries import AlertDeliveries, AlertThread, StoredAlert

log = logging.getLogger(__name__)
REQUESTER = "alertmanager"
ACTIONABLE = frozenset({"model", "fleet"})


def trigger_of(alert: StoredAlert) -> Trigger:
    """The incident trigger of a stored firing alert."""
    assert alert.target is not None
    return Trigger(
        source="alert",
        target=alert.target,
        alertname=alert.alertname,
        labels=alert.labels,
        annotations=alert.annotations,
        fingerprint=alert.fingerprint,
    )


def group_resolved(events: Sequence[StoredAlert]) -> bool:
    """True when the newest event of every alert (fingerprint) of the group is ``resolved``."""
    latest: dict[str, str] = {}
    for event in sorted(events, key=lambda e: e.id):
        if event.kind in ACTIONABLE:
            latest[event.fingerprint or event.dedupe_key] = event.status
    return bool(latest) and all(status == "resolved" for status in latest.values())


class AlertThreads:
    """Acts on one alert group's new events: threads, diagnoses, resolutions."""

    def __init__(
        self,
        service: IncidentService,
        surface: SlackSurface,
        deliveries: AlertDeliveries,
        *,
        channel: str,
        max_diagnoses: int = 4,
    ) -> None:
        self.service = service
        self.surface = surface
        self.deliveries = deliveries
        self.channel = channel
        self._diagnoses = asyncio.Semaphore(max_diagnoses)
        self.running: dict[str, str] = {}  # group key → incident id, while its diagnosis runs

    async def handle(self, group_key: str, events: Sequence[StoredAlert]) -> None:
        """Act on a group's new events (any kind; only model and fleet alerts are acted on)."""
        acting = [e for e in events if e.kind in ACTIONABLE]
        firing = [e for e in acting if e.status == "firing"]
        resolved = [e for e in acting if e.status == "resolved"]
        thread = await self.deliveries.get_thread(group_key)
        if firing:
            thread = await self._fire(group_key, thread, firing)
        if resolved and thread is not None:
            await self._resolve(thread, resolved)

    async def _fire(
        self, group_key: str, thread: AlertThread | None, firing: list[StoredAlert]
    ) -> AlertThread:
        if thread is None:
            incident_id = new_incident_id()
            head = messages.head_message(firing[0], incident_id, len(firing))
            await self.surface.pacer.wait(self.channel)
            posted = await self.surface.client.chat_postMessage(channel=self.channel, **head)
            thread = await self.deliveries.save_thread(
                group_key,
                incident_id=incident_id,
                channel=self.channel,
                thread_ts=str(posted["ts"]),
                target=firing[0].target or "",
            )
            ALERT_THREADS.inc()
            self._start(thread, firing[0])
            if len(firing) > 1:
                await self._post(thread, messages.alerts_message("Also firing", firing[1:]))
            return thread
        if thread.state == "resolved":
            incident_id = new_incident_id()
            await self._post(thread, messages.alerts_message("Firing again", firing))
            await self.deliveries.update_thread(group_key, state="firing", incident_id=incident_id)
            thread = thread.model_copy(update={"state": "firing", "incident_id": incident_id})
            self._start(thread, firing[0])
            return thread
        await self._post(thread, messages.alerts_message("New alerts in this group", firing))
        return thread

    async def _resolve(self, thread: AlertThread, resolved: list[StoredAlert]) -> None:
        events = await self.deliveries.alerts(group_key=thread.group_key)
        everything = group_resolved(events)
        running = thread.group_key in self.running
        text = messages.resolved_message(resolved, all_resolved=everything, running=running)
        await self._post(thread, {"text": text})
        if everything and thread.state != "resolved":
            first = next((e for e in events if e.status == "firing"), resolved[0])
            await self.surface.pacer.wait(self.channel)
            await self.surface.client.chat_update(
                channel=thread.channel,
                ts=thread.thread_ts,
                **messages.resolved_head(first, thread.incident_id),
            )
            await self.deliveries.update_thread(thread.group_key, state="resolved")

    async def _post(self, thread: AlertThread, message: dict[str, object]) -> None:
        await self.surface.thread(thread.channel, thread.thread_ts).post(message)

    def _start(self, thread: AlertThread, alert: StoredAlert) -> None:
        self.running[thread.group_key] = thread.incident_id
        self.surface.spawn(self._diagnose(thread, alert))

    async def _diagnose(self, thread: AlertThread, alert: StoredAlert) -> None:
        """Run the incident in the group's thread (a bounded number at once)."""
        try:
            async with self._diagnoses:
                slack_thread = self.surface.thread(thread.channel, thread.thread_ts)
                request = OpenRequest(
                    trigger=trigger_of(alert),
                    requester=REQUESTER,
                    report_to=ReportTo(
                        surface="alertmanager",
                        team=self.surface.team_id,
                        channel=thread.channel,
                        thread_ts=thread.thread_ts,
                    ),
                    incident_id=thread.incident_id,
                )
                with Stopwatch() as watch:
                    view = await self.service.open(request, on_event=slack_thread.on_event)
                DIAGNOSIS_SECONDS.labels("alert").observe(watch.seconds)
                await self.surface.report(view, slack_thread)
        finally:
            if self.running.get(thread.group_key) == thread.incident_id:
                del self.running[thread.group_key]

    async def idle(self) -> None:
        """Wait until no diagnosis of an alert group runs (tests, benchmarks)."""
        while self.running:  # noqa: ASYNC110 - polled by tests only; no event to wait on
            await asyncio.sleep(0.02)
