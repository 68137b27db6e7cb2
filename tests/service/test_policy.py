"""The approval policy is a pure function: who may answer a proposal of each risk level."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.agent.policy import ApprovalPolicy, RiskRule, may_approve
from bot.settings import Settings

DEFAULT = ApprovalPolicy.from_approvers(["alice", "bob"])


@pytest.mark.parametrize("risk", ["low", "medium"])
def test_an_approver_may_approve_their_own_incidents_low_and_medium_changes(risk: str) -> None:
    verdict = may_approve(DEFAULT, risk=risk, actor="alice", requester="alice")
    assert verdict.allowed and verdict.required == 1


def test_a_high_risk_change_needs_someone_other_than_the_requester() -> None:
    own = may_approve(DEFAULT, risk="high", actor="alice", requester="alice")
    assert not own.allowed and own.code == "requester"
    assert may_approve(DEFAULT, risk="high", actor="bob", requester="alice").allowed
    # Saying no to one's own high-risk change is always allowed.
    assert may_approve(DEFAULT, risk="high", actor="alice", requester="alice", approving=False)


def test_outsiders_may_neither_approve_nor_reject() -> None:
    for approving in (True, False):
        verdict = may_approve(
            DEFAULT, risk="low", actor="mallory", requester="alice", approving=approving
        )
        assert not verdict.allowed and verdict.code == "unauthorised"


def test_group_members_approve_and_a_rule_can_require_two() -> None:
    policy = ApprovalPolicy(
        low=RiskRule(approvers=["alice"]),
        medium=RiskRule(groups=["S0SRE"]),
        high=RiskRule(groups=["S0SRE"], required=2, requester_may_approve=False),
    )
    groups = {"S0SRE": {"U1", "U2"}}
    assert may_approve(policy, risk="medium", actor="U1", requester="x", groups_of=groups).allowed
    assert not may_approve(
        policy, risk="medium", actor="U3", requester="x", groups_of=groups
    ).allowed
    high = may_approve(policy, risk="high", actor="U2", requester="U1", groups_of=groups)
    assert high.allowed and high.required == 2 and high.excluded == ["U1"]
    assert may_approve(
        policy, risk="unknown", actor="U2", requester="U2", groups_of=groups
    ).code == ("requester"), "an unknown risk level is treated as high"


def test_the_policy_comes_from_the_settings_and_is_validated() -> None:
    settings = Settings(
        _env_file=None,
        approval_policy={
            "low": {"approvers": ["a"]},
            "medium": {"approvers": ["a"]},
            "high": {"approvers": ["a", "b"], "required": 2, "requester_may_approve": False},
        },
    )
    assert settings.policy().high.required == 2
    assert Settings(_env_file=None, approvers=["z"]).policy() == ApprovalPolicy.from_approvers(
        ["z"]
    )
    with pytest.raises(ValidationError):
        Settings(_env_file=None, approval_policy={"low": {"required": 3}})
