"""The ``imagegate`` command: thin wrappers over the service, for operators and scripts."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table

from imagegate import bulk_import, signing
from imagegate.errors import ImagegateError, UnsafeConfiguration
from imagegate.models import Account, Scope
from imagegate.private_files import UMASK, make_dirs, write_file
from imagegate.service import Service
from imagegate.settings import Settings
from imagegate.urls import BadDeliveryPath, parse_delivery_path
from imagegate.variables import unknown_variables
from imagegate.web.app import build_core, check_safety

app = typer.Typer(
    help="imagegate: private images behind expiring signed URLs.", no_args_is_help=True
)
keys_app = typer.Typer(help="Signing keys of an account.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens of an account.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts (tenants).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(tokens_app, name="tokens")
app.add_typer(accounts_app, name="accounts")
bulk_import.register(app)
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
FIRST_ACCOUNT_FILE = "first-account.json"


def parse_duration(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d``, ``1w`` -> seconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise typer.BadParameter(f"not a duration: {text!r} (try 3600, 15m, 2h, 1d)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _settings(data_dir: Path | None, **overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


def _service(settings: Settings) -> Service:
    service = build_core(settings).service
    service.meta.migrate()
    return service


def _account(service: Service, account_id: str | None) -> Account:
    accounts = service.meta.list_accounts()
    for account in accounts:
        if account_id is None or account.id == account_id:
            return account
    _fail("no such account" if account_id else "no account yet: run `imagegate init` first")
    raise AssertionError


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@app.command()
def init(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    name: Annotated[str, typer.Option(help="Name of the first account.")] = "default",
    admin_password: Annotated[
        str | None,
        typer.Option(
            "--admin-password",
            envvar="IMAGEGATE_ADMIN_PASSWORD",
            show_envvar=True,
            help="Set the dashboard's admin password (at least 10 characters). On a store "
            "already initialised, only sets the password.",
        ),
    ] = None,
    ask_admin_password: Annotated[
        bool,
        typer.Option("--ask-admin-password", help="Prompt for the admin password (hidden)."),
    ] = False,
) -> None:
    """Create the store and its first account; print its credentials (once)."""
    from imagegate.web.dashboard.sessions import MIN_PASSWORD_LENGTH, hash_password

    if ask_admin_password and admin_password is None:
        admin_password = typer.prompt("Admin password", hide_input=True, confirmation_prompt=True)
    if admin_password is not None and len(admin_password) < MIN_PASSWORD_LENGTH:
        _fail(f"the admin password must be at least {MIN_PASSWORD_LENGTH} characters")
    settings = _settings(data_dir)
    make_dirs(settings.data_dir)
    service = _service(settings)
    initialised = bool(service.meta.list_accounts())
    if admin_password is not None:
        service.meta.set_admin_password(hash_password(admin_password), int(service.clock() * 1000))
        if initialised:
            console.print("The dashboard's admin password is set.")
            return
    if initialised:
        _fail(f"{settings.data_dir} is already initialised; see `imagegate accounts list`")
    new = service.create_account(name)
    creds = new.credentials()
    first = settings.data_dir / FIRST_ACCOUNT_FILE
    write_file(first, (json.dumps(creds, indent=2) + "\n").encode("utf-8"))
    if as_json:
        print(json.dumps(creds))
        return
    console.print(f"Initialised [bold]{settings.data_dir}[/bold]. First account:")
    for key, value in creds.items():
        console.print(f"  {key:13} {value}")
    console.print(f"The token and key are shown once here (and kept in {first}, mode 600).")
    if admin_password is not None:
        console.print("The dashboard's admin password is set: sign in at /dashboard.")


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
    public_url: Annotated[str | None, typer.Option(help="Base URL clients use.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Serve the API and image delivery on one port (granian)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    settings = _settings(data_dir, host=host, port=port, public_url=public_url, workers=workers)
    for variable in unknown_variables(os.environ):
        err.print(f"[yellow]warning:[/yellow] {variable.describe()}")
    try:
        check_safety(settings)
    except UnsafeConfiguration as exc:
        _fail(str(exc), code=2)
    make_dirs(settings.data_dir)
    env = {
        "IMAGEGATE_DATA_DIR": str(settings.data_dir.resolve()),
        "IMAGEGATE_HOST": settings.host,
        "IMAGEGATE_PORT": str(settings.port),
        "IMAGEGATE_PUBLIC_URL": settings.resolved_public_url(),
    }
    os.environ.update(env)
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    base = settings.resolved_public_url()
    console.print(f"imagegate on {base}  (API {base}/docs, health {base}/healthz)")
    Granian(
        "imagegate.web.app:app_from_env",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        http=HTTPModes(settings.http),
        http1_settings=HTTP1Settings(header_read_timeout=int(settings.header_timeout * 1000)),
        factory=True,
        log_access=False,
    ).serve()


def _keys_for(url: str, key_name: str | None, data_dir: Path | None) -> list[tuple[str, str]]:
    env_key = os.environ.get("IMAGEGATE_SIGNING_KEY")
    if env_key:
        return [("env", env_key)]
    try:
        parsed = parse_delivery_path(urlsplit(url).path.encode("utf-8"))
    except BadDeliveryPath:
        _fail("not a delivery URL: expected /<account_hash>/<image_id>/<variant>")
        raise AssertionError from None
    service = _service(_settings(data_dir))
    account = next((a for a in service.meta.list_accounts() if a.hash == parsed.account_hash), None)
    if account is None:
        _fail("no account with this hash in the store; set IMAGEGATE_SIGNING_KEY instead")
        raise AssertionError
    keys = [(k.name, k.value) for k in service.list_keys(account)]
    if key_name is not None:
        keys = [k for k in keys if k[0] == key_name]
        if not keys:
            _fail(f"the account has no key named {key_name!r}")
    return keys


@app.command()
def sign(
    url: Annotated[str, typer.Argument(help="Delivery URL or path to sign.")],
    expires: Annotated[str, typer.Option(help="Lifetime: 3600, 15m, 2h, 1d...")] = "1d",
    key_name: Annotated[str | None, typer.Option(help="Key to sign with.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Sign a delivery URL, with the key in IMAGEGATE_SIGNING_KEY or from the store."""
    _name, value = _keys_for(url, key_name or "default", data_dir)[0]
    print(signing.sign_url(url, value, parse_duration(expires)))


