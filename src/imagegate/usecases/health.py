"""Whether this node can serve: the database answers, the blob store answers and is
writable, and the schema is the one the code expects. Read only: nothing here writes."""

from __future__ import annotations

from imagegate.core.errors import ImagegateError, SchemaMismatch
from imagegate.usecases.ports import BlobStore, SchemaStore
from imagegate.usecases.records import SchemaStatus


class Health:
    def __init__(self, schema: SchemaStore, blobs: BlobStore) -> None:
        self.schema = schema
        self.blobs = blobs

    def checks(self) -> dict[str, str]:
        """``ok`` or ``unavailable`` for the metadata database and the blob store."""
        found = {}
        for name, ping in (("metadata", self.schema.ping), ("blobs", self.blobs.ping)):
            try:
                ping()
                found[name] = "ok"
            except ImagegateError:
                found[name] = "unavailable"
        return found

    def schema_status(self) -> SchemaStatus:
        """Where the database's schema stands (raises ``StorageError`` if it cannot say)."""
        return self.schema.schema_status()

    def require_current_schema(self, *, migrate: bool | None = None) -> SchemaStatus:
        """Make sure the schema is the one the code expects before serving or writing.

        An older schema is migrated (under the database's lock) when ``migrate`` says so;
        None means: the embedded database yes (one node owns it, and an upgrade should
        just work), a shared one no (``imagegate migrate`` is a step of its own, so
        nodes of different versions never change the schema under each other). Raises
        ``SchemaMismatch`` for an older schema left alone, and always for a newer one."""
        status = self.schema.schema_status()
        if status.up_to_date:
            return status
        if status.newer:
            raise SchemaMismatch(
                f"the database's schema is at {status.current}, newer than this version of "
                f"imagegate knows (it expects {status.head}): run the newer version"
            )
        if migrate is None:
            migrate = self.schema.embedded
        if not migrate:
            raise SchemaMismatch(
                f"the database's schema is at {status.current or 'nothing (empty)'}, this "
                f"version of imagegate expects {status.head}: run `imagegate migrate` first"
            )
        self.schema.migrate()
        return self.schema.schema_status()
