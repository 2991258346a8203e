"""``imagegate import DIR``: upload a folder to an imagegate (or Cloudflare Images) API.

A client of the HTTP API only: it needs the API's base URL, an account id and a token, and
works the same against imagegate and Cloudflare. Each file's custom id is its path relative
to DIR (``nested/cat.jpg``), so an image is never stored twice:

* a journal (``DIR/.imagegate-import.jsonl`` unless ``--journal``) records, one JSON line per
  file, every id the API accepted or already had, for this API URL and account; a re-run
  skips those ids without a request. Lines are fsynced one by one, and a line torn by a
  crash is ignored, so a killed import resumes where it stopped. It is created ``0600``:
  it names the API and account, and the folder's files may be private.
* a ``409`` (the id exists: e.g. the process died after the upload but before the journal
  line) counts as done, and is journaled.

Files and folders whose names start with ``.`` are not imported (the journal is one).
Everything else is sent and the server decides, unless ``--only-images`` keeps only image
extensions. Network errors, ``429`` and ``5xx`` are retried three times. The exit status is
0 when every file was uploaded or skipped, 1 when some were refused or failed, 2 when the
API refused the credentials, 130 when interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from imagegate.private_files import create_file

if TYPE_CHECKING:  # httpx loads only when an import runs: other commands start faster
    import httpx

JOURNAL_NAME = ".imagegate-import.jsonl"
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".avif", ".heic", ".heif", ".svg"}
)
RETRIES = 3
AUTH_CODES = frozenset({10000, 10001, 5403, 9109})  # token or account not accepted
Kind = Literal["uploaded", "exists", "refused", "failed"]


class Unauthorized(Exception):
    """The API refused the token or account: nothing else will succeed."""


@dataclass(frozen=True, slots=True)
class Api:
    url: str
    account: str
    token: str

    @property
    def images(self) -> str:
        return f"{self.url.rstrip('/')}/accounts/{self.account}/images/v1"


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    kind: Kind
    size: int = 0
    code: int | None = None
    message: str = ""


@dataclass
class Summary:
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # in the journal, or already on the server
    refused: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False

    def add(self, outcome: Outcome) -> None:
        if outcome.kind in ("uploaded", "exists"):
            (self.uploaded if outcome.kind == "uploaded" else self.skipped).append(outcome.id)
        elif outcome.kind == "refused":
            entry = {"id": outcome.id, "code": outcome.code, "message": outcome.message}
            self.refused.append(entry)
        else:
            self.failed.append({"id": outcome.id, "error": outcome.message})

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.refused or self.failed else 0


class Journal:
    """Append-only JSON lines of ids that are done, per API URL and account."""

    def __init__(self, path: Path, api: Api) -> None:
        self.path, self._api = path, api
        self._lock = threading.Lock()

    def done(self) -> set[str]:
        ids: set[str] = set()
        if not self.path.exists():
            return ids
        for line in self.path.read_text("utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # torn by a crash mid-write
            if (
                isinstance(entry, dict)
                and entry.get("api") == self._api.url.rstrip("/")
                and entry.get("account") == self._api.account
                and isinstance(entry.get("id"), str)
            ):
                ids.add(entry["id"])
        return ids

    def record(self, outcome: Outcome) -> None:
        entry = {
            "id": outcome.id,
            "result": outcome.kind,
            "size": outcome.size,
            "api": self._api.url.rstrip("/"),
            "account": self._api.account,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())


def discover(directory: Path, only_images: bool) -> Iterator[tuple[Path, str]]:
    """``(file, custom id)`` for every file under ``directory``, in a stable order."""
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if name.startswith(".") or not path.is_file():
                continue
            if only_images and path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            yield path, path.relative_to(directory).as_posix()


def upload_one(
    client: httpx.Client, api: Api, path: Path, image_id: str, form: dict[str, str], pace: float
) -> Outcome:
    """Upload one file, retrying what a retry can fix; classify the answer."""
    import httpx

    if pace:
        time.sleep(pace)
    size, error = 0, ""
    for attempt in range(RETRIES + 1):
        if attempt:
            time.sleep(min(10.0, 0.5 * 2**attempt))
        try:
            with path.open("rb") as body:
                size = os.fstat(body.fileno()).st_size
                files = {"file": (path.name, body, "application/octet-stream")}
                response = client.post(api.images, data={**form, "id": image_id}, files=files)
        except httpx.TransportError as exc:
            error = f"{type(exc).__name__}: {exc}"
            continue
        except OSError as exc:
            return Outcome(image_id, "failed", size, message=f"cannot read the file: {exc}")
        if response.status_code == 429 or response.status_code >= 500:
            error = f"HTTP {response.status_code}"
            continue
        if response.is_success:
            return Outcome(image_id, "uploaded", size)
        code, message = _api_error(response)
        if response.status_code == 409:
            return Outcome(image_id, "exists", size, code, message)
        if response.status_code == 401 or (response.status_code == 403 and code in AUTH_CODES):
            raise Unauthorized(f"{response.status_code} {code}: {message}")
        return Outcome(image_id, "refused", size, code, message)
    return Outcome(image_id, "failed", size, message=error)


def _api_error(response: httpx.Response) -> tuple[int, str]:
    try:
        first = response.json()["errors"][0]
        return int(first["code"]), str(first["message"])
    except (ValueError, KeyError, IndexError, TypeError):
        return response.status_code, response.text[:200] or response.reason_phrase


def run_import(
    directory: Path,
    api: Api,
    *,
    journal: Journal,
    form: dict[str, str],
    jobs: int = 4,
    only_images: bool = False,
    pace: float = 0.0,
    console: Console | None = None,
) -> Summary:
    """Upload every file of ``directory`` not yet done; the journal is updated as files land."""
    console = console or Console(stderr=True)
    summary = Summary()
    done = journal.done()
    pending: list[tuple[Path, str, int]] = []
    for path, image_id in discover(directory, only_images):
        if path.resolve() == journal.path.resolve():
            continue
        if image_id in done:
            summary.skipped.append(image_id)
        else:
            pending.append((path, image_id, path.stat().st_size))
    import httpx

    headers = {"Authorization": f"Bearer {api.token}", "User-Agent": "imagegate-import/1"}
    limits = httpx.Limits(max_connections=jobs, max_keepalive_connections=jobs)
    timeout = httpx.Timeout(120.0, connect=10.0)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with (
        httpx.Client(headers=headers, limits=limits, timeout=timeout) as client,
        progress,
        ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="import") as pool,
    ):
        label = f"import {{}}/{len(pending)} files"
        task = progress.add_task(label.format(0), total=sum(size for *_, size in pending))
        futures = {
            pool.submit(upload_one, client, api, path, image_id, form, pace): size
            for path, image_id, size in pending
        }
        seen: set[Future[Outcome]] = set()

        def take(future: Future[Outcome]) -> None:
            seen.add(future)
            outcome = future.result()
            if outcome.kind in ("uploaded", "exists"):
                journal.record(outcome)
            summary.add(outcome)
            progress.update(task, advance=futures[future], description=label.format(len(seen)))

        stop = threading.Event()
        with _stop_on_ctrl_c(stop):
            try:
                waiting = set(futures)
                while waiting and not stop.is_set():
                    finished, waiting = wait(waiting, timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in finished:
                        take(future)
            finally:
                # Stop queued uploads; let those in flight land, and count them.
                pool.shutdown(wait=True, cancel_futures=True)
                for future in futures:
                    landed = future.done() and not future.cancelled() and not future.exception()
                    if future not in seen and landed:
                        take(future)
        summary.interrupted = stop.is_set()
    return summary


@contextlib.contextmanager
def _stop_on_ctrl_c(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C asks for a clean stop (in-flight uploads land and are journaled);
    a second one aborts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def render(summary: Summary, console: Console) -> None:
    table = Table(title="import summary")
    table.add_column("result")
    table.add_column("files", justify="right")
    table.add_row("uploaded", str(len(summary.uploaded)))
    table.add_row("skipped (already done)", str(len(summary.skipped)))
    table.add_row("refused", str(len(summary.refused)))
    table.add_row("failed (network or disk)", str(len(summary.failed)))
    console.print(table)
    if summary.refused or summary.failed:
        problems = Table(title="not imported")
        for name in ("file", "code", "reason"):
            problems.add_column(name)
        for entry in summary.refused:
            problems.add_row(entry["id"], str(entry["code"]), entry["message"])
        for entry in summary.failed:
            problems.add_row(entry["id"], "-", entry["error"])
        console.print(problems)
    if summary.interrupted:
        console.print("[yellow]interrupted[/yellow]: run the same command again to resume")


def parse_metadata(pairs: list[str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--metadata")
        meta[key] = value
    return meta


def import_command(
    directory: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="Folder to upload, recursively.")
    ],
    private: Annotated[bool, typer.Option("--private", help="Require signed URLs.")] = False,
    metadata: Annotated[
        list[str] | None, typer.Option("--metadata", help="key=value for every image; repeat.")
    ] = None,
    url: Annotated[str, typer.Option("--url", envvar="IMAGEGATE_URL", help="API base URL.")] = (
        "http://127.0.0.1:8080"
    ),
    account: Annotated[
        str, typer.Option("--account", envvar="IMAGEGATE_ACCOUNT_ID", help="Account id.")
    ] = "",
    token: Annotated[
        str, typer.Option("--token", envvar="IMAGEGATE_API_TOKEN", help="API token.")
    ] = "",
    jobs: Annotated[int, typer.Option("--jobs", min=1, max=64, help="Parallel uploads.")] = 4,
    journal: Annotated[
        Path | None, typer.Option("--journal", help=f"Progress file; default DIR/{JOURNAL_NAME}.")
    ] = None,
    only_images: Annotated[
        bool, typer.Option("--only-images", help="Send only files with image extensions.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    pace: Annotated[float, typer.Option("--pace", hidden=True, min=0.0)] = 0.0,
) -> None:
    """Upload a folder's images; each custom id is the file's path inside the folder.

    Safe to re-run: already-imported files are skipped, and an interrupted import resumes.
    """
    if not account or not token:
        raise typer.BadParameter(
            "--account and --token (or their IMAGEGATE_* variables) are required"
        )
    api = Api(url, account, token)
    form = {"requireSignedURLs": "true" if private else "false"}
    if metadata:
        form["metadata"] = json.dumps(parse_metadata(metadata))
    book = Journal(journal or directory / JOURNAL_NAME, api)
    try:
        create_file(book.path)
    except OSError as exc:
        raise typer.BadParameter(f"cannot write it: {exc}", param_hint="--journal") from None
    try:
        summary = run_import(
            directory, api, journal=book, form=form, jobs=jobs, only_images=only_images, pace=pace
        )
    except Unauthorized as exc:
        Console(stderr=True).print(f"[red]error:[/red] the API refused the credentials ({exc})")
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(asdict(summary), ensure_ascii=False))
    else:
        render(summary, Console())
    raise typer.Exit(summary.exit_code)


def register(app: typer.Typer) -> None:
    """Add ``import`` to the ``imagegate`` command."""
    app.command("import")(import_command)


def main() -> None:
    app = typer.Typer(add_completion=False)
    register(app)
    app()


if __name__ == "__main__":
    main()
