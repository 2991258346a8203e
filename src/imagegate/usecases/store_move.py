"""Moving a whole store into another database and blob store (``imagegate migrate-store``):
the embedded default (SQLite and a directory) into PostgreSQL and object storage.

The rules:

* **The source must be at the schema's head**, and hold no table the schema does not know:
  otherwise a row could be left behind. The target is created or migrated to the head first.
* **Everything in the schema moves**, table after table in foreign-key order, batch by batch:
  accounts and their settings, tokens (hashes and lineage), signing keys (as stored, sealed or
  not), variants, images and drafts, sessions, the admin password. Then the blob of every
  image record. Rendered variants are caches and are not copied; unreferenced blobs neither.
* **Insert if absent, by primary key**: a row the target already holds, equal field by field,
  is left alone; so is a blob the target holds with the record's size (writes are atomic on
  every blob store, so a present blob is a whole one). Running again is harmless, and an
  interrupted run resumes where it stopped; the verification catches anything else.
* **Never over another store**: before writing, every account the target holds must be in
  the source, equal. A row the target holds with different content (the target was used since
  it was copied, or the source changed) stops the copy with a list. ``force`` goes on anyway,
  replacing such rows with the source's and leaving the target's own rows as they are.
* **Verification** compares every row both ways, field by field, and the SHA-256 of every
  blob in the source and the target; it reads only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from imagegate.core.errors import BlobMissing, Conflict, StorageError
from imagegate.usecases.ports import BlobStore, KeySealer, TableStore
from imagegate.usecases.records import BlobRef, Row

T = TypeVar("T")

#: The table whose rows say whose store a database holds.
ACCOUNTS = "accounts"


class MoveRefused(Exception):
    """The move stopped before writing what it names: each reason is one line. ``kind`` says
    what would lift it: ``"schema"`` (migrate the source), ``"conflict"`` (an empty target,
    or forcing), anything else (a fix to the command)."""

    def __init__(self, summary: str, reasons: Iterable[str] = (), *, kind: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.reasons = list(reasons)
        self.kind = kind


class Progress(Protocol):
    """Where a long step says how far it is."""

    def begin(self, what: str, total: int, *, unit: str, total_bytes: int = 0) -> None: ...

    def advance(self, count: int, nbytes: int = 0) -> None: ...

    def end(self) -> None: ...


class Silent:
    """A progress that says nothing."""

    def begin(self, what: str, total: int, *, unit: str, total_bytes: int = 0) -> None:
        pass

    def advance(self, count: int, nbytes: int = 0) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass(slots=True)
class CopyReport:
    rows_copied: int = 0
    rows_present: int = 0
    rows_replaced: int = 0
    blobs_copied: int = 0
    blobs_present: int = 0
    bytes_copied: int = 0
    missing_in_source: list[str] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)  # rows seen in the source


@dataclass(slots=True)
class VerifyReport:
    rows: int = 0
    blobs: int = 0
    bytes: int = 0
    differences: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not self.differences


def differing_fields(a: Row, b: Row) -> list[str]:
    """The names of the fields two rows do not agree on (never their values)."""
    return sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))


class StoreMove:
    def __init__(
        self,
        source: TableStore,
        target: TableStore,
        source_blobs: BlobStore,
        target_blobs: BlobStore,
        target_size: Callable[[str], int | None],
        sealer: KeySealer,
        *,
        jobs: int = 4,
    ) -> None:
        self.source = source
        self.target = target
        self.source_blobs = source_blobs
        self.target_blobs = target_blobs
        self.target_size = target_size
        self.sealer = sealer
        self.jobs = jobs

    def close(self) -> None:
        self.source.close()
        self.target.close()

    # --- before anything ----------------------------------------------------------------------

    def check_source(self) -> None:
        """Refuse a source that is not at this version's schema, or holds unknown tables."""
        status = self.source.schema_status()
        if status.current is None:
            raise MoveRefused("the source holds no imagegate store")
        if not status.up_to_date:
            raise MoveRefused(
                f"the source's schema is at {status.current}, this version's is {status.head}",
                kind="schema",
            )
        unknown = self.source.unknown_tables()
        if unknown:
            raise MoveRefused(
                "the source holds tables this version does not know: " + ", ".join(unknown)
            )

    def _check_target_accounts(self, batch: int) -> None:
        """Every account the target holds must be the source's, equal field by field."""
        reasons = []
        for rows in self.target.batches(ACCOUNTS, batch):
            theirs = self._by_key(ACCOUNTS, self.source.find(ACCOUNTS, self._keys(ACCOUNTS, rows)))
            for row in rows:
                mine = theirs.get(self._key(ACCOUNTS, row))
                if mine is None:
                    reasons.append(f"account {row['id']} is in the target, not in the source")
                elif mine != row:
                    fields = ", ".join(differing_fields(mine, row))
                    reasons.append(f"account {row['id']} differs in the target ({fields})")
        if reasons:
            raise MoveRefused(
                "the target already holds a different store", reasons, kind="conflict"
            )

    # --- the copy -----------------------------------------------------------------------------

    def copy(
        self, *, batch: int = 500, force: bool = False, progress: Progress | None = None
    ) -> CopyReport:
        """Copy every row and every referenced blob that the target lacks (see the module)."""
        shown = progress or Silent()
        self.check_source()
        try:
            self.target.migrate()
        except StorageError as exc:
            raise StorageError(f"the target database: {exc.message}") from None
        if not force:
            self._check_target_accounts(batch)
        report = CopyReport()
        for table in self.source.tables():
            self._copy_table(table, batch, force, shown, report)
        self._copy_blobs(batch, shown, report)
        return report

    def _copy_table(
        self, table: str, batch: int, force: bool, progress: Progress, report: CopyReport
    ) -> None:
        progress.begin(table, self.source.count(table), unit="rows")
        seen = 0
        for rows in self.source.batches(table, batch):
            present = self._by_key(table, self.target.find(table, self._keys(table, rows)))
            absent = [row for row in rows if self._key(table, row) not in present]
            differing = [row for row in rows if present.get(self._key(table, row), row) != row]
            if differing and not force:
                raise MoveRefused(
                    f"the target holds rows of {table} that differ from the source's "
                    "(the target was written to since the copy, or the source changed)",
                    [
                        f"{table} {self._shown_key(table, row)}: "
                        + ", ".join(differing_fields(row, present[self._key(table, row)]))
                        for row in differing
                    ],
                    kind="conflict",
                )
            try:
                self.target.insert(table, absent)
            except Conflict:
                raise MoveRefused(
                    f"a row of {table} clashes with a different row of the target "
                    "on a unique column: the target holds another store",
                    kind="conflict",
                ) from None
            if differing:
                self.target.replace(table, differing)
            report.rows_copied += len(absent)
            report.rows_replaced += len(differing)
            report.rows_present += len(rows) - len(absent) - len(differing)
            seen += len(rows)
            progress.advance(len(rows))
        report.tables[table] = seen
        progress.end()

    def _copy_blobs(self, batch: int, progress: Progress, report: CopyReport) -> None:
        count, total = self._blob_totals(batch)
        progress.begin("blobs", count, unit="blobs", total_bytes=total)
        for refs in self.source.blob_refs(batch):
            for ref, (state, nbytes) in self._each(self._copy_blob, refs):
                if state == "copied":
                    report.blobs_copied += 1
                    report.bytes_copied += nbytes
                elif state == "present":
                    report.blobs_present += 1
                else:
                    report.missing_in_source.append(ref.key)
                progress.advance(1, nbytes)
        progress.end()

    def _copy_blob(self, ref: BlobRef) -> tuple[str, int]:
        if self.target_size(ref.key) == ref.size:
            return "present", ref.size
        try:
            data = self.source_blobs.get(ref.key)
        except BlobMissing:
            return "missing", 0
        self.target_blobs.put(ref.key, data)
        return "copied", len(data)

    def _blob_totals(self, batch: int) -> tuple[int, int]:
        count = total = 0
        for refs in self.source.blob_refs(batch):
            count += len(refs)
            total += sum(ref.size for ref in refs)
        return count, total

    # --- the verification ---------------------------------------------------------------------

    def verify(self, *, batch: int = 500, progress: Progress | None = None) -> VerifyReport:
        """Compare every row and every blob of the source with the target's; reads only."""
        shown = progress or Silent()
        self.check_source()
        report = VerifyReport()
        try:
            status = self.target.schema_status()
        except StorageError as exc:
            raise StorageError(f"the target database: {exc.message}") from None
        if not status.up_to_date:
            report.differences.append(
                f"the target's schema is at {status.current or 'nothing'}, not {status.head}"
            )
            return report
        for table in self.source.tables():
            self._verify_table(table, batch, shown, report)
        self._verify_blobs(batch, shown, report)
        self._check_keys(report)
        return report

    def _verify_table(
        self, table: str, batch: int, progress: Progress, report: VerifyReport
    ) -> None:
        progress.begin(f"{table} (verify)", self.source.count(table), unit="rows")
        matched = 0
        for rows in self.source.batches(table, batch):
            theirs = self._by_key(table, self.target.find(table, self._keys(table, rows)))
            for row in rows:
                other = theirs.get(self._key(table, row))
                if other is None:
                    report.differences.append(
                        f"{table} {self._shown_key(table, row)}: missing in the target"
                    )
                    continue
                matched += 1
                if other != row:
                    fields = ", ".join(differing_fields(row, other))
                    report.differences.append(
                        f"{table} {self._shown_key(table, row)}: differs ({fields})"
                    )
            report.rows += len(rows)
            progress.advance(len(rows))
        if self.target.count(table) > matched:
            for rows in self.target.batches(table, batch):
                mine = self._by_key(table, self.source.find(table, self._keys(table, rows)))
                report.differences.extend(
                    f"{table} {self._shown_key(table, row)}: only in the target"
                    for row in rows
                    if self._key(table, row) not in mine
                )
        progress.end()

    def _verify_blobs(self, batch: int, progress: Progress, report: VerifyReport) -> None:
        count, total = self._blob_totals(batch)
        progress.begin("blobs (SHA-256)", count, unit="blobs", total_bytes=2 * total)
        for refs in self.source.blob_refs(batch):
            for ref, (source, target, nbytes) in self._each(self._hashes, refs):
                report.blobs += 1
                report.bytes += nbytes
                progress.advance(1, nbytes)
                if source is None:
                    report.warnings.append(
                        f"blob {ref.key}: missing in the source (its image had no bytes "
                        "before the move)"
                    )
                elif source != ref.sha256:
                    report.warnings.append(
                        f"blob {ref.key}: the source's bytes do not match their record "
                        "(damaged before the move)"
                    )
                if target is None:
                    if source is not None:
                        report.differences.append(f"blob {ref.key}: missing in the target")
                elif target != (source or ref.sha256):
                    report.differences.append(f"blob {ref.key}: SHA-256 differs in the target")
        progress.end()

    def _hashes(self, ref: BlobRef) -> tuple[str | None, str | None, int]:
        source = target = None
        nbytes = 0
        try:
            data = self.source_blobs.get(ref.key)
            source, nbytes = hashlib.sha256(data).hexdigest(), len(data)
        except BlobMissing:
            pass
        try:
            data = self.target_blobs.get(ref.key)
            target = hashlib.sha256(data).hexdigest()
            nbytes += len(data)
        except BlobMissing:
            pass
        return source, target, nbytes

    def _check_keys(self, report: VerifyReport) -> None:
        """Sealed signing keys open only under the master key that sealed them."""
        sealed = [
            (account, name, value)
            for account, name, value in self.target.key_values()
            if self.sealer.is_sealed(value)
        ]
        if not sealed:
            return
        if not self.sealer.active:
            report.notes.append(
                f"{len(sealed)} signing key(s) are sealed: the servers on the new store need "
                "the IMAGEGATE_MASTER_KEY that sealed them"
            )
            return
        for account, name, value in sealed:
            try:
                self.sealer.open(value, account, name)
            except StorageError:
                report.warnings.append(
                    f"signing key {name} of account {account} does not open under the "
                    "master key in force here: the servers need the one that sealed it"
                )

    # --- helpers ------------------------------------------------------------------------------

    def _each(
        self, work: Callable[[BlobRef], T], refs: list[BlobRef]
    ) -> Iterator[tuple[BlobRef, T]]:
        """``work`` on every ref, ``jobs`` at a time (object stores answer in parallel)."""
        if self.jobs <= 1:
            for ref in refs:
                yield ref, work(ref)
            return
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            yield from zip(refs, pool.map(work, refs), strict=True)

    def _key(self, table: str, row: Row) -> tuple[object, ...]:
        return tuple(row[name] for name in self.target.primary_key(table))

    def _keys(self, table: str, rows: list[Row]) -> list[tuple[object, ...]]:
        return [self._key(table, row) for row in rows]

    def _by_key(self, table: str, rows: list[Row]) -> dict[tuple[object, ...], Row]:
        return {self._key(table, row): row for row in rows}

    def _shown_key(self, table: str, row: Row) -> str:
        return "/".join(str(value) for value in self._key(table, row))
