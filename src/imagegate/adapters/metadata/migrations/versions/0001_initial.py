"""Initial schema: accounts, API tokens, signing keys, variants, images.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def _account_fk(primary_key: bool) -> sa.Column[str]:
    return sa.Column(
        "account_id",
        sa.String(32),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("flexible_variants", sa.Boolean, nullable=False),
        sa.Column("browser_ttl", sa.Integer, nullable=False),
        sa.Column("image_quota", sa.Integer, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        _account_fk(primary_key=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.String(100), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    op.create_index("ix_api_tokens_account_id", "api_tokens", ["account_id"])
    op.create_table(
        "signing_keys",
        _account_fk(primary_key=True),
        sa.Column("name", sa.String(20), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("verifications", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "variants",
        _account_fk(primary_key=True),
        sa.Column("name", sa.String(99), primary_key=True),
        sa.Column("options", JSONType, nullable=False),
        sa.Column("never_require_signed_urls", sa.Boolean, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "images",
        _account_fk(primary_key=True),
        sa.Column("id_digest", sa.String(64), primary_key=True),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("uploaded_ms", sa.BigInteger, nullable=False),
        sa.Column("require_signed_urls", sa.Boolean, nullable=False),
        sa.Column("meta", JSONType, nullable=False),
        sa.Column("creator", sa.String(1024), nullable=True),
        sa.Column("draft", sa.Boolean, nullable=False),
        sa.Column("format", sa.String(8), nullable=True),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("blob_key", sa.String(100), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_index(
        "ix_images_account_uploaded", "images", ["account_id", "uploaded_ms", "id_digest"]
    )


def downgrade() -> None:
    for table in ("images", "variants", "signing_keys", "api_tokens", "accounts"):
        op.drop_table(table)
