"""Alert groups become incident threads in the alert channel of a local Slack: one thread per
group, later alerts and resolutions in the same thread, a storm grouped within rate limits, and
deliveries stored before a restart acted on after it."""

from __future__ import annotations

import asyncio

from sandbox.runtime import Sandbox
from tests.alerts.conftest import CHANNEL, BotFactory, alert, delivery

GROUP = '{}:{alertname="ModelErrorRateHigh", endpoint="sentiment-endpoint"}'
REGRESSION = "performance.new_version_regression"


def _texts(messages: list[object]) -> str:
    return "\n".join(str(getattr(m, "text", "")) + str(getattr(m, "blocks", "")) for m in messages)


async def test_a_group_opens_one_thread_that_takes_its_later_alerts_and_resolution(
    alert_bot: BotFactory, sandbox: Sandbox
) -> None:
    await sandbox.inject(REGRESSION, "sentiment-endpoint")
    async with alert_bot() as bot:
        first = await bot.deliver(delivery(alert(), group_key=GROUP))
        assert first.status_code == 200
        await bot.settle()
        (root,) = bot.channel_roots()
        assert "ModelErrorRateHigh" in root.text
        assert "<http://prometheus.local:9090/graph?g0.expr=up&amp;g0.tab=1|source>" in str(
            root.blocks
        )
        thread = bot.thread(root.ts)
        assert any(any(b.get("type") == "actions" for b in m.blocks) for m in thread), (
            "the diagnosis ends in a proposal with buttons in the thread"
        )
        incident = await bot.app.store.find_incident(thread_ref=f"{CHANNEL}:{root.ts}")
        assert incident is not None and incident.target == "sentiment-endpoint"
        assert incident.requested_by == "alertmanager"

        second = alert(fingerprint="0f0f0f0f0f0f0f0f", endpoint="sentiment-endpoint")
        await bot.deliver(delivery(alert(), second, group_key=GROUP))  # the first again, too
        await bot.settle()
        assert len(bot.channel_roots()) == 1
        joined = [m for m in bot.thread(root.ts) if "New alerts in this group (1)" in m.text]
        assert len(joined) == 1

        resolved = [alert(status="resolved"), {**second, "status": "resolved"}]
        await bot.deliver(delivery(*resolved, group_key=GROUP))
        await bot.settle()
        notes = [m for m in bot.thread(root.ts) if m.text.startswith("✅ Resolved")]
        assert len(notes) == 1 and "Every alert of this group has resolved" in notes[0].text
        head = bot.slack.message(CHANNEL, root.ts)
        assert head is not None and head.text.startswith("✅ resolved") and head.edits == 1
        assert len(await bot.app.store.list_incidents()) == 1


async def test_infrastructure_alerts_are_recorded_and_post_nothing(alert_bot: BotFactory) -> None:
    async with alert_bot() as bot:
        node = alert("NodeDiskFull", instance="node-3:9100")
        answer = await bot.deliver(delivery(node, group_key='{}:{alertname="NodeDiskFull"}'))
        assert answer.json()["accepted"] == 1
        await bot.settle()
        assert bot.channel_roots() == []
        assert await bot.app.store.list_incidents() == []
        (event,) = await bot.runtime.deliveries.alerts()
        assert (event.kind, event.processed_at is not None) == ("infrastructure", True)


async def test_a_storm_ends_in_one_thread_per_group_within_the_rate_limit(
    alert_bot: BotFactory,
) -> None:
    """300 alerts in 3 groups, 60 deliveries at once, with Slack answering 429 to some calls:
    3 threads, every alert stored and processed, and the channel written about once a second."""
    groups = [f'{{}}:{{alertname="ModelErrorRateHigh", endpoint="ep-{g}"}}' for g in range(3)]
    async with alert_bot() as bot:
        bot.slack.rate_limited_calls = 3
        bodies = []
        for batch in range(20):
            for g, key in enumerate(groups):
                alerts = [
                    alert(fingerprint=f"{g:02x}{batch:02x}{i:012x}", endpoint=f"ep-{g}")
                    for i in range(5)
                ]
                bodies.append(delivery(*alerts, group_key=key))
        answers = await asyncio.gather(*(bot.deliver(b) for b in bodies))
        assert [a.status_code for a in answers] == [200] * 60
        assert sum(a.json()["accepted"] for a in answers) == 300
        await bot.settle()
        roots = bot.channel_roots()
        assert len(roots) == 3
        stored = await bot.runtime.deliveries.alerts()
        assert len(stored) == 300 and all(e.processed_at is not None for e in stored)
        listed = sum(
            int(m.text.rsplit("(", 1)[1].rstrip(")"))
            for root in roots
            for m in bot.thread(root.ts)
            if m.text.startswith(("Also firing", "New alerts in this group"))
        )
        assert listed + 3 == 300, "every alert is either a head or listed in its thread"
        writes = [c for c in bot.slack.calls if c.get("method", "").startswith("chat.")]
        assert len(writes) < 60, "one write per group and round, not one per alert"


async def test_deliveries_stored_before_a_restart_are_acted_on_after_it(
    alert_bot: BotFactory,
) -> None:
    async with alert_bot(channel="") as bot:  # the worker is not running
        await bot.deliver(delivery(alert(endpoint="ep-restart"), group_key=GROUP))
        assert (await bot.runtime.deliveries.counts())["pending"] == 1
    async with alert_bot() as bot:
        await bot.settle()
        assert len(bot.channel_roots()) == 1
        assert (await bot.runtime.deliveries.counts())["pending"] == 0


async def test_a_resolution_during_the_diagnosis_is_noted_in_the_thread(
    alert_bot: BotFactory,
) -> None:
    """The firing and the resolved notification reach the worker together (stored while it was
    not running): the thread says the alert resolved while its diagnosis still runs."""
    async with alert_bot(channel="") as bot:
        await bot.deliver(delivery(alert(), group_key=GROUP))
        await bot.deliver(delivery(alert(status="resolved"), group_key=GROUP))
    async with alert_bot() as bot:
        await bot.settle()
        (root,) = bot.channel_roots()
        (note,) = [m for m in bot.thread(root.ts) if m.text.startswith("✅ Resolved")]
        assert "The diagnosis is still running" in note.text
        head = bot.slack.message(CHANNEL, root.ts)
        assert head is not None and head.text.startswith("✅ resolved")
        assert len(await bot.app.store.list_incidents()) == 1


async def test_a_group_key_longer_than_its_column_still_finds_its_thread(
    alert_bot: BotFactory,
) -> None:
    long_key = "{}:{" + ", ".join(f'label{i}="{"v" * 40}"' for i in range(40)) + "}"
    assert len(long_key) > 1024
    async with alert_bot() as bot:
        await bot.deliver(delivery(alert(), group_key=long_key))
        await bot.settle()
        other = alert(fingerprint="0e0e0e0e0e0e0e0e")
        await bot.deliver(delivery(other, group_key=long_key))
        await bot.settle()
        (root,) = bot.channel_roots()
        assert any("New alerts in this group (1)" in m.text for m in bot.thread(root.ts))
