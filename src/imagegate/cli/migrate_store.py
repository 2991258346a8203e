"""``imagegate migrate-store``: copy the embedded store (SQLite and local blobs) into another
database and blob store, then verify the copy; or only verify (``--verify-only``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from imagegate.cli.common import DataDir, console, err, settings

if TYPE_CHECKING:
    from imagegate.usecases.store_move import MoveRefused

#: Differences listed in full; past this many, how many more.
SHOWN = 50

REFUSED = 2  # exit status: the move refused to start or to go on
DIFFERENT = 1  # exit status: the verification found differences (or an error stopped it)


class PlainProgress:
    """Progress as lines on standard error (not a terminal): a phase's first step, then at
    most one line a second, and its end."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.what = self.unit = ""
        self.total = self.total_bytes = self.done = self.bytes = 0
        self.last = 0.0

    def begin(self, what: str, total: int, *, unit: str, total_bytes: int = 0) -> None:
        self.what, self.total, self.unit, self.total_bytes = what, total, unit, total_bytes
        self.done = self.bytes = 0
        self.last = 0.0

    def advance(self, count: int, nbytes: int = 0) -> None:
        self.done += count
        self.bytes += nbytes
        now = time.monotonic()
        if self.done < self.total and (self.last == 0.0 or now - self.last >= self.every):
            self.last = now
            self._line("")

    def end(self) -> None:
        self._line(" done")

    def _line(self, tail: str) -> None:
        size = (
            f" ({decimal(self.bytes)} of {decimal(self.total_bytes)})" if self.total_bytes else ""
        )
        print(
            f"{self.what}: {self.done}/{self.total} {self.unit}{size}{tail}",
            file=err.file,
            flush=True,
        )


class BarProgress:
    """A rich progress bar per phase (on a terminal): rows, or blobs and their bytes."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars
        self.task: TaskID | None = None
        self.total_bytes = 0
        self.bytes = 0

    def begin(self, what: str, total: int, *, unit: str, total_bytes: int = 0) -> None:
        self.total_bytes, self.bytes = total_bytes, 0
        self.task = self.bars.add_task(what, total=total, unit=unit, size=self._size())

    def advance(self, count: int, nbytes: int = 0) -> None:
        self.bytes += nbytes
        if self.task is not None:
            self.bars.update(self.task, advance=count, size=self._size())

    def end(self) -> None:
        self.task = None

    def _size(self) -> str:
        return f"{decimal(self.bytes)}/{decimal(self.total_bytes)}" if self.total_bytes else ""


@contextmanager
def progress_shown() -> Iterator[PlainProgress | BarProgress]:
    if not err.is_terminal:
        yield PlainProgress()
        return
    with Progress(
        TextColumn("{task.description:24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]} {task.fields[size]}"),
        TimeRemainingColumn(),
        console=err,
    ) as bars:
        yield BarProgress(bars)


def migrate_store(
    to_database_url: Annotated[
        str, typer.Option("--to-database-url", help="The target database (postgresql://...).")
    ],
    to_blob_url: Annotated[
        str,
        typer.Option(
            "--to-blob-url", help="The target blob store: s3://bucket[/prefix] or a directory."
        ),
    ],
    data_dir: DataDir = None,
    verify_only: Annotated[
        bool, typer.Option("--verify-only", help="Compare source and target; copy nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Copy into a target that holds other accounts, or rows that differ from the "
            "source's (those are replaced by the source's).",
        ),
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=5000, help="Rows per batch.")] = 500,
    jobs: Annotated[int, typer.Option(min=1, max=32, help="Blobs copied or hashed at once.")] = 4,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outcome as one JSON object.")
    ] = False,
) -> None:
    """Copy the embedded store (SQLite + local blobs) to PostgreSQL and object storage, then
    verify every row and every blob's SHA-256. Resumable and idempotent: run it again after
    an interruption. Stop the servers on the source first."""
    from imagegate.assembly.store_move import store_move
    from imagegate.usecases.store_move import MoveRefused

    configured = settings(data_dir)
    try:
        move = store_move(configured, to_database_url, to_blob_url, jobs=jobs)
    except MoveRefused as exc:
        _refused(exc, str(configured.data_dir))
    try:
        with progress_shown() as progress:
            copied = (
                None if verify_only else move.copy(batch=batch_size, force=force, progress=progress)
            )
            checked = move.verify(batch=batch_size, progress=progress)
    except MoveRefused as exc:
        _refused(exc, str(configured.data_dir))
    finally:
        move.close()
    if as_json:
        outcome = {"copied": asdict(copied) if copied else None, "verified": asdict(checked)}
        print(json.dumps({**outcome, "equal": checked.equal}))
    else:
        if copied is not None:
            console.print(
                f"copied {copied.rows_copied} rows ({copied.rows_present} already there, "
                f"{copied.rows_replaced} replaced) and {copied.blobs_copied} blobs "
                f"({decimal(copied.bytes_copied)}; {copied.blobs_present} already there)",
                soft_wrap=True,
            )
        for line in checked.notes:
            console.print(f"note: {line}", soft_wrap=True)
        for line in checked.warnings:
            console.print(f"[yellow]warning:[/yellow] {line}", soft_wrap=True)
        verdict = "the target equals the source" if checked.equal else "DIFFERENCES"
        console.print(
            f"verified {checked.rows} rows and {checked.blobs} blobs "
            f"({decimal(checked.bytes)} hashed): {verdict}",
            soft_wrap=True,
        )
        for line in checked.differences[:SHOWN]:
            console.print(f"  {line}", soft_wrap=True)
        if len(checked.differences) > SHOWN:
            console.print(f"  ... and {len(checked.differences) - SHOWN} more")
    if not checked.equal:
        raise typer.Exit(DIFFERENT)


def _refused(exc: MoveRefused, data_dir: str) -> NoReturn:
    err.print(f"[red]refused:[/red] {exc.summary}")
    for line in exc.reasons[:SHOWN]:
        err.print(f"  {line}")
    if len(exc.reasons) > SHOWN:
        err.print(f"  ... and {len(exc.reasons) - SHOWN} more")
    if exc.kind == "schema":
        err.print(
            f"Run `imagegate migrate --data-dir {data_dir}` (with IMAGEGATE_DATABASE_URL unset) "
            "with this version first."
        )
    elif exc.kind == "conflict":
        err.print(
            "Copy into an empty database, or add --force to copy anyway: rows that differ are "
            "replaced by the source's, the target's other rows stay (and verification lists them)."
        )
    raise typer.Exit(REFUSED)


def register(app: typer.Typer) -> None:
    app.command("migrate-store")(migrate_store)
