"""The dashboard app: ``create_dashboard`` builds it, mounted at ``/dashboard`` by
:func:`imagegate.web.app.create_app`. This module also holds signing in and out.

Sign-in attempts are throttled per client address and per target, and passwords are checked
in a pool of their own (:mod:`imagegate.web.dashboard.signin_guard`)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from imagegate.assembly import Imagegate
from imagegate.core.errors import (
    AccountNotFound,
    AdminOnly,
    BadRequest,
    ImagegateError,
    MethodNotAllowed,
    NoPage,
    SessionEnded,
    SignInBusy,
    SignInThrottled,
    Unauthenticated,
)
from imagegate.core.passwords import check_password
from imagegate.settings import Settings
from imagegate.usecases.sessions import ABSOLUTE_MS, Opened
from imagegate.web.clients import client_key
from imagegate.web.dashboard import config, images, keys, variants
from imagegate.web.dashboard.base import (
    BASE,
    HERE,
    Dash,
    Form,
    form_text,
    read_form,
    redirect,
)
from imagegate.web.dashboard.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SecurityHeaders,
    check_csrf_token,
    check_same_origin,
    clear_cookie,
    set_cookie,
)
from imagegate.web.errors import dashboard_error

FAILED_SIGN_IN_DELAY = 0.4  # seconds; on top of scrypt's own cost for passwords
LOGIN_COOKIE_AGE = 3600
log = logging.getLogger("imagegate.dashboard")


def _digest(form: Form) -> str:
    """The target a token sign-in tries: the token, known here only by a digest of it."""
    return hashlib.sha256(form_text(form, "token").encode("utf-8")).hexdigest()[:32]


def create_dashboard(settings: Settings, gate: Imagegate) -> Starlette:
    dash = Dash(settings, gate)
    routes: list[BaseRoute] = [
        Route("/", dash.endpoint(_home(dash)), methods=["GET"]),
        *_sign_in_routes(dash),
        *images.routes(dash),
        *variants.routes(dash),
        *keys.routes(dash),
        *config.routes(dash),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        known = {404: NoPage(), 405: MethodNotAllowed()}
        return dash.error(request, known.get(status) or BadRequest("The request was refused."))

    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: not_found},
    )


def _home(dash: Dash) -> images.Endpoint:
    async def home(request: Request) -> Response:
        await dash.viewer(request)
        return redirect("/images")

    return home


def _safe_next(target: str) -> str:
    """Only a path inside the dashboard may follow sign-in (no open redirects)."""
    if target.startswith(BASE + "/") and not target.startswith("//") and "\\" not in target:
        return target[len(BASE) :]
    return "/images"


def _sign_in_routes(dash: Dash) -> list[BaseRoute]:
    async def sign_in_page(request: Request) -> Response:
        try:
            await dash.viewer(request)
            return redirect(_safe_next(request.query_params.get("next", "")))
        except SessionEnded:
            pass
        return await _sign_in_form(request, status=200, error="")

    async def _sign_in_form(
        request: Request, *, status: int, error: str, has_password: bool | None = None
    ) -> Response:
        token = secrets.token_urlsafe(32)
        if has_password is None:
            has_password = await dash.io(dash.gate.sessions.admin_password_set)
        response = dash.render(
            request,
            "signin.html",
            None,
            status=status,
            title="Sign in",
            csrf=token,
            error=error,
            has_password=has_password,
            next=request.query_params.get("next", ""),
        )
        set_cookie(response, LOGIN_COOKIE, token, secure=dash.secure, max_age=LOGIN_COOKIE_AGE)
        return response

    async def _attempt(method: str, form: Form) -> Opened:
        if method == "password":
            password = form.get("password") or ""
            stored = await dash.io(dash.gate.sessions.admin_hash)
            if not await dash.guard.hash(check_password, password, stored):
                raise Unauthenticated("Wrong password")
            return await dash.io(dash.gate.sessions.open_admin)
        return await dash.io(dash.gate.sessions.sign_in_with_token, form_text(form, "token"))

    async def sign_in(request: Request) -> Response:
        check_same_origin(request, dash.public_url)
        form = await read_form(request)
        check_csrf_token(request.cookies.get(LOGIN_COOKIE, ""), form_text(form, "csrf_token"))
        method = "password" if form_text(form, "method") == "password" else "token"
        address = client_key(
            request.client.host if request.client else None,
            request.headers.get("x-forwarded-for"),
            dash.proxies,
        )
        kind, target = ("admin", "admin") if method == "password" else ("token", _digest(form))
        try:
            dash.guard.admit(address, kind, target)
        except SignInThrottled as exc:
            log.info("sign-in throttled", extra={"client": address, "target": kind})
            return await _refused(request, exc)
        try:
            opened = await _attempt(method, form)
        except SignInBusy as exc:
            dash.guard.refund(address, kind, target)  # nothing was tried
            return await _refused(request, exc)
        except Unauthenticated:
            await asyncio.sleep(FAILED_SIGN_IN_DELAY)
            error = (
                "That password is not right, or no admin password is set."
                if method == "password"
                else "That API token is not valid: it is unknown, revoked or expired."
            )
            return await _sign_in_form(request, status=401, error=error)
        dash.guard.refund(address, kind, target)
        response = redirect(_safe_next(form_text(form, "next")))
        set_cookie(
            response, SESSION_COOKIE, opened.raw_id, secure=dash.secure, max_age=ABSOLUTE_MS // 1000
        )
        clear_cookie(response, LOGIN_COOKIE, secure=dash.secure)
        return response

    async def _refused(request: Request, exc: ImagegateError) -> Response:
        # Refusals touch no database: the form offers both ways in.
        status, words, headers = dashboard_error(exc)
        response = await _sign_in_form(request, status=status, error=words, has_password=True)
        response.headers.update(headers)
        return response

    async def sign_out(request: Request) -> Response:
        try:
            viewer, _form = await dash.form(request, edit=False)
        except SessionEnded:  # already over: nothing to end
            viewer = None
        if viewer is not None:
            await dash.io(dash.gate.sessions.end, viewer.session)
        response = redirect("/signin", done="signed-out")
        clear_cookie(response, SESSION_COOKIE, secure=dash.secure)
        return response

    async def switch_account(request: Request) -> Response:
        viewer, form = await dash.form(request, edit=False)
        if not viewer.session.admin:
            return dash.error(request, AdminOnly(), viewer)
        account = await dash.io(
            dash.gate.sessions.switch_account, viewer.session, form_text(form, "account_id")
        )
        if account is None:
            return dash.error(request, AccountNotFound(), viewer)
        return redirect("/images", done="account-switched")

    return [
        Route("/signin", dash.endpoint(sign_in_page), methods=["GET"]),
        Route("/signin", dash.endpoint(sign_in), methods=["POST"]),
        Route("/signout", dash.endpoint(sign_out), methods=["POST"]),
        Route("/account", dash.endpoint(switch_account), methods=["POST"]),
    ]
