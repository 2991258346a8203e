"""Builds ``imagegate migrate-store``: the embedded store of a data directory (SQLite and
its blob directory) as the source, a database URL and a blob URL as the target."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from imagegate.adapters.keyseal import KeySeal
from imagegate.adapters.metadata.database import Database
from imagegate.adapters.metadata.tables import SqlTables
from imagegate.adapters.storage import open_blob_store
from imagegate.adapters.storage.sizes import size_of
from imagegate.core.errors import StorageError
from imagegate.settings import Settings
from imagegate.usecases.store_move import MoveRefused, StoreMove

DATABASE_FILE = "imagegate.db"


def store_move(
    settings: Settings, to_database_url: str, to_blob_url: str, *, jobs: int = 4
) -> StoreMove:
    """The move of the embedded store in ``settings.data_dir`` to the target URLs. The
    source is always the data directory's own SQLite file and ``blobs`` directory, whatever
    ``IMAGEGATE_DATABASE_URL`` and ``IMAGEGATE_BLOB_URL`` say (they may name the target)."""
    database = (settings.data_dir / DATABASE_FILE).resolve()
    if not database.is_file():
        raise MoveRefused(f"no embedded store in {settings.data_dir} ({DATABASE_FILE} is missing)")
    if _same_file(to_database_url, database):
        raise MoveRefused("the target database is the source's")
    try:
        target = Database(to_database_url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError):
        raise MoveRefused("the target database URL is not one imagegate can open") from None
    source = Database(f"sqlite:///{database}")
    try:
        target_blobs = open_blob_store(to_blob_url)
    except StorageError as exc:
        raise MoveRefused(f"the target blob store: {exc.message}") from None
    master = settings.master_key.get_secret_value() if settings.master_key else None
    return StoreMove(
        SqlTables(source),
        SqlTables(target),
        open_blob_store(str((settings.data_dir / "blobs").resolve())),
        target_blobs,
        size_of(target_blobs),
        KeySeal(master),
        jobs=jobs,
    )


def _same_file(url: str, database: Path) -> bool:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return False
    if not parsed.drivername.startswith("sqlite") or not parsed.database:
        return False
    return Path(parsed.database).resolve() == database


__all__ = ["store_move"]
