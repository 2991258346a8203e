"""What every dashboard page shares: the handles it works with, who is asking, rendering,
and how failures become pages with words on them (never a traceback)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, TypeVarTuple
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import Message

from imagegate.assembly import Imagegate
from imagegate.core.errors import (
    BadRequest,
    CrossSiteRefused,
    ImagegateError,
    NoAccountYet,
    NoKeyAccess,
    ReadOnlySession,
    SessionEnded,
)
from imagegate.core.models import Account
from imagegate.settings import Settings
from imagegate.usecases.records import StoredSession
from imagegate.web.clients import parse_proxies
from imagegate.web.dashboard.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    check_csrf_token,
    check_same_origin,
    secure_cookies,
)
from imagegate.web.dashboard.signin_guard import SignInGuard
from imagegate.web.errors import dashboard_error

log = logging.getLogger("imagegate.dashboard")

BASE = "/dashboard"
MAX_FORM_BYTES = 64 * 1024
HERE = Path(__file__).resolve().parent
T = TypeVar("T")
Ts = TypeVarTuple("Ts")
Endpoint = Callable[[Request], Awaitable[Response]]

#: Fixed words for ``?done=`` after a successful form (never text taken from the URL).
NOTICES = {
    "signed-out": "You are signed out.",
    "private": "The image is now private: it is served only through signed URLs.",
    "public": "The image is now public.",
    "deleted-image": "The image was deleted.",
    "variant-created": "The variant was created.",
    "variant-saved": "The variant was saved.",
    "variant-deleted": "The variant was deleted.",
    "key-created": "The key was created.",
    "key-regenerated": "The key has a new value. URLs signed with the old value no longer work.",
    "key-deleted": "The key was deleted. URLs signed with it no longer work.",
    "settings-saved": "The settings were saved.",
    "token-revoked": "The token was revoked.",
    "account-switched": "You are now managing another account.",
    "uploaded": "The image was uploaded.",
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: their session, the account they manage, and (admins) the others."""

    session: StoredSession
    account: Account | None
    accounts: list[Account] = field(default_factory=list)

    @property
    def can_edit(self) -> bool:
        return not self.session.read_only

    @property
    def key_access(self) -> bool:
        """May see signing-key values and sign URLs with them."""
        return self.session.key_access and not self.session.read_only

    def check_key_access(self) -> None:
        if not self.key_access:
            raise NoKeyAccess()

    @property
    def csrf(self) -> str:
        return self.session.csrf_token

    def managed(self) -> Account:
        if self.account is None:
            raise NoAccountYet()
        return self.account


