"""The exception tree. Every error carries a stable numeric code and a message safe to show.

Codes follow Cloudflare Images where Cloudflare has one (5xxx for the API, 94xx for delivery).
The one place that turns these into HTTP responses is :mod:`imagegate.web.errors`; nothing here
knows about HTTP beyond the ``status`` each class suggests.
"""

from __future__ import annotations


class ImagegateError(Exception):
    """Base of every error imagegate raises on purpose."""

    code: int = 5500
    status: int = 500
    message: str = "Internal error"

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)


# --- Management API -------------------------------------------------------------------------


class BadRequest(ImagegateError):
    code, status, message = 5400, 400, "Bad request"


class Unauthenticated(ImagegateError):
    code, status, message = 10000, 401, "Authentication error"


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
    code, status, message = 7000, 405, "Method not allowed"


class Overloaded(ImagegateError):
    code, status, message = 5503, 503, "The server is busy; retry shortly"


class StorageError(ImagegateError):
    code, status, message = 5540, 503, "Storage error"


class BlobMissing(StorageError):
    code, status, message = 5540, 500, "Stored original is missing"


class StorageFull(StorageError):
    code, status, message = 5540, 507, "Insufficient storage"


class UnsafeConfiguration(ValueError):
    """The server refuses to start: the settings would let private images leak."""


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
    code, status, message = 9503, 503, "Service busy; retry shortly"


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
