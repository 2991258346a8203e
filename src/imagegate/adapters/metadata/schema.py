"""The one schema, as SQLAlchemy Core tables. Times are integer milliseconds since the epoch,
so SQLite and PostgreSQL sort, compare and page on them the same way.

Images are keyed by the SHA-256 of their id (``id_digest``), not the id itself: a custom id
may be 1,024 characters of UTF-8 (up to 4 KB), past what a PostgreSQL btree entry holds."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("flexible_variants", sa.Boolean, nullable=False),
    sa.Column("browser_ttl", sa.Integer, nullable=False),
    sa.Column("image_quota", sa.Integer, nullable=False),
    sa.Column("keep_gps", sa.Boolean, nullable=False, server_default=sa.false()),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(32),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.String(100), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False),
    sa.Column("expires_ms", sa.BigInteger, nullable=True),  # batch tokens expire
    # The token this one was made with (a batch token, or one made in a dashboard session
    # opened with a token): revoking a token revokes every token below it, at once.
    sa.Column("parent_id", sa.String(32), nullable=True, index=True),
    sa.Column("batch", sa.Boolean, nullable=False, server_default=sa.false()),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column(
        "account_id",
        sa.String(32),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("name", sa.String(20), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("verifications", sa.BigInteger, nullable=False),
)

variants = sa.Table(
    "variants",
    metadata,
    sa.Column(
        "account_id",
        sa.String(32),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("name", sa.String(99), primary_key=True),
    sa.Column("options", JSONType, nullable=False),
    sa.Column("never_require_signed_urls", sa.Boolean, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

images = sa.Table(
    "images",
    metadata,
    sa.Column(
        "account_id",
        sa.String(32),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
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
    # Direct creator uploads: a draft waits for one POST carrying this token's secret.
    sa.Column("upload_token_hash", sa.String(64), nullable=True),
    sa.Column("upload_expires_ms", sa.BigInteger, nullable=True),
    # The API token that asked for the upload URL: revoking it withdraws the URL.
    sa.Column("draft_token_id", sa.String(32), nullable=True, index=True),
    sa.Index("ix_images_account_uploaded", "account_id", "uploaded_ms", "id_digest"),
    sa.Index("ix_images_upload_token_hash", "upload_token_hash", unique=True),
)

# Dashboard sign-ins. The cookie carries a random id; only its SHA-256 is stored, so a copy
# of the database cannot be used to sign in. A token session names its API token, and ends
# when that token (or one it was made with) is revoked, or expires.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(32),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=True,
    ),
    sa.Column("token_id", sa.String(32), nullable=True),
    sa.Column("admin", sa.Boolean, nullable=False),
    sa.Column("read_only", sa.Boolean, nullable=False),
    # Whether the session may see and use signing-key values (admin, or an edit token that
    # does not expire).
    sa.Column("key_access", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_sessions_expires_ms", "expires_ms"),
    sa.Index("ix_sessions_token_id", "token_id"),
)

# The dashboard's admin password (one row, id 1), as an scrypt hash with its parameters.
admin_credentials = sa.Table(
    "admin_credentials",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
)
