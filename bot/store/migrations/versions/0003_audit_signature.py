"""A signature on each audit row, so a rewrite by someone without the audit key is detected.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit", sa.Column("signature", sa.String(128)))


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("signature")