class Dash:
    """What every dashboard page works with: imagegate's use cases, who is asking, and the
    templates."""

    def __init__(self, settings: Settings, gate: Imagegate) -> None:
        self.settings = settings
        self.gate = gate
        self.public_url = settings.resolved_public_url()
        self.secure = secure_cookies(self.public_url)
        self.guard = SignInGuard()
        self.proxies = parse_proxies(p for p in settings.trusted_proxies.split(",") if p.strip())
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["q"] = lambda value: quote(str(value), safe="")
        self.templates.globals["base"] = BASE

    async def io(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        return await self.gate.offload.io(fn, *args)

    # --- who is asking --------------------------------------------------------------------

    async def viewer(self, request: Request) -> Viewer:
        raw = request.cookies.get(SESSION_COOKIE, "")
        session = await self.io(self.gate.sessions.find, raw) if raw else None
        if session is None:
            raise SessionEnded()
        return await self.io(self._viewer, session)

    def _viewer(self, session: StoredSession) -> Viewer:
        accounts = self.gate.accounts
        account = accounts.get(session.account_id) if session.account_id else None
        every = accounts.all() if session.admin else []
        if account is None and every:
            account = every[0]
        return Viewer(session, account, every)

    async def form(self, request: Request, *, edit: bool = True) -> tuple[Viewer, Form]:
        """For unsafe requests: the session, checked against cross-site forgery, and the form.
        With ``edit``, a read-only session is refused."""
        viewer = await self.checked(request, None)
        form = await read_form(request)
        check_csrf_token(viewer.csrf, form.get(CSRF_FIELD))
        if edit and not viewer.can_edit:
            raise ReadOnlySession()
        return viewer, form

    async def checked(self, request: Request, token: str | None) -> Viewer:
        """The session of an unsafe request, after the origin check; with ``token``, after
        the CSRF check too (callers that read the token from a body check it themselves)."""
        if request.method in SAFE_METHODS:
            raise CrossSiteRefused("not an unsafe method")
        check_same_origin(request, self.public_url)
        viewer = await self.viewer(request)
        if token is not None:
            check_csrf_token(viewer.csrf, token)
        return viewer

    def header_token(self, request: Request) -> str | None:
        return request.headers.get(CSRF_HEADER)

    # --- answers --------------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        viewer: Viewer | None,
        *,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        done = request.query_params.get("done", "")
        values: dict[str, Any] = {
            "viewer": viewer,
            "account": viewer.account if viewer else None,
            "csrf": viewer.csrf if viewer else "",
            "notice": NOTICES.get(done, ""),
            "error": "",
            "nav": "",
            "title": "imagegate",
            "request_path": request.url.path,
        }
        values.update(context)
        html = self.templates.get_template(template).render(values)
        return HTMLResponse(html, status_code=status)

    def error_page(
        self, request: Request, status: int, message: str, viewer: Viewer | None = None
    ) -> HTMLResponse:
        return self.render(
            request, "error.html", viewer, status=status, title="Error", message=message
        )

    def endpoint(self, fn: Endpoint) -> Endpoint:
        """Wrap a page handler: failures become pages that say what happened (a page asked
        for without a session leads to the sign-in page, and back)."""

        @functools.wraps(fn)
        async def wrapper(request: Request) -> Response:
            try:
                return await fn(request)
            except SessionEnded:
                if request.method not in SAFE_METHODS:
                    return self.error(request, SessionEnded())
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                return redirect("/signin", next=target)
            except ImagegateError as exc:
                return self.error(request, exc)
            except Exception:
                log.exception("dashboard page failed")
                return self.error(request, ImagegateError())

        return wrapper

    def error(
        self, request: Request, exc: ImagegateError, viewer: Viewer | None = None
    ) -> HTMLResponse:
        """An error as a page: its status and words (:mod:`imagegate.web.errors`)."""
        status, message, headers = dashboard_error(exc)
        page = self.error_page(request, status, message, viewer)
        page.headers.update(headers)
        return page

    def json_endpoint(self, fn: Endpoint) -> Endpoint:
        """Wrap a handler called by the dashboard's scripts: failures become JSON words."""

        @functools.wraps(fn)
        async def wrapper(request: Request) -> Response:
            try:
                return await fn(request)
            except ImagegateError as exc:
                return json_error(exc)
            except Exception:
                log.exception("dashboard request failed")
                return json_error(ImagegateError())

        return wrapper


def redirect(path: str, **query: str) -> RedirectResponse:
    """A 303 to a dashboard path (``/images``), with an optional query."""
    target = BASE + path
    params = {k: v for k, v in query.items() if v}
    if params:
        target += "?" + urlencode(params)
    return RedirectResponse(target, status_code=303)


def json_error(exc: ImagegateError) -> JSONResponse:
    """An error as the dashboard's scripts read it: ``{"ok": false, "error": words}``."""
    status, message, headers = dashboard_error(exc)
    return JSONResponse({"ok": False, "error": message}, status_code=status, headers=headers)


@dataclass(frozen=True, slots=True)
class Form:
    """The text fields of a submitted form, in order."""

    fields: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        return next((v for k, v in self.fields if k == name), None)


class _TooLarge(Exception):
    pass


async def read_form(request: Request) -> Form:
    """A dashboard form's text fields. Forms are small: a body past ``MAX_FORM_BYTES`` is
    refused as soon as it is seen to be, never read whole."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise BadRequest("This request is not a form.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise BadRequest("This form is too large.")
    seen = 0
    receive = request.receive

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > MAX_FORM_BYTES:
            raise _TooLarge()
        return message

    try:
        parsed = await Request(request.scope, counted).form(
            max_files=0, max_fields=100, max_part_size=MAX_FORM_BYTES
        )
    except _TooLarge:
        raise BadRequest("This form is too large.") from None
    except Exception:
        raise BadRequest("This form could not be read.") from None
    try:
        return Form([(k, v) for k, v in parsed.multi_items() if isinstance(v, str)])
    finally:
        await parsed.close()


def form_text(form: Form, name: str, default: str = "") -> str:
    value = form.get(name)
    return value.strip() if value is not None else default


def form_value(form: Form, name: str) -> str:
    """A field exactly as sent (ids may hold any character, spaces included)."""
    return form.get(name) or ""


__all__ = [
    "BASE",
    "Dash",
    "NoAccountYet",
    "NoKeyAccess",
    "ReadOnlySession",
    "SessionEnded",
    "Viewer",
]
