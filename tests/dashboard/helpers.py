"""Dashboard test helpers: servers with a chosen clock, public URL or admin password, and
an HTTP client that signs in the way a browser does (form, CSRF field, cookie)."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from harness import Server, serve_in_thread, store_of
from imagegate.assembly import build
from imagegate.core.passwords import hash_password
from imagegate.settings import Settings

ADMIN_PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextlib.contextmanager
def dashboard_server(
    data_dir: Path,
    *,
    clock: Callable[[], float] | None = None,
    admin_password: str | None = ADMIN_PASSWORD,
    **settings: Any,
) -> Iterator[Server]:
    """A real server on a loopback port with one account (and an admin password)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = Settings(data_dir=data_dir, **settings)
    gate = build(config, clock) if clock is not None else build(config)
    gate.migrate()
    new = gate.accounts.create("test")
    if admin_password is not None:
        store_of(gate).sessions.set_admin_password(admin_hash(admin_password), 0)
    with serve_in_thread(config, gate) as srv:
        srv.account_id = new.account.id
        srv.account_hash = new.account.hash
        srv.api_token = new.api_token
        srv.signing_key = new.signing_key
        yield srv


@functools.cache
def admin_hash(password: str) -> str:
    """scrypt is slow on purpose: hash the test password once per run."""
    return hash_password(password)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


class Browserish:
    """An httpx client that behaves like a same-origin browser page."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=30)
        self.origin = {"Origin": server.base_url, "Sec-Fetch-Site": "same-origin"}

    def close(self) -> None:
        self.http.close()

    def sign_in(self, *, token: str | None = None, password: str | None = None) -> httpx.Response:
        page = self.http.get("/dashboard/signin")
        fields = {"csrf_token": csrf_of(page.text), "next": ""}
        if password is not None:
            fields |= {"method": "password", "password": password}
        else:
            fields |= {"method": "token", "token": token or self.server.api_token}
        return self.http.post("/dashboard/signin", data=fields, headers=self.origin)

    def csrf(self, path: str = "/dashboard/images") -> str:
        page = self.http.get(path)
        assert page.status_code == 200, page.text
        return csrf_of(page.text)

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> httpx.Response:
        headers = {**self.origin, **kwargs.pop("headers", {})}
        return self.http.post(path, data=data, headers=headers, **kwargs)

    @property
    def session_cookie(self) -> str | None:
        return self.http.cookies.get("imagegate_session")
