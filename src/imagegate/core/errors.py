"""The exception tree: the one map of what can go wrong. Every error class says, once, its
stable numeric code, the HTTP status it answers with, and a message safe to show anyone.

Codes follow Cloudflare Images where Cloudflare has one (5xxx for the API, 94xx for delivery).
Each surface renders the same three in its own shape: the API as Cloudflare's JSON envelope,
the delivery path as ``ERROR <code>: <message>`` text, the dashboard as a page (or JSON for
its scripts) and the CLI as a line on standard error (:mod:`imagegate.web.errors`,
:mod:`imagegate.cli`). ``retry_after`` is set on the errors a client should retry.
"""

from __future__ import annotations


class ImagegateError(Exception):
    """Base of every error imagegate raises on purpose."""

    code: int = 5500
    status: int = 500
    message: str = "Internal error"
    retry_after: int | None = None  # seconds a client should wait before trying again

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)


# --- Management API -------------------------------------------------------------------------


class BadRequest(ImagegateError):
    code, status, message = 5400, 400, "Bad request"


class Unauthenticated(ImagegateError):
    code, status, message = 10000, 401, "Authentication error"


class MetricsOff(ImagegateError):
    """``/metrics`` asked for on a server with no ``IMAGEGATE_METRICS_TOKEN``."""

    code, status, message = 10000, 403, "Metrics are off: the server has no IMAGEGATE_METRICS_TOKEN"


class Forbidden(ImagegateError):
    code, status, message = (
        5403,
        403,
        ("The given account is not valid or is not authorized to access this service"),
    )


class VariantNotFound(ImagegateError):
    code, status, message = 5401, 404, "Variant name not found"


class ImageNotFound(ImagegateError):
    code, status, message = 5404, 404, "Image not found"


class KeyNotFound(ImagegateError):
    code, status, message = 5404, 404, "Signing key not found"


class Conflict(ImagegateError):
    code, status, message = 5409, 409, "Resource already exists"


class PayloadTooLarge(ImagegateError):
    code, status, message = 5413, 413, "Maximum image size of 10 MB is reached"

    @classmethod
    def over(cls, limit: int) -> PayloadTooLarge:
        """The refusal of an image over ``limit`` bytes, in Cloudflare's words."""
        return cls(f"Maximum image size of {limit / 1024**2:g} MB is reached")


class NotMultipart(ImagegateError):
    code, status, message = 5415, 415, "Images must be uploaded as a form, not as raw image data"


class UnsupportedFormat(ImagegateError):
    code, status, message = 5455, 415, "Unsupported image format"


class ImageTooLarge(ImagegateError):
    """Decodable, but over the pixel or dimension limits."""

    code, status, message = 5455, 422, "Image dimensions are over the limit"


class CorruptImage(ImagegateError):
    code, status, message = 5455, 422, "The image could not be decoded"


class LimitReached(ImagegateError):
    code, status, message = 5453, 403, "Account reached a service limit"


class UploadUrlGone(ImagegateError):
    code, status, message = 5410, 410, "The upload URL has expired or was already used"


class RequestTimeout(ImagegateError):
    """The request body arrived too slowly (see :mod:`imagegate.web.deadlines`)."""

    code, status, message = 5408, 408, "The request body was not received in time"


class NoRoute(ImagegateError):
    code, status, message = 7003, 404, "No route for the URI"


class MethodNotAllowed(ImagegateError):
    code, status, message = 7000, 405, "Method not allowed for this route"


class Overloaded(ImagegateError):
    code, status, message = 5503, 503, "The server is busy; retry shortly"
    retry_after = 1


class StorageError(ImagegateError):
    code, status, message = 5540, 503, "Storage error"
    retry_after: int | None = 1


class BlobMissing(StorageError):
    code, status, message = 5540, 500, "Stored original is missing"
    retry_after = None


class StorageFull(StorageError):
    code, status, message = 5540, 507, "Insufficient storage"
    retry_after = None


class UnsafeConfiguration(ValueError):
    """The server refuses to start: the settings would let private images leak."""


