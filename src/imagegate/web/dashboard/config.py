"""Settings: the account's flexible variants, browser TTL and GPS opt-in, and its API
tokens (create, with the value shown once, and revoke).

A token made in a session opened with a token is made *with* that token: it has no scope
the session's token lacks, expires no later, and is revoked with it; a session opened with
a batch token makes none. Revoking a token revokes every token made with it and ends their
sessions, this one included if it was opened with one of them."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from imagegate.core.errors import BadRequest, ImagegateError, SessionEnded
from imagegate.core.models import ApiToken, Scope
from imagegate.core.options import MAX_BROWSER_TTL, MIN_BROWSER_TTL, RANGES
from imagegate.usecases.clock import utc
from imagegate.web.dashboard.base import (
    Dash,
    Viewer,
    form_text,
    redirect,
)


def routes(dash: Dash) -> list[BaseRoute]:
    pages = SettingsPages(dash)
    return [
        Route("/settings", dash.endpoint(pages.index), methods=["GET"]),
        Route("/settings", dash.endpoint(pages.save), methods=["POST"]),
        Route("/tokens", dash.endpoint(pages.create_token), methods=["POST"]),
        Route("/token/revoke", dash.endpoint(pages.confirm_revoke), methods=["GET"]),
        Route("/token/revoke", dash.endpoint(pages.revoke), methods=["POST"]),
    ]


def token_status(token: ApiToken, now: datetime) -> str:
    if token.revoked:
        return "revoked"
    if token.expires is not None and token.expires < now:
        return "expired"
    return "active"


class SettingsPages:
    def __init__(self, dash: Dash) -> None:
        self.dash = dash
        self.gate = dash.gate

    async def _page(
        self,
        request: Request,
        viewer: Viewer,
        *,
        status: int = 200,
        error: str = "",
        new_token: str = "",
    ) -> Response:
        account = viewer.managed()
        tokens = await self.dash.io(self.gate.tokens.all, account.id)
        now = utc(self.gate.clock)
        rows = [
            {
                "token": t,
                "scopes": ", ".join(sorted(s.value for s in t.scopes)),
                "status": token_status(t, now),
                "yours": t.id == viewer.session.token_id,
            }
            for t in tokens
            if t.name != "batch" or token_status(t, now) == "active"
        ]
        return self.dash.render(
            request,
            "settings.html",
            viewer,
            status=status,
            error=error,
            title="Settings",
            nav="settings",
            tokens=rows,
            made_with_token=viewer.session.token_id is not None,
            new_token=new_token,
            min_ttl=MIN_BROWSER_TTL,
            max_ttl=MAX_BROWSER_TTL,
        )

    async def index(self, request: Request) -> Response:
        return await self._page(request, await self.dash.viewer(request))

    async def save(self, request: Request) -> Response:
        viewer, form = await self.dash.form(request)
        account = viewer.managed()
        flexible = form_text(form, "flexible_variants") == "on"
        keep_gps = form_text(form, "keep_gps") == "on"
        ttl_text = form_text(form, "browser_ttl")
        try:
            if not ttl_text.isdigit():
                raise BadRequest(f"The browser TTL must be {RANGES['browser_ttl']}")
            await self.dash.io(
                lambda: self.gate.accounts.configure(
                    account,
                    flexible_variants=flexible,
                    browser_ttl=int(ttl_text),
                    keep_gps=keep_gps,
                )
            )
        except ImagegateError as exc:
            return await self._page(request, viewer, status=exc.status, error=exc.message)
        return redirect("/settings", done="settings-saved")

    async def create_token(self, request: Request) -> Response:
        viewer, form = await self.dash.form(request)
        account = viewer.managed()
        name = form_text(form, "name")
        if not 1 <= len(name) <= 200:
            return await self._page(
                request, viewer, status=400, error="Give the token a name (1 to 200 characters)."
            )
        scopes = (
            frozenset({Scope.READ}) if form_text(form, "read_only") == "on" else frozenset(Scope)
        )
        parent = await self.dash.io(self.gate.sessions.token_of, viewer.session)
        if viewer.session.token_id is not None and parent is None:
            raise SessionEnded()  # the session's token is gone
        try:
            value, _token = await self.dash.io(
                lambda: self.gate.tokens.create(account.id, name, scopes, parent=parent)
            )
        except ImagegateError as exc:
            return await self._page(request, viewer, status=exc.status, error=exc.message)
        return await self._page(request, viewer, new_token=value)

    async def _token(self, viewer: Viewer, token_id: str) -> ApiToken:
        tokens = await self.dash.io(self.gate.tokens.all, viewer.managed().id)
        found = next((t for t in tokens if t.id == token_id), None)
        if found is None:
            raise BadRequest("There is no such token")
        return found

    async def confirm_revoke(self, request: Request) -> Response:
        viewer = await self.dash.viewer(request)
        token = await self._token(viewer, request.query_params.get("id", ""))
        warning = (
            "Programs that use this token, or any token made with it, are refused from now "
            "on. This cannot be undone."
        )
        if token.id == viewer.session.token_id:
            warning += " You signed in with this token, so you will be signed out."
        return self.dash.render(
            request,
            "confirm.html",
            viewer,
            title="Revoke token",
            nav="settings",
            heading=f"Revoke the token {token.name}?",
            warning=warning,
            action="/token/revoke",
            fields={"id": token.id},
            button="Revoke the token",
            cancel="/settings",
        )

    async def revoke(self, request: Request) -> Response:
        viewer, form = await self.dash.form(request)
        token = await self._token(viewer, form_text(form, "id"))
        await self.dash.io(self.gate.tokens.revoke, viewer.managed().id, token.id)
        mine = await self.dash.io(self.gate.sessions.token_of, viewer.session)
        if mine is not None and mine.revoked:  # this session's token, or one it was made with
            return redirect("/signin", done="token-revoked")
        return redirect("/settings", done="token-revoked")
