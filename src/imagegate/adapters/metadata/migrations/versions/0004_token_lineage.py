"""Token lineage: a token made with another token names it (and dies with it); batch tokens
are marked; a draft names the token that asked for its upload URL; a dashboard session
records whether it may see signing-key values.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("batch", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.create_index("ix_api_tokens_parent_id", ["parent_id"])
    # Tokens made before this revision by GET /batch_token carry the name "batch" and an expiry.
    tokens = sa.table(
        "api_tokens",
        sa.column("name", sa.String),
        sa.column("expires_ms", sa.BigInteger),
        sa.column("batch", sa.Boolean),
    )
    op.execute(
        tokens.update()
        .where(tokens.c.name == "batch", tokens.c.expires_ms.is_not(None))
        .values(batch=True)
    )
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("draft_token_id", sa.String(32), nullable=True))
        batch.create_index("ix_images_draft_token_id", ["draft_token_id"])
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(
            sa.Column("key_access", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.create_index("ix_sessions_token_id", ["token_id"])
    # Sessions open now keep what they could do: every session but a read-only one saw keys.
    sessions = sa.table(
        "sessions", sa.column("read_only", sa.Boolean), sa.column("key_access", sa.Boolean)
    )
    op.execute(sessions.update().where(sessions.c.read_only.is_(False)).values(key_access=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index("ix_sessions_token_id")
        batch.drop_column("key_access")
    with op.batch_alter_table("images") as batch:
        batch.drop_index("ix_images_draft_token_id")
        batch.drop_column("draft_token_id")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index("ix_api_tokens_parent_id")
        batch.drop_column("batch")
        batch.drop_column("parent_id")
