"""Who may approve what: the approval policy, a pure function of configuration and the request.

The policy comes from the settings (``APPROVAL_POLICY``, JSON), with a default built from
``APPROVERS``. High-risk changes always need an approver other than the person who opened the
incident (four eyes); a rule may require two distinct approvers.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from pydantic import BaseModel, ConfigDict, Field

from bot.domain import Risk


class RiskRule(BaseModel):
    """Who may approve changes of one risk level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    approvers: list[str] = Field(default_factory=list, description="user ids allowed to approve")
    groups: list[str] = Field(
        default_factory=list, description="user groups (Slack user group ids) whose members may"
    )
    required: int = Field(1, ge=1, le=2, description="distinct approvals needed")
    requester_may_approve: bool = True


class ApprovalPolicy(BaseModel):
    """One rule per risk level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: RiskRule
    medium: RiskRule
    high: RiskRule

    @classmethod
    def from_approvers(cls, approvers: list[str]) -> ApprovalPolicy:
        """The default: the listed approvers for every risk; never one's own high-risk change."""
        return cls(
            low=RiskRule(approvers=approvers),
            medium=RiskRule(approvers=approvers),
            high=RiskRule(approvers=approvers, requester_may_approve=False),
        )

    def rule(self, risk: Risk | str) -> RiskRule:
        """The rule for ``risk``; an unknown risk level is treated as high."""
        return {"low": self.low, "medium": self.medium}.get(str(risk), self.high)


class PolicyVerdict(BaseModel):
    """Whether ``actor`` may approve, and what the store must enforce in its compare-and-set."""

    allowed: bool
    code: str = ""
    message: str = ""
    required: int = 1
    excluded: list[str] = Field(default_factory=list, description="actors who may not approve")


def may_approve(
    policy: ApprovalPolicy,
    *,
    risk: Risk | str,
    actor: str,
    requester: str | None,
    approving: bool = True,
    groups_of: Mapping[str, Collection[str]] | None = None,
) -> PolicyVerdict:
    """Judge one answer. Only an approver may say yes or no; the four-eyes rule applies to yes
    alone (saying no to one's own incident's change is always safe).

    ``groups_of`` maps a group id to its members (resolved by the caller, e.g. from Slack's
    ``usergroups.users.list``); the policy itself does no I/O.
    """
    rule = policy.rule(risk)
    excluded = [] if rule.requester_may_approve or not requester else [requester]
    members = {m for g in rule.groups for m in (groups_of or {}).get(g, ())}
    if actor not in rule.approvers and actor not in members:
        return PolicyVerdict(
            allowed=False,
            code="unauthorised",
            message=f"{actor} may not approve {risk}-risk changes",
            required=rule.required,
            excluded=excluded,
        )
    if approving and actor in excluded:
        return PolicyVerdict(
            allowed=False,
            code="requester",
            message=f"{actor} opened this incident; a {risk}-risk change needs another approver",
            required=rule.required,
            excluded=excluded,
        )
    return PolicyVerdict(allowed=True, required=rule.required, excluded=excluded)
