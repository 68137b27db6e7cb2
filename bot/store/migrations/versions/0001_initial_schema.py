"""The schema as ``metadata.create_all`` built it before migrations existed.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_PROPOSAL_STATUSES = "'pending','approved','rejected','expired','executed','failed'"


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("target", sa.String(256), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("runbook", sa.String(128)),
        sa.Column("thread_ref", sa.String(256)),
        sa.Column("final_state", sa.JSON()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_incidents_target_status", "incidents", ["target", "status"])
    op.create_index("ix_incidents_thread_ref", "incidents", ["thread_ref"])
    op.create_table(
        "proposals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("incident_id", sa.String(64), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("tool", sa.String(128), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("dry_run", sa.JSON(), nullable=False),
        sa.Column("risk", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(256), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"status IN ({_PROPOSAL_STATUSES})", name="ck_proposals_status"),
    )
    op.create_index("ix_proposals_incident", "proposals", ["incident_id"])
    op.create_table(
        "approvals",
        sa.Column("proposal_id", sa.String(64), sa.ForeignKey("proposals.id"), primary_key=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(256)),
        sa.Column("reason", sa.Text()),
        sa.CheckConstraint("decision IN ('approved','rejected')", name="ck_approvals_decision"),
    )
    op.create_table(
        "ledger",
        sa.Column("idempotency_key", sa.String(256), primary_key=True),
        sa.Column("proposal_id", sa.String(64)),
        sa.Column("tool", sa.String(128), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("result", sa.JSON()),
        sa.CheckConstraint("state IN ('started','succeeded','failed')", name="ck_ledger_state"),
    )
    op.create_table(
        "audit",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("incident_id", sa.String(64)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_incident", "audit", ["incident_id"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for index, table in (
        ("ix_audit_incident", "audit"),
        ("ix_proposals_incident", "proposals"),
        ("ix_incidents_thread_ref", "incidents"),
        ("ix_incidents_target_status", "incidents"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("audit_head", "audit", "ledger", "approvals", "proposals", "incidents"):
        op.drop_table(table)
