"""The ``imagegate`` command: thin wrappers over the use cases, for operators and scripts.

Each area of commands lives in a module of its own and registers itself here. Importing
this package loads only typer, rich and the pure core: a command that needs the store
imports it when it runs, so ``imagegate sign`` starts in a fraction of a second.
"""

from __future__ import annotations

import os
import sys

import typer

from imagegate.cli import bulk_import, maintenance, migrate_store, serve, signing, store
from imagegate.cli.common import err, error_line
from imagegate.core.errors import ImagegateError
from imagegate.private_files import UMASK

app = typer.Typer(
    help="imagegate: private images behind expiring signed URLs.", no_args_is_help=True
)
for area in (store, serve, signing, maintenance, bulk_import, migrate_store):
    area.register(app)


def main() -> None:
    # What any command writes (the store, its journals, the server's files) is the
    # owner's alone, whichever code path creates it.
    os.umask(UMASK)
    try:
        app()
    except ImagegateError as exc:
        err.print(f"[red]error:[/red] {error_line(exc)}")
        sys.exit(1)


__all__ = ["app", "main"]
