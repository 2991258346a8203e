"""One image: its facts, every variant URL, and (for a private image) the signed URL
generator. Signatures are made here on the server with the account's key, so no key ever
reaches the browser; the page only receives finished URLs.

Signing needs key access (an admin session, or one opened with an edit token that does not
expire): a signed URL outlives the session that made it. Any other session sees a private
image's URLs unsigned, and its preview through the session (``/dashboard/preview``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from imagegate.core.delivery_urls import delivery_path
from imagegate.core.errors import BadRequest
from imagegate.core.models import Account, Image, SigningKey, Variant
from imagegate.core.signing import sign_url
from imagegate.web.dashboard.base import (
    BASE,
    Dash,
)

LIST_TTL = 3600  # the variant URLs listed for a private image live an hour
LIFETIMES = (("3600", "1 hour"), ("86400", "1 day"), ("604800", "1 week"))
UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
MAX_TTL = 10 * 365 * 86400


@dataclass(frozen=True, slots=True)
class VariantUrl:
    variant: str
    url: str  # full URL, for copying
    path: str  # same-origin path (with query), for previews on this page
    note: str


@dataclass(frozen=True, slots=True)
class Generated:
    url: str
    path: str
    expires: str
    key: str


def routes(dash: Dash) -> list[BaseRoute]:
    page = DetailPage(dash)
    return [Route("/image", dash.endpoint(page.show), methods=["GET"])]


def human_seconds(seconds: int) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def lifetime_from(choice: str, amount: str, unit: str) -> int:
    """Seconds from the generator's fields; errors say what to fix."""
    if choice != "custom":
        if choice not in dict(LIFETIMES):
            raise BadRequest("Choose a lifetime: 1 hour, 1 day, 1 week or custom")
        return int(choice)
    if not amount.isdigit() or int(amount) < 1:
        raise BadRequest("A custom lifetime is a whole number of minutes, hours or days")
    if unit not in UNITS:
        raise BadRequest("Choose minutes, hours or days for a custom lifetime")
    seconds = int(amount) * UNITS[unit]
    if seconds > MAX_TTL:
        raise BadRequest("A signed URL may live at most 10 years")
    return seconds


class DetailPage:
    def __init__(self, dash: Dash) -> None:
        self.dash = dash
        self.gate = dash.gate

    def _sign(self, account: Account, image: Image, variant: str, key: SigningKey, exp: int) -> str:
        return sign_url(delivery_path(account.hash, image.id, variant), key.value, exp=exp)

    def variant_urls(
        self, account: Account, image: Image, variants: list[Variant], key: SigningKey | None
    ) -> list[VariantUrl]:
        """Each variant's URL; a private image's signed with ``key``, or, without one, left
        unsigned and previewed through the session instead."""
        base = self.dash.public_url
        urls = []
        for variant in variants:
            path = delivery_path(account.hash, image.id, variant.name)
            note = ""
            if image.require_signed_urls and not variant.never_require_signed_urls:
                if key is None:
                    query = urlencode({"id": image.id, "variant": variant.name})
                    urls.append(
                        VariantUrl(
                            variant.name,
                            base + path,
                            f"{BASE}/preview?{query}",
                            "private: serves only when your backend signs it",
                        )
                    )
                    continue
                exp = int(self.gate.clock()) + LIST_TTL
                path = self._sign(account, image, variant.name, key, exp)
                note = f"signed with key {key.name}, valid for 1 hour"
            elif image.require_signed_urls:
                note = "always public variant: no signature needed"
            urls.append(VariantUrl(variant.name, base + path, path, note))
        return urls

    async def show(self, request: Request) -> Response:
        dash = self.dash
        viewer = await dash.viewer(request)
        account = viewer.managed()
        params = request.query_params
        image = await dash.io(self.gate.images.get, account, params.get("id", ""))
        variants = await dash.io(self.gate.variants.all, account)
        signs = viewer.key_access
        keys = await dash.io(self.gate.keys.all, account) if signs else []
        chosen = {
            "variant": params.get("variant", "public"),
            "lifetime": params.get("lifetime", "3600"),
            "amount": params.get("amount", "").strip(),
            "unit": params.get("unit", "hours"),
            "key": params.get("key", keys[0].name if keys else ""),
        }
        generated: Generated | None = None
        error = ""
        if image.require_signed_urls and params.get("generate") and signs:
            try:
                generated = self.generate(account, image, variants, keys, chosen)
            except BadRequest as exc:
                error = exc.message
        urls = self.variant_urls(account, image, variants, keys[0] if keys else None)
        preview = next(
            (u.path for u in urls if u.variant == "public"), urls[0].path if urls else ""
        )
        if error:
            urls = []  # an error answer says what to fix and hands out no URLs
        return dash.render(
            request,
            "image.html",
            viewer,
            status=400 if error else 200,
            title=f"Image {image.id}",
            nav="images",
            image=image,
            meta_json=json.dumps(image.meta, indent=2, ensure_ascii=False),
            urls=urls,
            preview=preview,
            variants=variants,
            keys=keys,
            chosen=chosen,
            lifetimes=LIFETIMES,
            units=list(UNITS),
            generated=generated,
            error=error,
        )

    def generate(
        self,
        account: Account,
        image: Image,
        variants: list[Variant],
        keys: list[SigningKey],
        chosen: dict[str, str],
    ) -> Generated:
        if chosen["variant"] not in {v.name for v in variants}:
            raise BadRequest("Choose one of the account's variants")
        key = next((k for k in keys if k.name == chosen["key"]), None)
        if key is None:
            raise BadRequest("Choose one of the account's signing keys")
        ttl = lifetime_from(chosen["lifetime"], chosen["amount"], chosen["unit"])
        limit = self.dash.settings.max_url_lifetime
        if limit is not None and ttl > limit:
            raise BadRequest(
                f"This server refuses signed URLs that live longer than {human_seconds(limit)}"
            )
        exp = int(self.gate.clock()) + ttl
        path = self._sign(account, image, chosen["variant"], key, exp)
        expires = datetime.fromtimestamp(exp, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        return Generated(self.dash.public_url + path, path, expires, key.name)
