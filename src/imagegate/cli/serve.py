"""``imagegate serve``: the API, the dashboard and delivery on one port, under granian."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from imagegate.cli.common import DataDir, console, err, fail, settings
from imagegate.private_files import make_dirs

if TYPE_CHECKING:
    from imagegate.settings import Settings


def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
    public_url: Annotated[str | None, typer.Option(help="Base URL clients use.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    blob_url: Annotated[
        str | None,
        typer.Option(help="Where originals live: a directory or s3://bucket[/prefix]."),
    ] = None,
) -> None:
    """Serve the API and image delivery on one port (granian)."""
    from imagegate.assembly import check_safety
    from imagegate.core.errors import UnsafeConfiguration
    from imagegate.variables import unknown_variables

    configured = settings(
        data_dir, host=host, port=port, public_url=public_url, workers=workers, blob_url=blob_url
    )
    for variable in unknown_variables(os.environ):
        err.print(f"[yellow]warning:[/yellow] {variable.describe()}")
    try:
        check_safety(configured)
    except UnsafeConfiguration as exc:
        fail(str(exc), code=2)
    make_dirs(configured.data_dir)
    check_schema(configured)
    os.environ.update(
        {
            "IMAGEGATE_DATA_DIR": str(configured.data_dir.resolve()),
            "IMAGEGATE_HOST": configured.host,
            "IMAGEGATE_PORT": str(configured.port),
            "IMAGEGATE_PUBLIC_URL": configured.resolved_public_url(),
            "IMAGEGATE_BLOB_URL": configured.resolved_blob_url(),
        }
    )
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    pooled = None
    if configured.metrics_dir is None:  # the workers of this node pool their counts here
        pooled = Path(tempfile.mkdtemp(prefix="imagegate-metrics-"))
        os.environ["IMAGEGATE_METRICS_DIR"] = str(pooled)
    base = configured.resolved_public_url()
    console.print(f"imagegate on {base}  (API {base}/docs, health {base}/healthz)")
    try:
        _run(configured)
    finally:
        if pooled is not None:
            shutil.rmtree(pooled, ignore_errors=True)


def _run(configured: Settings) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    Granian(
        "imagegate.web.app:app_from_env",
        address=configured.host,
        port=configured.port,
        interface=Interfaces.ASGI,
        workers=configured.workers,
        http=HTTPModes(configured.http),
        http1_settings=HTTP1Settings(header_read_timeout=int(configured.header_timeout * 1000)),
        factory=True,
        log_access=False,
    ).serve()


def check_schema(configured: Settings) -> None:
    """Refuse (exit 2) a schema this version cannot serve, before a worker starts: older
    on a shared database (``imagegate migrate`` first), or newer. The embedded database is
    migrated here, under its lock."""
    from imagegate.assembly import build
    from imagegate.core.errors import ImagegateError, SchemaMismatch

    try:
        gate = build(configured)
    except ImagegateError as exc:
        fail(f"refusing to serve: {exc.message}", code=2)
    try:
        gate.health.require_current_schema()
    except SchemaMismatch as exc:
        fail(f"refusing to serve: {exc}", code=2)
    except ImagegateError as exc:
        fail(f"refusing to serve: {exc.message}; check IMAGEGATE_DATABASE_URL", code=2)
    finally:
        gate.close()


def register(app: typer.Typer) -> None:
    app.command()(serve)
