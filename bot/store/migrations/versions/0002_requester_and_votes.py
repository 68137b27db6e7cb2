"""The incident's requester, and one row per approval vote (for two-approver decisions).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("requested_by", sa.String(256)))
    op.create_table(
        "approval_votes",
        sa.Column("proposal_id", sa.String(64), sa.ForeignKey("proposals.id"), primary_key=True),
        sa.Column("actor", sa.String(256), primary_key=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(256)),
        sa.Column("reason", sa.Text()),
        sa.CheckConstraint(
            "decision IN ('approved','rejected')", name="ck_approval_votes_decision"
        ),
    )
    # Votes cast before this revision are the final decisions already in ``approvals``.
    op.execute(
        "INSERT INTO approval_votes (proposal_id, actor, decision, at, source, channel, reason)"
        " SELECT proposal_id, actor, decision, at, source, channel, reason FROM approvals"
    )


def downgrade() -> None:
    op.drop_table("approval_votes")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("requested_by")
