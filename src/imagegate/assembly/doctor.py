"""``imagegate doctor``: check what the server depends on and say what to fix.

A diagnosis reads and never writes: the schema is compared with the code's, not migrated;
nothing is created or repaired."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from imagegate.assembly import Imagegate, build
from imagegate.core.errors import ImagegateError
from imagegate.core.models import MAX_SIGNING_KEYS
from imagegate.private_files import loose_modes
from imagegate.settings import Settings
from imagegate.variables import unknown_variables

#: libvips loaders and savers imagegate needs, by the format they serve.
NEEDED = {
    "JPEG": ("jpegload_buffer", "jpegsave_buffer"),
    "PNG": ("pngload_buffer", "pngsave_buffer"),
    "WebP": ("webpload_buffer", "webpsave_buffer"),
    "GIF": ("gifload_buffer", "gifsave_buffer"),
    "AVIF/HEIC": ("heifload_buffer", "heifsave_buffer"),
}
MIN_FREE_BYTES = 1024**3
SQLITE_FILES = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True, slots=True)
class Finding:
    status: str  # ok, warn, fail
    check: str
    detail: str


def examine(settings: Settings, environ: Mapping[str, str] = os.environ) -> Iterator[Finding]:
    yield from _libvips()
    yield from _store(settings)
    yield from _file_modes(settings)
    yield from _configuration(settings)
    yield from _variables(environ)


def _libvips() -> Iterator[Finding]:
    try:
        from imagegate.adapters import imaging
    except Exception as exc:  # a broken install surfaces here, whatever the error
        yield Finding("fail", "libvips", f"cannot load libvips: {exc}; reinstall pyvips[binary]")
        return
    version, found = imaging.libvips_report(op for ops in NEEDED.values() for op in ops)
    major, minor = (int(part) for part in version.split(".")[:2])
    old = (major, minor) < (8, 15)
    yield Finding(
        "warn" if old else "ok",
        "libvips",
        f"version {version}" + ("; 8.15 or newer is expected" if old else ""),
    )
    for label, operations in NEEDED.items():
        missing = [op for op in operations if not found[op]]
        if missing:
            yield Finding("fail", f"format {label}", f"libvips lacks {', '.join(missing)}")
        else:
            yield Finding("ok", f"format {label}", "load and save")


def _store(settings: Settings) -> Iterator[Finding]:
    try:
        gate = build(settings)
    except Exception as exc:
        yield Finding("fail", "store", f"cannot open the store: {type(exc).__name__}: {exc}")
        return
    try:
        yield from _reachable(gate)
        yield from _schema(gate)
        yield from _accounts(gate)
    finally:
        gate.close()
    free = shutil.disk_usage(settings.data_dir).free if settings.data_dir.exists() else 0
    yield Finding(
        "ok" if free >= MIN_FREE_BYTES else "warn",
        "disk",
        f"{free / 1024**3:.1f} GiB free under {settings.data_dir}",
    )


def _reachable(gate: Imagegate) -> Iterator[Finding]:
    checks = gate.health.checks()
    for name, label in (("metadata", "database"), ("blobs", "blob store")):
        if checks[name] == "ok":
            yield Finding("ok", label, "reachable")
        else:
            yield Finding(
                "fail", label, "unavailable; check IMAGEGATE_DATABASE_URL and the data dir"
            )


def _schema(gate: Imagegate) -> Iterator[Finding]:
    try:
        status = gate.health.schema_status()
    except ImagegateError as exc:
        yield Finding("fail", "schema", f"{exc.message}; check IMAGEGATE_DATABASE_URL")
        return
    if status.up_to_date:
        yield Finding("ok", "schema", f"up to date ({status.head})")
    elif status.current is None:
        yield Finding("warn", "schema", "empty database: `imagegate init` or the server makes it")
    else:
        yield Finding(
            "warn",
            "schema",
            f"at {status.current}, the code expects {status.head}: run `imagegate migrate`",
        )


def _accounts(gate: Imagegate) -> Iterator[Finding]:
    try:
        accounts = gate.accounts.all()
    except ImagegateError:
        return  # the schema finding above says why
    yield Finding(
        "ok" if accounts else "warn",
        "accounts",
        f"{len(accounts)} account(s)" if accounts else "none yet: run `imagegate init`",
    )
    for account in accounts:  # made before the key cap: only the newest verify
        held = gate.keys.held(account)
        if held > MAX_SIGNING_KEYS:
            yield Finding(
                "warn",
                "signing keys",
                f"account {account.id} holds {held} keys; only its {MAX_SIGNING_KEYS} newest "
                "verify signatures: delete the ones no longer used",
            )


def _configuration(settings: Settings) -> Iterator[Finding]:
    for reason in settings.unsafe_reasons():
        status = "warn" if settings.allow_unsafe_config else "fail"
        yield Finding(status, "configuration", reason)
    if settings.host not in ("127.0.0.1", "::1", "localhost") and not settings.public_url:
        yield Finding(
            "warn",
            "public URL",
            "set IMAGEGATE_PUBLIC_URL: image objects' URLs use the listen address",
        )
    if settings.public_url and settings.public_url.startswith("http://"):
        yield Finding("warn", "public URL", f"{settings.public_url} is not https")
    if not settings.unsafe_reasons():
        yield Finding("ok", "configuration", "no unsafe settings")
    if settings.metrics_token is None:
        yield Finding("ok", "metrics", "off: set IMAGEGATE_METRICS_TOKEN to scrape /metrics")
    else:
        yield Finding("ok", "metrics", "/metrics answers its bearer token only")


def _file_modes(settings: Settings) -> Iterator[Finding]:
    """Anything of the store that others on the machine may read or enter. The database
    and ``first-account.json`` hold secrets (signing keys in the clear unless the master key
    is set): loose, they fail; anything else loose warns."""
    data_dir = settings.data_dir.resolve()
    secrets = {settings.first_account_path().resolve()}
    database = _sqlite_file(settings)
    if database is not None:
        secrets |= {database.with_name(database.name + end) for end in SQLITE_FILES}
    outside = [path for path in sorted(secrets) if not path.is_relative_to(data_dir)]
    loose = [found for root in (data_dir, *outside) for found in loose_modes(root)]
    if not loose:
        yield Finding("ok", "file modes", f"{settings.data_dir} is readable by its owner only")
        return
    shown = ", ".join(f"{path} ({mode:o})" for path, mode in loose[:3])
    more = f" and {len(loose) - 3} more" if len(loose) > 3 else ""
    yield Finding(
        "fail" if any(path in secrets for path, _ in loose) else "warn",
        "file modes",
        f"{len(loose)} path(s) open to other users: {shown}{more}; "
        f"run `chmod -R go= {settings.data_dir}`",
    )


def _sqlite_file(settings: Settings) -> Path | None:
    url = settings.resolved_database_url()
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


def _variables(environ: Mapping[str, str]) -> Iterator[Finding]:
    """``IMAGEGATE_*`` variables that name no setting (a misspelling leaves the default)."""
    unknown = unknown_variables(environ)
    for variable in unknown:
        yield Finding("warn", "variables", variable.describe())
    if not unknown:
        yield Finding("ok", "variables", "every IMAGEGATE_* variable names a setting")
