"""Signing keys (the page the seed sends people to): each key's name, creation date and the
verifications it has served; copy, create, regenerate and delete, with a warning that URLs
signed with a key stop working when it goes; and how a backend signs, in four languages.

Key values, the signing snippets and every change need key access (an admin session, or one
opened with an edit token that does not expire): any other session sees names, dates and
counts only, and its pages never carry a value."""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from imagegate.core.delivery_urls import delivery_url
from imagegate.core.errors import BadRequest, Conflict, ImagegateError
from imagegate.core.models import MAX_SIGNING_KEYS
from imagegate.web.dashboard.base import (
    Dash,
    form_text,
    redirect,
)

ENV_VAR = "IMAGEGATE_SIGNING_KEY"


def routes(dash: Dash) -> list[BaseRoute]:
    pages = KeyPages(dash)
    return [
        Route("/keys", dash.endpoint(pages.index), methods=["GET"]),
        Route("/keys", dash.endpoint(pages.create), methods=["POST"]),
        Route("/key/regenerate", dash.endpoint(pages.confirm_regenerate), methods=["GET"]),
        Route("/key/regenerate", dash.endpoint(pages.regenerate), methods=["POST"]),
        Route("/key/delete", dash.endpoint(pages.confirm_delete), methods=["GET"]),
        Route("/key/delete", dash.endpoint(pages.delete), methods=["POST"]),
    ]


class KeyPages:
    def __init__(self, dash: Dash) -> None:
        self.dash = dash
        self.gate = dash.gate

    async def index(
        self, request: Request, *, status: int = 200, error: str = "", draft: str = ""
    ) -> Response:
        viewer = await self.dash.viewer(request)
        account = viewer.managed()
        # An error answer carries the form and the words, never key material.
        keys = [] if error else await self.dash.io(self.gate.keys.all, account)
        if not viewer.key_access:
            keys = [replace(k, value="") for k in keys]
        example = delivery_url(self.dash.public_url, account.hash, "IMAGE_ID", "public")
        return self.dash.render(
            request,
            "keys.html",
            viewer,
            status=status,
            error=error,
            title="Signing keys",
            nav="keys",
            keys=keys,
            brief=bool(error),
            draft_name=draft,
            example_url=example,
            env_var=ENV_VAR,
            max_keys=MAX_SIGNING_KEYS,
        )

    async def create(self, request: Request) -> Response:
        viewer, form = await self.dash.form(request)
        viewer.check_key_access()
        account = viewer.managed()
        name = form_text(form, "name")
        try:
            existing = await self.dash.io(self.gate.keys.all, account)
            if any(k.name == name for k in existing):
                raise Conflict(f"A key named {name} exists already; regenerate it instead")
            await self.dash.io(self.gate.keys.put, account, name)
        except ImagegateError as exc:
            return await self.index(request, status=exc.status, error=exc.message, draft=name)
        return redirect("/keys", done="key-created")

    async def _confirm(self, request: Request, regenerate: bool) -> Response:
        viewer = await self.dash.viewer(request)
        viewer.check_key_access()
        account = viewer.managed()
        name = request.query_params.get("name", "")
        keys = await self.dash.io(self.gate.keys.all, account)
        if not any(k.name == name for k in keys):
            raise BadRequest("There is no key with this name")
        if regenerate:
            heading = f"Give the key {name} a new value?"
            warning = (
                f"URLs signed with the current value of {name} stop working at once, and "
                "backends that sign with it must be given the new value."
            )
        else:
            heading = f"Delete the key {name}?"
            warning = f"URLs signed with {name} stop working at once. This cannot be undone."
            if len(keys) == 1:
                warning += " It is the last key, so a new key named default will be made."
        return self.dash.render(
            request,
            "confirm.html",
            viewer,
            title="Regenerate key" if regenerate else "Delete key",
            nav="keys",
            heading=heading,
            warning=warning,
            action="/key/regenerate" if regenerate else "/key/delete",
            fields={"name": name},
            button="Regenerate the key" if regenerate else "Delete the key",
            cancel="/keys",
        )

    async def confirm_regenerate(self, request: Request) -> Response:
        return await self._confirm(request, True)

    async def confirm_delete(self, request: Request) -> Response:
        return await self._confirm(request, False)

    async def regenerate(self, request: Request) -> Response:
        viewer, form = await self.dash.form(request)
        viewer.check_key_access()
        account = viewer.managed()
        name = form_text(form, "name")
        keys = await self.dash.io(self.gate.keys.all, account)
        if not any(k.name == name for k in keys):
            raise BadRequest("There is no key with this name")
        await self.dash.io(self.gate.keys.put, account, name)
        return redirect("/keys", done="key-regenerated")

    async def delete(self, request: Request) -> Response:
        viewer, form = await self.dash.form(request)
        viewer.check_key_access()
        await self.dash.io(self.gate.keys.delete, viewer.managed(), form_text(form, "name"))
        return redirect("/keys", done="key-deleted")
