"""Accounts opt in to giving out GPS under ``metadata: keep`` (off for every account).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: every backend takes it in place, with no table rebuilt.
    op.add_column(
        "accounts", sa.Column("keep_gps", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("keep_gps")
