"""Commands over the store: ``init``, and the ``accounts``, ``keys`` and ``tokens`` of an
account. Each opens the store, calls one use case, and prints what it gave."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from imagegate.cli.common import (
    AccountOpt,
    DataDir,
    account_of,
    console,
    fail,
    open_store,
    run,
    settings,
)
from imagegate.core.models import Scope
from imagegate.core.passwords import MIN_PASSWORD_LENGTH
from imagegate.private_files import make_dirs, write_file

keys_app = typer.Typer(help="Signing keys of an account.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens of an account.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts (tenants).", no_args_is_help=True)


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
    if ask_admin_password and admin_password is None:
        admin_password = typer.prompt("Admin password", hide_input=True, confirmation_prompt=True)
    if admin_password is not None and len(admin_password) < MIN_PASSWORD_LENGTH:
        fail(f"the admin password must be at least {MIN_PASSWORD_LENGTH} characters")
    configured = settings(data_dir)
    data = configured.data_dir
    make_dirs(data)
    with open_store(data_dir, migrate=True) as gate:
        initialised = bool(gate.accounts.all())
        if admin_password is not None:
            gate.sessions.set_admin_password(admin_password)
            if initialised:
                console.print("The dashboard's admin password is set.")
                return
        if initialised:
            fail(f"{data} is already initialised; see `imagegate accounts list`")
        creds = gate.accounts.create(name).credentials()
    first = configured.first_account_path()
    write_file(first, (json.dumps(creds, indent=2) + "\n").encode("utf-8"))
    if as_json:
        print(json.dumps(creds))
        return
    console.print(f"Initialised [bold]{data}[/bold]. First account:")
    for key, value in creds.items():
        console.print(f"  {key:13} {value}")
    console.print(f"The token and key are shown once here (and kept in {first}, mode 600).")
    if admin_password is not None:
        console.print("The dashboard's admin password is set: sign in at /dashboard.")


@keys_app.command("list")
def keys_list(data_dir: DataDir = None, account: AccountOpt = None) -> None:
    """List keys with creation date and verifications."""
    with open_store(data_dir) as gate:
        table = Table("name", "created", "verifications", "value")
        for key in gate.keys.all(account_of(gate, account)):
            table.add_row(key.name, key.created.isoformat(), str(key.verifications), key.value)
    console.print(table)


@keys_app.command("create")
def keys_create(name: str, data_dir: DataDir = None, account: AccountOpt = None) -> None:
    """Create a key, or regenerate it if it exists; print its value."""
    with open_store(data_dir) as gate:
        owner = account_of(gate, account)
        run(lambda: gate.keys.put(owner, name))
        print(gate.keys.value(owner, name).value)


@keys_app.command("seal")
def keys_seal(data_dir: DataDir = None) -> None:
    """Encrypt every signing key still stored in the clear, under IMAGEGATE_MASTER_KEY."""
    if settings(data_dir).master_key is None:
        fail("set IMAGEGATE_MASTER_KEY first")
    with open_store(data_dir) as gate:
        console.print(f"sealed {gate.keys.seal_all()} key(s)")


@keys_app.command("delete")
def keys_delete(name: str, data_dir: DataDir = None, account: AccountOpt = None) -> None:
    """Delete a key; URLs signed with it stop working at once."""
    with open_store(data_dir) as gate:
        owner = account_of(gate, account)
        run(lambda: gate.keys.delete(owner, name))
    console.print(f"deleted key {name}")


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
    read_only: Annotated[bool, typer.Option("--read-only", help="Read scope only.")] = False,
    data_dir: DataDir = None,
    account: AccountOpt = None,
) -> None:
    """Create an API token; its value is printed once."""
    scopes = frozenset({Scope.READ}) if read_only else frozenset(Scope)
    with open_store(data_dir) as gate:
        owner = account_of(gate, account)
        value, _ = run(lambda: gate.tokens.create(owner.id, name, scopes))
    print(value)


@tokens_app.command("list")
def tokens_list(
    data_dir: DataDir = None,
    account: AccountOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List tokens (never their values)."""
    table = Table("id", "name", "scopes", "created", "revoked")
    with open_store(data_dir) as gate:
        tokens = gate.tokens.all(account_of(gate, account).id)
    for t in tokens:
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
    with open_store(data_dir) as gate:
        if not gate.tokens.revoke(account_of(gate, account).id, token_id):
            fail("no such token")
    console.print(f"revoked {token_id}")


@accounts_app.command("create")
def accounts_create(
    name: str,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create another account; print its credentials once."""
    with open_store(data_dir) as gate:
        creds = gate.accounts.create(name).credentials()
    print(json.dumps(creds) if as_json else "\n".join(f"{k} {v}" for k, v in creds.items()))


@accounts_app.command("list")
def accounts_list(data_dir: DataDir = None) -> None:
    """List accounts."""
    table = Table("id", "hash", "name", "created")
    with open_store(data_dir) as gate:
        for a in gate.accounts.all():
            table.add_row(a.id, a.hash, a.name, a.created.isoformat())
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.add_typer(keys_app, name="keys")
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(accounts_app, name="accounts")
