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

from imagegate.errors import BadRequest, ImagegateError
from imagegate.models import Account
from imagegate.ports import StoredSession
from imagegate.service import Service
from imagegate.serving import Deliverer
from imagegate.settings import Settings
from imagegate.web.dashboard.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    CrossSiteRefused,
    check_csrf_token,
    check_same_origin,
    secure_cookies,
)
from imagegate.web.offload import Offload

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


class SignInRequired(Exception):
    """No live session: sign in (again)."""


class ReadOnlySession(Exception):
    """A read-only token's session asked to change something."""


class NoAccount(Exception):
    """An admin signed in to a store with no account yet."""


class NoKeyAccess(Exception):
    """A session that may not see or use signing-key values asked to."""


NO_KEY_ACCESS = (
    "Signing keys need a session opened with the admin password or with an edit token that "
    "does not expire."
)


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
            raise NoAccount()
        return self.account


class Dash:
    """The dashboard's handles on the service, the delivery renderer and the templates."""

    def __init__(
        self, settings: Settings, service: Service, deliverer: Deliverer, offload: Offload
    ) -> None:
        from imagegate.web.clients import parse_proxies
        from imagegate.web.dashboard.sessions import Sessions
        from imagegate.web.dashboard.signin_guard import SignInGuard

        self.settings = settings
        self.service = service
        self.deliverer = deliverer
        self.offload = offload
        self.public_url = settings.resolved_public_url()
        self.secure = secure_cookies(self.public_url)
        self.sessions = Sessions(service)
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
        return await self.offload.io(fn, *args)

    # --- who is asking --------------------------------------------------------------------

    async def viewer(self, request: Request) -> Viewer:
        raw = request.cookies.get(SESSION_COOKIE, "")
        session = await self.io(self.sessions.find, raw) if raw else None
        if session is None:
            raise SignInRequired()
        return await self.io(self._viewer, session)

    def _viewer(self, session: StoredSession) -> Viewer:
        meta = self.service.meta
        account = meta.get_account(session.account_id) if session.account_id else None
        accounts = meta.list_accounts() if session.admin else []
        if account is None and accounts:
            account = accounts[0]
        return Viewer(session, account, accounts)

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
        """Wrap a page handler: failures become pages that say what happened."""

        @functools.wraps(fn)
        async def wrapper(request: Request) -> Response:
            try:
                return await fn(request)
            except SignInRequired:
                if request.method in SAFE_METHODS:
                    target = request.url.path
                    if request.url.query:
                        target += "?" + request.url.query
                    return redirect("/signin", next=target)
                return self.error_page(
                    request, 401, "Your session has ended. Sign in again to continue."
                )
            except CrossSiteRefused as exc:
                log.info("dashboard request refused: %s", exc)
                return self.error_page(
                    request,
                    403,
                    "This request was refused because it did not come from this dashboard's "
                    "own pages. Reload the page and try again.",
                )
            except ReadOnlySession:
                return self.error_page(
                    request,
                    403,
                    "You are signed in with a read-only token: nothing can be changed.",
                )
            except NoKeyAccess:
                return self.error_page(request, 403, NO_KEY_ACCESS)
            except NoAccount:
                return self.error_page(
                    request,
                    404,
                    "There is no account yet. Create one with `imagegate accounts create NAME`.",
                )
            except ImagegateError as exc:
                return self.error_page(request, exc.status, exc.message)
            except Exception:
                log.exception("dashboard page failed")
                return self.error_page(request, 500, "Something went wrong on the server.")

        return wrapper

    def json_endpoint(self, fn: Endpoint) -> Endpoint:
        """Wrap a handler called by the dashboard's scripts: failures become JSON words."""

        @functools.wraps(fn)
        async def wrapper(request: Request) -> Response:
            try:
                return await fn(request)
            except SignInRequired:
                return json_error(401, "Your session has ended. Sign in again to continue.")
            except CrossSiteRefused:
                return json_error(403, "Refused: reload the page and try again.")
            except ReadOnlySession:
                return json_error(403, "You are signed in with a read-only token.")
            except NoKeyAccess:
                return json_error(403, NO_KEY_ACCESS)
            except NoAccount:
                return json_error(404, "There is no account yet.")
            except ImagegateError as exc:
                return json_error(exc.status, exc.message)
            except Exception:
                log.exception("dashboard request failed")
                return json_error(500, "Something went wrong on the server.")

        return wrapper


def redirect(path: str, **query: str) -> RedirectResponse:
    """A 303 to a dashboard path (``/images``), with an optional query."""
    target = BASE + path
    params = {k: v for k, v in query.items() if v}
    if params:
        target += "?" + urlencode(params)
    return RedirectResponse(target, status_code=303)


def json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


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
    "NoAccount",
    "NoKeyAccess",
    "ReadOnlySession",
    "SignInRequired",
    "Viewer",
]
