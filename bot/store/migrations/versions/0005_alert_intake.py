"""Alertmanager intake: deliveries as received, one row per distinct alert event, and one
incident thread per alert group.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("receiver", sa.String(256), nullable=False),
        sa.Column("truncated_alerts", sa.Integer(), nullable=False),
        sa.Column("alerts_new", sa.Integer(), nullable=False),
        sa.Column("alerts_duplicate", sa.Integer(), nullable=False),
        sa.Column("alerts_rejected", sa.Integer(), nullable=False),
    )
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(512), nullable=False, unique=True),
        sa.Column(
            "delivery_id", sa.String(64), sa.ForeignKey("alert_deliveries.id"), nullable=False
        ),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("alertname", sa.String(256)),
        sa.Column("target", sa.String(256)),
        sa.Column("fingerprint", sa.String(64)),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("generator_url", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "status IN ('firing','resolved','rejected')", name="ck_alert_events_status"
        ),
        sa.CheckConstraint(
            "kind IN ('model','fleet','infrastructure','rejected')", name="ck_alert_events_kind"
        ),
    )
    op.create_index("ix_alert_events_unprocessed", "alert_events", ["processed_at", "id"])
    op.create_table(
        "alert_threads",
        sa.Column("group_key", sa.String(1024), primary_key=True),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("thread_ts", sa.String(64), nullable=False),
        sa.Column("target", sa.String(256), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('firing','resolved')", name="ck_alert_threads_state"),
    )


def downgrade() -> None:
    op.drop_table("alert_threads")
    op.drop_index("ix_alert_events_unprocessed", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_table("alert_deliveries")
