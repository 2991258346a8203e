"""Dashboard test helpers: servers with an admin password (and a chosen clock, public URL
or other settings), and an HTTP client that signs in the way a browser does (form, CSRF
field, cookie)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from harness import Server, serve_account
from imagegate.settings import Settings

ADMIN_PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def dashboard_server(
    data_dir: Path,
    *,
    clock: Callable[[], float] | None = None,
    admin_password: str | None = ADMIN_PASSWORD,
    **settings: Any,
) -> contextlib.AbstractContextManager[Server]:
    """:func:`harness.serve_account` with settings ``settings`` over ``data_dir``, and the
    dashboard's admin password set (unless None)."""
    config = Settings(data_dir=data_dir, **settings)
    return serve_account(config, clock=clock, admin_password=admin_password)


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
