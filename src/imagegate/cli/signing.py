"""``imagegate sign`` and ``imagegate verify``: the signature of a delivery URL, made or
checked on the spot. With ``IMAGEGATE_SIGNING_KEY`` set, nothing but the pure signing core
is loaded (no store, no web or image library); otherwise the key comes from the store."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from imagegate.cli.common import DataDir, fail, open_store, parse_duration, settings
from imagegate.core import signing
from imagegate.core.delivery_urls import BadDeliveryPath, parse_delivery_path


def keys_for(url: str, key_name: str | None, data_dir: Path | None) -> list[tuple[str, str]]:
    """``(name, value)`` of the keys to use: ``IMAGEGATE_SIGNING_KEY``, or the keys of the
    account whose hash the URL names (only ``key_name``, if given)."""
    env_key = os.environ.get("IMAGEGATE_SIGNING_KEY")
    if env_key:
        return [("env", env_key)]
    try:
        parsed = parse_delivery_path(urlsplit(url).path.encode("utf-8"))
    except BadDeliveryPath:
        fail("not a delivery URL: expected /<account_hash>/<image_id>/<variant>")
    with open_store(data_dir) as gate:
        account = gate.accounts.by_hash(parsed.account_hash)
        if account is None:
            fail("no account with this hash in the store; set IMAGEGATE_SIGNING_KEY instead")
        keys = [(k.name, k.value) for k in gate.keys.all(account)]
    if key_name is not None:
        keys = [k for k in keys if k[0] == key_name]
        if not keys:
            fail(f"the account has no key named {key_name!r}")
    return keys


def sign(
    url: Annotated[str, typer.Argument(help="Delivery URL or path to sign.")],
    expires: Annotated[str, typer.Option(help="Lifetime: 3600, 15m, 2h, 1d...")] = "1d",
    key_name: Annotated[str | None, typer.Option(help="Key to sign with.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Sign a delivery URL, with the key in IMAGEGATE_SIGNING_KEY or from the store."""
    _name, value = keys_for(url, key_name or "default", data_dir)[0]
    print(signing.sign_url(url, value, parse_duration(expires)))


def verify(
    url: Annotated[str, typer.Argument(help="Signed delivery URL or path.")],
    data_dir: DataDir = None,
) -> None:
    """Check a signed URL now; exit 0 if it would be served, 1 if not."""
    configured = settings(data_dir)
    parts = urlsplit(url)
    keys = [(n, v.encode("utf-8")) for n, v in keys_for(url, None, data_dir)]
    policy = signing.Policy(
        clock_skew=configured.clock_skew,
        allow_no_expiry=configured.allow_non_expiring,
        max_lifetime=configured.max_url_lifetime,
    )
    now = int(time.time())
    verdict = signing.verify(
        parts.path.encode("utf-8"), parts.query.encode("utf-8"), keys, now, policy
    )
    detail = f" (key {verdict.key_name})" if verdict.key_name else ""
    if verdict.exp is not None:
        detail += f", exp {verdict.exp} ({verdict.exp - now} s from now)"
    print(f"{verdict.outcome.value}{detail}")
    raise typer.Exit(0 if verdict.ok else 1)


def register(app: typer.Typer) -> None:
    app.command()(sign)
    app.command()(verify)
