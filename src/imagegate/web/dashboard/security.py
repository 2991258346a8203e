"""The dashboard's defences that do not depend on who is signed in: response headers
(Content-Security-Policy and friends), the session cookie's flags, and the cross-site
request checks every unsafe request passes before it is acted on.

Cross-site request forgery is refused three ways, each enough on its own in a current
browser: the session cookie is ``SameSite=Strict`` (a cross-site request carries none); a
request whose ``Sec-Fetch-Site`` or ``Origin`` says it came from another site is refused; and
every unsafe request must echo the session's CSRF token (a hidden form field, or the
``X-CSRF-Token`` header for scripts), compared in constant time.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagegate.core.errors import CrossSiteRefused

SESSION_COOKIE = "imagegate_session"
LOGIN_COOKIE = "imagegate_signin"  # double-submit token for the sign-in form (no session yet)
COOKIE_PATH = "/dashboard"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' blob: data:",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Adds the headers above to every dashboard response, and ``Cache-Control: no-store``
    to any page that did not choose its own caching (pages carry tokens and signed URLs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        # Scripts and styles revalidate (ETag) on every use, so an upgrade is seen at once.
        static = "/static/" in scope.get("path", "")
        caching = b"no-cache" if static else b"no-store"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in _HEADERS if h[0] not in present)
                if b"cache-control" not in present:
                    headers.append((b"cache-control", caching))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def check_same_origin(request: Request, public_url: str) -> None:
    """Refuse a request a browser marks as coming from another site or origin. Requests
    without these headers (not from a browser) still need the CSRF token."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise CrossSiteRefused("cross-site request")
    origin = request.headers.get("origin")
    if origin is None:
        return
    if origin not in _own_origins(request, public_url):
        raise CrossSiteRefused("foreign origin")


def _own_origins(request: Request, public_url: str) -> set[str]:
    origins = set()
    public = urlsplit(public_url)
    if public.scheme and public.netloc:
        origins.add(f"{public.scheme}://{public.netloc}")
    host = request.headers.get("host")
    if host:
        origins.add(f"{request.url.scheme}://{host}")
    return origins


def check_csrf_token(expected: str, presented: str | None) -> None:
    """Constant-time comparison of the session's token with the one the request carries."""
    if not presented or not expected:
        raise CrossSiteRefused("missing CSRF token")
    if not hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8")):
        raise CrossSiteRefused("wrong CSRF token")


def secure_cookies(public_url: str) -> bool:
    """Cookies get ``Secure`` when the dashboard is reached over https."""
    return public_url.lower().startswith("https://")


def set_cookie(response: Response, name: str, value: str, *, secure: bool, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, name: str, *, secure: bool) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, secure=secure, httponly=True, samesite="strict")
