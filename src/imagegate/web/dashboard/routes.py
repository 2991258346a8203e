"""The dashboard app: ``create_dashboard`` builds it, mounted at ``/dashboard`` by
:func:`imagegate.web.app.create_app`. This module also holds signing in and out."""

from __future__ import annotations

import asyncio
import secrets

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from imagegate.errors import Unauthenticated
from imagegate.service import Service
from imagegate.serving import Deliverer
from imagegate.settings import Settings
from imagegate.web.dashboard import config, images, keys, variants
from imagegate.web.dashboard.base import (
    BASE,
    HERE,
    Dash,
    SignInRequired,
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
from imagegate.web.dashboard.sessions import ABSOLUTE_MS
from imagegate.web.offload import Offload

FAILED_SIGN_IN_DELAY = 0.4  # seconds; on top of scrypt's own cost for passwords
LOGIN_COOKIE_AGE = 3600


def create_dashboard(
    settings: Settings, service: Service, deliverer: Deliverer, offload: Offload
) -> Starlette:
    dash = Dash(settings, service, deliverer, offload)
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
        words = {404: "There is no such page.", 405: "This page does not take that method."}
        return dash.error_page(request, status, words.get(status, "The request was refused."))

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
        except SignInRequired:
            pass
        return await _sign_in_form(request, status=200, error="")

    async def _sign_in_form(request: Request, *, status: int, error: str) -> Response:
        token = secrets.token_urlsafe(32)
        has_password = await dash.io(dash.sessions.admin_password_set)
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

    async def sign_in(request: Request) -> Response:
        check_same_origin(request, dash.public_url)
        form = await read_form(request)
        check_csrf_token(request.cookies.get(LOGIN_COOKIE, ""), form_text(form, "csrf_token"))
        method = form_text(form, "method")
        try:
            if method == "password":
                password = form.get("password") or ""
                opened = await dash.io(dash.sessions.sign_in_as_admin, password)
            else:
                opened = await dash.io(dash.sessions.sign_in_with_token, form_text(form, "token"))
        except Unauthenticated:
            await asyncio.sleep(FAILED_SIGN_IN_DELAY)
            error = (
                "That password is not right, or no admin password is set."
                if method == "password"
                else "That API token is not valid: it is unknown, revoked or expired."
            )
            return await _sign_in_form(request, status=401, error=error)
        response = redirect(_safe_next(form_text(form, "next")))
        set_cookie(
            response, SESSION_COOKIE, opened.raw_id, secure=dash.secure, max_age=ABSOLUTE_MS // 1000
        )
        clear_cookie(response, LOGIN_COOKIE, secure=dash.secure)
        return response

    async def sign_out(request: Request) -> Response:
        try:
            viewer, _form = await dash.form(request, edit=False)
        except SignInRequired:  # already over: nothing to end
            viewer = None
        if viewer is not None:
            await dash.io(dash.sessions.end, viewer.session)
        response = redirect("/signin", done="signed-out")
        clear_cookie(response, SESSION_COOKIE, secure=dash.secure)
        return response

    async def switch_account(request: Request) -> Response:
        viewer, form = await dash.form(request, edit=False)
        if not viewer.session.admin:
            return dash.error_page(request, 403, "Only an admin can switch accounts.", viewer)
        account = await dash.io(
            dash.sessions.switch_account, viewer.session, form_text(form, "account_id")
        )
        if account is None:
            return dash.error_page(request, 404, "There is no such account.", viewer)
        return redirect("/images", done="account-switched")

    return [
        Route("/signin", dash.endpoint(sign_in_page), methods=["GET"]),
        Route("/signin", dash.endpoint(sign_in), methods=["POST"]),
        Route("/signout", dash.endpoint(sign_out), methods=["POST"]),
        Route("/account", dash.endpoint(switch_account), methods=["POST"]),
    ]
