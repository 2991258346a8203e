"""What every ``imagegate`` command shares: its options, its output, how it fails, and how
it opens the store. Light on purpose: the commands that need no store (``sign`` and
``verify`` with ``IMAGEGATE_SIGNING_KEY`` set) never load the web, database or image
libraries, so everything heavy is imported inside :func:`open_store`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from imagegate.assembly import Imagegate
    from imagegate.core.errors import ImagegateError
    from imagegate.core.models import Account
    from imagegate.settings import Settings

T = TypeVar("T")

console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Store directory (env IMAGEGATE_DATA_DIR).")
]
AccountOpt = Annotated[
    str | None, typer.Option("--account", help="Account id; default: the first account.")
]
_DURATION = re.compile(r"([0-9]+)([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d``, ``1w`` -> seconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise typer.BadParameter(f"not a duration: {text!r} (try 3600, 15m, 2h, 1d)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def fail(message: str, code: int = 1) -> NoReturn:
    """Say what went wrong on standard error and exit with ``code``."""
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def error_line(exc: ImagegateError) -> str:
    """An imagegate error as the CLI says it: its message and, for a client's mistake, its
    code (the API's numbers, so a script can tell one refusal from another)."""
    return f"{exc.message} ({exc.code})" if 400 <= exc.status < 500 else exc.message


def settings(data_dir: Path | None, **overrides: Any) -> Settings:
    from imagegate.settings import Settings

    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


@contextmanager
def open_store(data_dir: Path | None, *, migrate: bool | None = None) -> Iterator[Imagegate]:
    """imagegate over the store in ``data_dir`` (or the configured database), its schema
    current: migrated if ``migrate`` (None: if it is the embedded database), else the
    command fails (exit 2) naming ``imagegate migrate``. See
    :meth:`~imagegate.usecases.health.Health.require_current_schema`."""
    from imagegate.assembly import build
    from imagegate.core.errors import SchemaMismatch

    gate = run(lambda: build(settings(data_dir)))
    try:
        try:
            run(lambda: gate.health.require_current_schema(migrate=migrate))
        except SchemaMismatch as exc:
            fail(str(exc), code=2)
        yield gate
    finally:
        gate.close()


def account_of(gate: Imagegate, account_id: str | None) -> Account:
    """The account ``account_id``, or the first one; fails with a word if there is none."""
    account = gate.accounts.first(account_id)
    if account is None:
        fail("no such account" if account_id else "no account yet: run `imagegate init` first")
    return account


def run(action: Callable[[], T]) -> T:
    """Run ``action``; an imagegate error ends the command with its line."""
    from imagegate.core.errors import ImagegateError

    try:
        return action()
    except ImagegateError as exc:
        fail(error_line(exc))