@app.command()
def verify(
    url: Annotated[str, typer.Argument(help="Signed delivery URL or path.")],
    data_dir: DataDir = None,
) -> None:
    """Check a signed URL now; exit 0 if it would be served, 1 if not."""
    import time

    settings = _settings(data_dir)
    parts = urlsplit(url)
    raw_path = parts.path.encode("utf-8")
    keys = [(n, v.encode("utf-8")) for n, v in _keys_for(url, None, data_dir)]
    policy = signing.Policy(
        clock_skew=settings.clock_skew,
        allow_no_expiry=settings.allow_non_expiring,
        max_lifetime=settings.max_url_lifetime,
    )
    verdict = signing.verify(raw_path, parts.query.encode("utf-8"), keys, int(time.time()), policy)
    detail = f" (key {verdict.key_name})" if verdict.key_name else ""
    if verdict.exp is not None:
        detail += f", exp {verdict.exp} ({verdict.exp - int(time.time())} s from now)"
    print(f"{verdict.outcome.value}{detail}")
    raise typer.Exit(0 if verdict.ok else 1)


@keys_app.command("list")
def keys_list(data_dir: DataDir = None, account: AccountOpt = None) -> None:
    """List keys with creation date and verifications."""
    service = _service(_settings(data_dir))
    table = Table("name", "created", "verifications", "value")
    for key in service.list_keys(_account(service, account)):
        table.add_row(key.name, key.created.isoformat(), str(key.verifications), key.value)
    console.print(table)


@keys_app.command("create")
def keys_create(name: str, data_dir: DataDir = None, account: AccountOpt = None) -> None:
    """Create a key, or regenerate it if it exists; print its value."""
    service = _service(_settings(data_dir))
    _run(lambda: service.put_key(_account(service, account), name))
    print(service.key_value(_account(service, account), name).value)


@keys_app.command("seal")
def keys_seal(data_dir: DataDir = None) -> None:
    """Encrypt every signing key still stored in the clear, under IMAGEGATE_MASTER_KEY."""
    service = _service(_settings(data_dir))
    if not service.keyseal.active:
        _fail("set IMAGEGATE_MASTER_KEY first")
    console.print(f"sealed {service.seal_keys()} key(s)")


@keys_app.command("delete")
def keys_delete(name: str, data_dir: DataDir = None, account: AccountOpt = None) -> None:
    """Delete a key; URLs signed with it stop working at once."""
    service = _service(_settings(data_dir))
    _run(lambda: service.delete_key(_account(service, account), name))
    console.print(f"deleted key {name}")


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
    read_only: Annotated[bool, typer.Option("--read-only", help="Read scope only.")] = False,
    data_dir: DataDir = None,
    account: AccountOpt = None,
) -> None:
    """Create an API token; its value is printed once."""
    service = _service(_settings(data_dir))
    scopes = frozenset({Scope.READ}) if read_only else frozenset(Scope)
    value, _ = service.create_token(_account(service, account).id, name, scopes)
    print(value)


