"""Whether this node can serve: the database answers, the blob store answers and is
writable, and the schema is the one the code expects. Read only: nothing here writes."""

from __future__ import annotations

from imagegate.core.errors import ImagegateError
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