class SchemaMismatch(ValueError):
    """The database's schema is not the one this version's code expects: older (run
    ``imagegate migrate``) or newer (this node runs an older imagegate)."""


# --- Delivery -----------------------------------------------------------------------------


class DeliveryError(ImagegateError):
    """Errors of the delivery path: answered as ``ERROR <code>: <message>`` in plain text."""


class AccessDenied(DeliveryError):
    """Missing, malformed, wrong or expired signature; unknown variant. One answer for all."""

    code, status, message = 9425, 403, "Image access denied"


class InvalidDeliveryUrl(DeliveryError):
    code, status, message = 9426, 403, "The URL has invalid text part"


class UnknownAccountHash(DeliveryError):
    code, status, message = 9427, 403, "Image access denied with incorrect account id"


class FlexibleVariantsDisabled(DeliveryError):
    code, status, message = 9429, 403, "Flexible variants are not enabled for the account"


class DeliveryNotFound(DeliveryError):
    code, status, message = 9431, 404, "Not found"


class DeliveryOverloaded(DeliveryError):
    """:class:`Overloaded` as the delivery path says it."""

    code, status, message = 9503, 503, "Service busy; retry shortly"
    retry_after = 1


class SvgNotTransformable(DeliveryError):
    """Options that would resize, filter or convert an SVG: imagegate serves an SVG only as
    it is (sanitised), never rasterised, so such a variant has nothing to give.
    9412 is the code Cloudflare gives a format it does not transform."""

    code, status, message = (
        9412,
        415,
        "An SVG is served only at its own size, with no blur, sharpen or format",
    )


class RenderTimedOut(DeliveryError):
    """A render ran past ``IMAGEGATE_RENDER_TIMEOUT`` and was cancelled, its slot freed.
    9422 is the code Cloudflare documented for a request taking too long to process."""

    code, status, message = 9422, 503, "The image took too long to render; retry shortly"
    retry_after = 1


# --- Dashboard ----------------------------------------------------------------------------


class DashboardError(ImagegateError):
    """Errors of the dashboard's sessions, answered as a page in words (or JSON words to
    its scripts). Code 10000 is Cloudflare's for authentication, 5403 for authorisation."""


class NoPage(DashboardError):
    code, status, message = 7003, 404, "There is no such page."


class SessionEnded(DashboardError):
    """No live session (never opened, signed out, expired, or its token revoked)."""

    code, status, message = 10000, 401, "Your session has ended. Sign in again to continue."


class CrossSiteRefused(DashboardError):
    """An unsafe request that did not come from the dashboard's own pages. ``reason`` is for
    the log; the client is told the message."""

    code, status, message = (
        5403,
        403,
        "This request was refused because it did not come from this dashboard's own pages. "
        "Reload the page and try again.",
    )

    def __init__(self, reason: str = "") -> None:
        super().__init__()
        self.reason = reason


class ReadOnlySession(DashboardError):
    """A read-only token's session asked to change something."""

    code, status, message = (
        5403,
        403,
        "You are signed in with a read-only token: nothing can be changed.",
    )


class NoKeyAccess(DashboardError):
    """A session that may not see or use signing-key values asked to."""

    code, status, message = (
        5403,
        403,
        "Signing keys need a session opened with the admin password or with an edit token "
        "that does not expire.",
    )


class NoAccountYet(DashboardError):
    """An admin signed in to a store with no account yet."""

    code, status, message = (
        5404,
        404,
        "There is no account yet. Create one with `imagegate accounts create NAME`.",
    )


class AdminOnly(DashboardError):
    code, status, message = 5403, 403, "Only an admin can switch accounts."


class AccountNotFound(DashboardError):
    code, status, message = 5404, 404, "There is no such account."


class SignInThrottled(DashboardError):
    """Too many sign-in attempts from this address or against this target."""

    code, status, message = 10000, 429, "Too many failed sign-ins. Try again later."

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed sign-ins. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


class SignInBusy(DashboardError):
    """Every password check slot and its queue are taken."""

    code, status, message = 5503, 503, "Too many sign-ins at once. Try again in 1 second."
    retry_after = 1