@tokens_app.command("list")
def tokens_list(
    data_dir: DataDir = None,
    account: AccountOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List tokens (never their values)."""
    service = _service(_settings(data_dir))
    table = Table("id", "name", "scopes", "created", "revoked")
    for t in service.meta.list_tokens(_account(service, account).id):
        scopes = ",".join(sorted(s.value for s in t.scopes))
        if as_json:
            row = {"id": t.id, "name": t.name, "scopes": scopes, "revoked": t.revoked}
            print(json.dumps({**row, "created": t.created.isoformat()}))
        table.add_row(t.id, t.name, scopes, t.created.isoformat(), str(t.revoked))
    if not as_json:
        console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str, data_dir: DataDir = None, account: AccountOpt = None) -> None:
    """Revoke a token by id, and every token made with it (their sessions end)."""
    service = _service(_settings(data_dir))
    if not service.revoke_token(_account(service, account).id, token_id):
        _fail("no such token")
    console.print(f"revoked {token_id}")


@accounts_app.command("create")
def accounts_create(
    name: str,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create another account; print its credentials once."""
    service = _service(_settings(data_dir))
    creds = service.create_account(name).credentials()
    print(json.dumps(creds) if as_json else "\n".join(f"{k} {v}" for k, v in creds.items()))


@accounts_app.command("list")
def accounts_list(data_dir: DataDir = None) -> None:
    """List accounts."""
    service = _service(_settings(data_dir))
    table = Table("id", "hash", "name", "created")
    for a in service.meta.list_accounts():
        table.add_row(a.id, a.hash, a.name, a.created.isoformat())
    console.print(table)


@app.command()
def doctor(data_dir: DataDir = None) -> None:
    """Check libvips, the store and the configuration; say what to fix."""
    from imagegate.doctor import examine

    marks = {
        "ok": "[green]ok  [/green]",
        "warn": "[yellow]warn[/yellow]",
        "fail": "[red]FAIL[/red]",
    }
    worst = "ok"
    for finding in examine(_settings(data_dir)):
        console.print(f"{marks[finding.status]} {finding.check:16} {finding.detail}")
        if finding.status == "fail" or (finding.status == "warn" and worst == "ok"):
            worst = finding.status
    raise typer.Exit(1 if worst == "fail" else 0)


@app.command("gc")
def gc_command(
    data_dir: DataDir = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would go; remove nothing.")
    ] = False,
    grace: Annotated[
        int,
        typer.Option(
            min=0, help="Seconds: leftovers younger than this are kept (uploads in flight)."
        ),
    ] = 3600,
    force: Annotated[
        bool, typer.Option("--force", help="Go ahead even if the store looks misconfigured.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Remove what crashes and abandoned uploads leave: orphan blobs, temporary files,
    expired direct-upload drafts. Safe while the server runs."""
    from imagegate.gc import CollectionRefused, GarbageCollector

    service = _service(_settings(data_dir))
    collector = GarbageCollector(service.meta, service.blobs, service.clock)
    try:
        report = collector.collect(grace=grace, dry_run=dry_run, force=force)
    except CollectionRefused as exc:
        _fail(f"{exc}; nothing was removed")
        raise AssertionError from None
    if as_json:
        print(json.dumps(report.as_dict()))
        return
    verb = "to remove" if dry_run else "removed"
    console.print(f"{report.blobs} blobs, {report.referenced} referenced by an image.")
    console.print(f"  orphan blobs {verb}: {report.orphans_removed}")
    if report.orphans_young:
        console.print(f"  orphan blobs kept (younger than {grace} s): {report.orphans_young}")
    if report.orphans_failed:
        console.print(
            f"  [red]orphan blobs that could not be removed: {report.orphans_failed}[/red]"
        )
    console.print(f"  temporary files {verb}: {report.temp_files}")
    console.print(f"  expired drafts {verb}: {report.expired_drafts}")


def _run(action: Any) -> Any:
    try:
        return action()
    except ImagegateError as exc:
        _fail(exc.message)


def main() -> None:
    # What any command writes (the store, its journals, the server's files) is the
    # owner's alone, whichever code path creates it.
    os.umask(UMASK)
    try:
        app()
    except ImagegateError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        sys.exit(1)
