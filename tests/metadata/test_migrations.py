"""The Alembic migrations build exactly the schema the code declares, on every backend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import imagegate.adapters.metadata.database
from databases import own_database
from imagegate.adapters.metadata import SqlMetadata
from imagegate.adapters.metadata.schema import metadata
from imagegate.core.models import Account

MIGRATIONS = Path(imagegate.adapters.metadata.database.__file__).with_name("migrations")


def _head() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def _current(store: SqlMetadata) -> str | None:
    with store.database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_migrations_match_the_declared_schema(store: SqlMetadata) -> None:
    store.migrate()
    with store.database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def _extra_table(target: sa.MetaData) -> None:
    sa.Table("extra", target, sa.Column("id", sa.Integer, primary_key=True))


def _narrower_column(target: sa.MetaData) -> None:
    target.tables["accounts"].c.name.type = sa.String(100)


def _extra_index(target: sa.MetaData) -> None:
    sa.Index("ix_accounts_name", target.tables["accounts"].c.name)


@pytest.mark.parametrize(
    "tweak", [_extra_table, _narrower_column, _extra_index], ids=["table", "type", "index"]
)
def test_the_comparison_sees_differences(
    store: SqlMetadata, tweak: Callable[[sa.MetaData], None]
) -> None:
    """A control: the check above is not vacuous."""
    tweaked = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(tweaked)
    tweak(tweaked)
    with store.database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, tweaked) != []


def test_every_declared_table_exists(store: SqlMetadata) -> None:
    tables = set(sa.inspect(store.database.engine).get_table_names())
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables


def test_migrate_is_at_head_and_idempotent(store: SqlMetadata) -> None:
    assert _head() is not None
    assert _current(store) == _head()
    account = Account("acctm", "hashm", "m", datetime(2024, 5, 17, 12, 0, 0, 123000, tzinfo=UTC))
    store.accounts.create(account)
    store.migrate()
    store.migrate()
    assert _current(store) == _head()
    assert store.accounts.all() == [account]


def test_0004_marks_old_batch_tokens_and_keeps_sessions_rights(tmp_path: Path) -> None:
    """Rows written before token lineage: tokens that GET /batch_token made are marked as
    batch tokens, and open sessions keep what they could do (read-only ones see no keys)."""
    store = SqlMetadata.open(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.database.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
        conn.execute(
            sa.text(
                "INSERT INTO accounts (id, hash, name, created_ms, flexible_variants,"
                " browser_ttl, image_quota) VALUES ('acct', 'hash', 'a', 0, 0, 60, 10)"
            )
        )
        for token_id, name, expires in (("b", "batch", 900), ("n", "batch", None), ("t", "x", 5)):
            conn.execute(
                sa.text(
                    "INSERT INTO api_tokens (id, account_id, name, token_hash, scopes,"
                    " created_ms, revoked, expires_ms) VALUES (:id, 'acct', :name, :hash,"
                    " 'edit,read', 0, 0, :expires)"
                ),
                {"id": token_id, "name": name, "hash": f"h{token_id}", "expires": expires},
            )
        for id_hash, read_only in (("ro", 1), ("rw", 0)):
            conn.execute(
                sa.text(
                    "INSERT INTO sessions (id_hash, account_id, token_id, admin, read_only,"
                    " csrf_token, created_ms, expires_ms) VALUES (:id, 'acct', 'n', 0, :ro,"
                    " 'c', 0, 10)"
                ),
                {"id": id_hash, "ro": read_only},
            )
    store.migrate()
    assert {t.id: t.batch for t in store.tokens.all("acct")} == {"b": True, "n": False, "t": False}
    kept = {h: store.sessions.find(h, 0) for h in ("ro", "rw")}
    assert {h: s.key_access for h, s in kept.items() if s is not None} == {
        "ro": False,
        "rw": True,
    }
    store.close()


#: The schema the last release shipped, and a row for every one of its tables.
RELEASED = "0003"
RELEASED_ROWS = {
    "accounts": "INSERT INTO accounts (id, hash, name, created_ms, flexible_variants,"
    " browser_ttl, image_quota) VALUES ('acct', 'hash', 'a', 0, true, 60, 10)",
    "api_tokens": "INSERT INTO api_tokens (id, account_id, name, token_hash, scopes,"
    " created_ms, revoked, expires_ms) VALUES ('t', 'acct', 'x', 'h', 'edit,read', 0, false, NULL)",
    "signing_keys": "INSERT INTO signing_keys (account_id, name, value, created_ms,"
    " verifications) VALUES ('acct', 'default', 'v', 0, 3)",
    "variants": "INSERT INTO variants (account_id, name, options, never_require_signed_urls,"
    " created_ms) VALUES ('acct', 'public', '{\"fit\": \"scale-down\"}', false, 0)",
    "images": "INSERT INTO images (account_id, id_digest, id, filename, uploaded_ms,"
    " require_signed_urls, meta, creator, draft, format, width, height, size, blob_key,"
    " sha256) VALUES ('acct', 'd', 'i', 'f', 0, true, '{}', NULL, false, 'jpeg', 1, 1, 1,"
    " 'originals/acct/aa/b', 's')",
    "sessions": "INSERT INTO sessions (id_hash, account_id, token_id, admin, read_only,"
    " csrf_token, created_ms, expires_ms) VALUES ('s', 'acct', 't', false, false, 'c', 0, 10)",
    "admin_credentials": "INSERT INTO admin_credentials (id, password_hash, updated_ms)"
    " VALUES (1, 'scrypt$x', 0)",
}


def _upgrade_released_store(url: str) -> dict[str, int]:
    """Rows per table after a store at the released schema, one row in each table, is
    migrated to the head by the server's own ``migrate``."""
    store = SqlMetadata.open(url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with store.database.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, RELEASED)
            for insert in RELEASED_ROWS.values():
                conn.execute(sa.text(insert))
        store.migrate()
        with store.database.engine.connect() as conn:
            return {
                table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in RELEASED_ROWS
            }
    finally:
        store.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_upgrading_a_released_store_keeps_every_row(backend: str, tmp_path: Path) -> None:
    """A migration that rebuilds a table (SQLite's batch mode) must not cascade: rebuilding
    ``accounts`` with foreign keys on once deleted every token, key, variant, image and
    session of the store."""
    if backend == "sqlite":
        counts = _upgrade_released_store(f"sqlite:///{tmp_path / 'released.db'}")
    else:
        with own_database(migrated=False) as url:
            counts = _upgrade_released_store(url)
    assert counts == dict.fromkeys(RELEASED_ROWS, 1)
