"""Who may click Approve, and what a click that does not count does: nothing, except an ephemeral
explanation to the clicker and an audit entry."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.agent.policy import ApprovalPolicy, RiskRule
from bot.slack.recovery import sweep_expired
from localslack.server import SlackState
from tests.slack.helpers import (
    button_value,
    click,
    click_body,
    has_buttons,
    proposal_messages,
    signed,
    slash,
    texts,
    thread_of,
)

ONCALL = "S0ONCALL"


def group_policy() -> ApprovalPolicy:
    rule = RiskRule(approvers=["U0ALICE"], groups=[ONCALL])
    return ApprovalPolicy(low=rule, medium=rule, high=rule)


async def refusals(server: Any, proposal_id: str) -> list[dict[str, Any]]:
    entries = await server.app.store.list_audit()
    return [
        e.payload
        for e in entries
        if e.kind == "rejection"
        and "refused" in e.payload
        and e.payload.get("proposal_id") == proposal_id
    ]


async def open_to_proposal(server: Any, http: Any, state: SlackState) -> Any:
    await slash(http, "sentiment-endpoint")
    await server.surface.idle()
    (proposal,) = proposal_messages(state)
    return proposal.model_copy(deep=True)  # as it was posted, with its buttons


async def test_a_member_of_an_approver_group_approves_and_a_non_member_cannot(
    bot_factory: Any, local_slack: tuple[SlackState, str]
) -> None:
    slack, _ = local_slack
    slack.usergroups = {ONCALL: ["U0DAN", "U0ERIN"]}
    async with bot_factory(approval_policy=group_policy()) as (server, http, state):
        proposal = await open_to_proposal(server, http, state)
        await click(http, proposal, "U0BOB")  # in APPROVERS, but not in this policy
        await server.surface.idle()
        assert await server.app.store.list_ledger() == []
        assert [e.user for e in state.ephemerals] == ["U0BOB"]
        assert "may not approve" in state.ephemerals[0].text
        assert len(await refusals(server, button_value(proposal))) == 1
        assert any(c["method"] == "usergroups.users.list" for c in state.calls)

        await click(http, proposal, "U0DAN")  # a member of the on-call group
        await server.surface.idle()
        ledger = await server.app.store.list_ledger()
        assert [e.state for e in ledger] == ["succeeded"]
        approval = await server.app.store.get_approval(button_value(proposal))
        assert approval is not None and approval.actor == "U0DAN"


async def test_forged_replayed_foreign_and_decided_clicks_change_nothing_and_are_audited(
    bot: Any,
) -> None:
    server, http, state = bot
    proposal = await open_to_proposal(server, http, state)
    proposal_id = button_value(proposal)
    body = click_body(proposal_id, proposal, "U0BOB")
    # Forged (wrong secret) or replayed (old timestamp): 401, before any listener.
    assert (
        await http.post("/slack/events", content=body, headers=signed(body, "forged"))
    ).status_code == 401
    stale = signed(body, at=time.time() - 400)
    assert (await http.post("/slack/events", content=body, headers=stale)).status_code == 401
    # Another workspace, and a proposal id that does not exist.
    await click(http, proposal, "U0BOB", team="T0OTHER")
    other = click_body("prop-forged", proposal, "U0BOB")
    await http.post("/slack/events", content=other, headers=signed(other))
    await server.surface.idle()
    assert await server.app.store.list_ledger() == []
    shown = state.message(proposal.channel, proposal.ts)
    assert shown is not None and has_buttons(shown)
    assert [r["refused"] for r in await refusals(server, proposal_id)] == [
        "this proposal belongs to another workspace"
    ]
    assert len(await refusals(server, "prop-forged")) == 1
    assert len(state.ephemerals) == 2

    await click(http, proposal, "U0ALICE", action="proposal_reject")
    await server.surface.idle()
    # The decided proposal: a later click (a Slack redelivery, a second person) changes nothing.
    await click(http, proposal, "U0BOB")
    await server.surface.idle()
    assert await server.app.store.list_ledger() == []
    approval = await server.app.store.get_approval(proposal_id)
    assert approval is not None and approval.decision == "rejected"
    assert "not awaiting" in state.ephemerals[-1].text and state.ephemerals[-1].user == "U0BOB"
    assert len(await refusals(server, proposal_id)) == 2


async def test_an_expired_proposal_loses_its_buttons_and_clicks_on_it_are_refused(
    bot_factory: Any,
) -> None:
    async with bot_factory(proposal_ttl_s=1) as (server, http, state):
        proposal = await open_to_proposal(server, http, state)
        await asyncio.sleep(1.2)
        await click(http, proposal, "U0BOB")
        await server.surface.idle()
        assert "expired" in state.ephemerals[-1].text
        assert await server.app.store.list_ledger() == []
        assert await sweep_expired(server.surface) == 1
        await server.surface.idle()
        shown = state.message(proposal.channel, proposal.ts)
        assert shown is not None and not has_buttons(shown) and "expired" in shown.text
        expired = await server.app.store.get_proposal(button_value(proposal))
        assert expired is not None and expired.status == "expired"
        # The incident went on in its thread: the next remedy, or the outcome.
        _, thread = thread_of(state)
        assert len(proposal_messages(state)) == 1 or "Final state" in texts(thread)
        assert len(await refusals(server, button_value(proposal))) == 1
