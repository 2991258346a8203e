"""Direct creator uploads (draft images with a one-time upload token) and expiring API
tokens (batch tokens).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("upload_token_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("upload_expires_ms", sa.BigInteger, nullable=True))
        batch.create_index("ix_images_upload_token_hash", ["upload_token_hash"], unique=True)
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_ms", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_ms")
    with op.batch_alter_table("images") as batch:
        batch.drop_index("ix_images_upload_token_hash")
        batch.drop_column("upload_expires_ms")
        batch.drop_column("upload_token_hash")
