"""The one error map: every error class with its code and status, and what each surface
(the API, the delivery path, the dashboard, the CLI) makes of it.

The table is written out by hand, so a change to any code or status is a change here too;
the last test fails when a class is added to imagegate without a row.
"""

from __future__ import annotations

import inspect
import json

import pytest

from imagegate.cli.common import error_line
from imagegate.core import errors
from imagegate.web.errors import api_response, dashboard_error, delivery_response

#: class, code, status, Retry-After (seconds) or None
TABLE: list[tuple[type[errors.ImagegateError], int, int, int | None]] = [
    (errors.ImagegateError, 5500, 500, None),
    (errors.BadRequest, 5400, 400, None),
    (errors.Unauthenticated, 10000, 401, None),
    (errors.MetricsOff, 10000, 403, None),
    (errors.Forbidden, 5403, 403, None),
    (errors.VariantNotFound, 5401, 404, None),
    (errors.ImageNotFound, 5404, 404, None),
    (errors.KeyNotFound, 5404, 404, None),
    (errors.Conflict, 5409, 409, None),
    (errors.PayloadTooLarge, 5413, 413, None),
    (errors.NotMultipart, 5415, 415, None),
    (errors.UnsupportedFormat, 5455, 415, None),
    (errors.ImageTooLarge, 5455, 422, None),
    (errors.CorruptImage, 5455, 422, None),
    (errors.LimitReached, 5453, 403, None),
    (errors.UploadUrlGone, 5410, 410, None),
    (errors.RequestTimeout, 5408, 408, None),
    (errors.NoRoute, 7003, 404, None),
    (errors.MethodNotAllowed, 7000, 405, None),
    (errors.Overloaded, 5503, 503, 1),
    (errors.StorageError, 5540, 503, 1),
    (errors.BlobMissing, 5540, 500, None),
    (errors.StorageFull, 5540, 507, None),
    (errors.DeliveryError, 5500, 500, None),
    (errors.AccessDenied, 9425, 403, None),
    (errors.InvalidDeliveryUrl, 9426, 403, None),
    (errors.UnknownAccountHash, 9427, 403, None),
    (errors.FlexibleVariantsDisabled, 9429, 403, None),
    (errors.DeliveryNotFound, 9431, 404, None),
    (errors.DeliveryOverloaded, 9503, 503, 1),
    (errors.SvgNotTransformable, 9412, 415, None),
    (errors.RenderTimedOut, 9422, 503, 1),
    (errors.DashboardError, 5500, 500, None),
    (errors.NoPage, 7003, 404, None),
    (errors.SessionEnded, 10000, 401, None),
    (errors.CrossSiteRefused, 5403, 403, None),
    (errors.ReadOnlySession, 5403, 403, None),
    (errors.NoKeyAccess, 5403, 403, None),
    (errors.NoAccountYet, 5404, 404, None),
    (errors.AdminOnly, 5403, 403, None),
    (errors.AccountNotFound, 5404, 404, None),
    (errors.SignInThrottled, 10000, 429, 30),
    (errors.SignInBusy, 5503, 503, 1),
]


NAMES = [row[0].__name__ for row in TABLE]


def _make(cls: type[errors.ImagegateError]) -> errors.ImagegateError:
    return cls(30) if cls is errors.SignInThrottled else cls()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("cls", "code", "status", "retry"), TABLE, ids=lambda v: getattr(v, "__name__", "")
)
def test_each_error_says_its_code_and_status_once(
    cls: type[errors.ImagegateError], code: int, status: int, retry: int | None
) -> None:
    exc = _make(cls)
    assert (exc.code, exc.status, exc.retry_after) == (code, status, retry)
    assert exc.message and "\n" not in exc.message


@pytest.mark.parametrize(
    ("cls", "code", "status", "retry"), TABLE, ids=lambda v: getattr(v, "__name__", "")
)
def test_every_surface_renders_the_same_error(
    cls: type[errors.ImagegateError], code: int, status: int, retry: int | None
) -> None:
    exc = _make(cls)

    api = api_response(exc)
    assert api.status_code == status
    assert json.loads(api.body) == {
        "result": None,
        "success": False,
        "errors": [{"code": code, "message": exc.message}],
        "messages": [],
    }
    assert api.headers["cache-control"] == "no-store"
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers.get("retry-after") == (None if retry is None else str(retry))
    assert (api.headers.get("x-should-retry") == "false") == (400 <= status < 500)

    delivered = delivery_response(exc)
    shown = errors.DeliveryOverloaded() if isinstance(exc, errors.Overloaded) else exc
    assert delivered.status_code == shown.status
    assert delivered.body == f"ERROR {shown.code}: {shown.message}".encode()
    assert delivered.headers["cf-resized"] == f"err={shown.code}"
    assert delivered.headers["content-type"].startswith("text/plain")
    assert delivered.headers["cache-control"] == "no-store"

    page_status, words, headers = dashboard_error(exc)
    assert (page_status, words) == (status, exc.message)
    assert headers.get("Retry-After") == (None if retry is None else str(retry))

    line = error_line(exc)
    assert line.startswith(exc.message)
    assert (f"({code})" in line) == (400 <= status < 500)


def test_the_table_names_every_error_class() -> None:
    found = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.ImagegateError)
    }
    assert found == {row[0] for row in TABLE}
