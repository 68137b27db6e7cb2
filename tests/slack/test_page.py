"""The local Slack's web page in a real headless Chromium (Debian's, driven by Playwright): a
whole incident from the page, slash command to executed change, through signed requests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, async_playwright, expect

from localslack.page import ButtonClicked, SlashTyped, action_form, signed_headers, slash_form
from localslack.server import SlackState
from tests.slack.conftest import serve
from tests.slack.helpers import SECRET, TOKEN, signed

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        await launched.close()


def test_the_page_signs_exactly_as_slack_does() -> None:
    body = slash_form(SlashTyped(text="qa_agent"))
    headers = signed_headers(SECRET, body, at=1_700_000_000)
    assert headers == signed(body, at=1_700_000_000)
    state = SlackState(token=TOKEN, signing_secret=SECRET, bot_events_url="http://bot")
    assert "signing_secret" not in state.model_dump() and "bot_events_url" not in state.model_dump()
    click = ButtonClicked(channel="C1", ts="1.2", action_id="proposal_approve", value="prop-1")
    assert "block_actions" in action_form(state, click)


async def test_a_whole_incident_from_the_page(
    bot_factory: Any, local_slack: tuple[SlackState, str], browser: Browser
) -> None:
    state, api_url = local_slack
    async with bot_factory() as (server, _http, _state), serve(server.http) as bot_url:
        state.bot_events_url, state.signing_secret = f"{bot_url}/slack/events", SECRET
        page = await browser.new_page()
        await page.goto(api_url.removesuffix("api/"))
        await page.fill("#user", "U0CAROL")
        await page.fill("#command", "sentiment-endpoint")
        await page.press("#command", "Enter")

        # The thread: the incident message, the walk as task cards, the proposal's buttons.
        await expect(page.locator(".root .meta").first).to_be_visible(timeout=30_000)
        approve = page.locator(".thread button.primary", has_text="Approve")
        await expect(approve).to_be_visible(timeout=60_000)
        assert await page.locator(".thread .task").count() >= 3
        await expect(page.locator(".ephemeral").first).to_contain_text("Opening an incident")

        await page.fill("#user", "U0BOB")  # four eyes: another person approves
        await approve.click()
        await expect(page.locator("#modal")).to_be_visible()
        await page.click("#modal-confirm")
        await expect(page.locator(".thread")).to_contain_text("Final state", timeout=60_000)
        await expect(page.locator(".thread button", has_text="Approve")).to_have_count(0)
        await expect(page.locator(".thread")).to_contain_text("approved by")

        await server.surface.idle()
        ledger = await server.app.store.list_ledger()
        assert [(e.tool, e.state) for e in ledger] == [
            ("rollback_to_previous_champion", "succeeded")
        ]
        assert [a.actor for a in await server.app.store.list_approvals()] == ["U0BOB"]
