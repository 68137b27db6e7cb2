"""Slack user groups for the approval policy: members read with ``usergroups.users.list``.

The policy authorises user ids and the members of user groups, never display names. Members are
cached for a short while (a click storm must not become a storm of Web API calls) and a group
Slack cannot list counts as empty: an unreadable group approves nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)
GROUP_CACHE_S = 60.0


class UserGroups:
    """Members of Slack user groups, by group id (``S…``), cached for ``ttl_s``."""

    def __init__(self, client: AsyncWebClient, ttl_s: float = GROUP_CACHE_S) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def members(self, groups: Collection[str]) -> Mapping[str, Collection[str]]:
        """``{group id: member user ids}`` for each of ``groups`` (the policy's ``groups_of``)."""
        return {group: await self._members(group) for group in groups}

    async def _members(self, group: str) -> frozenset[str]:
        cached = self._cache.get(group)
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        try:
            answer = await self.client.usergroups_users_list(usergroup=group)
            users = frozenset(str(u) for u in answer.get("users") or [])
        except SlackApiError as exc:
            log.warning("user group %s unreadable: %s", group, exc.response.get("error"))
            users = frozenset()
        self._cache[group] = (time.monotonic(), users)
        return users
