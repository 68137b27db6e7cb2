"""A lease on ``started`` ledger rows: the owner's token and when its lease runs out.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ledger", sa.Column("owner", sa.String(64)))
    op.add_column("ledger", sa.Column("lease_expires_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("owner")
