"""``/docs`` and ``/redoc`` in Chromium with every origin but the server's blocked: they
render the API's operations from imagegate's own files, under a CSP that names no other
origin, with no error in the console (a CSP violation is one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dashboard.browser import browser
from harness import Server, raw_request

__all__ = ["browser"]  # the fixture


@pytest.fixture
def offline(browser: Any, server: Server) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A page that can reach the server and nothing else: (page, requests refused, console
    errors)."""
    context = browser.new_context()
    context.set_default_timeout(20000)
    refused: list[str] = []
    errors: list[str] = []

    def only_the_server(route: Any) -> None:
        if route.request.url.startswith(server.base_url + "/"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_the_server)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield page, refused, errors
    finally:
        context.close()


def test_swagger_ui_renders_every_operation_offline(
    offline: tuple[Any, list[str], list[str]], server: Server
) -> None:
    page, refused, errors = offline
    answer = page.goto(server.url("/docs"))
    assert answer is not None and answer.status == 200
    page.wait_for_selector(".opblock", state="attached")
    paths = page.eval_on_selector_all(
        ".opblock-summary-path", "(els) => els.map((e) => e.dataset.path || e.textContent)"
    )
    spec = httpx.get(server.url("/openapi.json")).json()
    operations = sum(
        1 for item in spec["paths"].values() for method in item if method != "parameters"
    )
    assert len(paths) == operations > 20
    assert any("/accounts/{account_id}/images/v1" in p for p in paths)
    # Open one operation: its parameters render too.
    page.locator(".opblock-summary").first.click()
    page.wait_for_selector(".opblock-body .parameters, .opblock-body .opblock-description-wrapper")
    assert page.title() == "imagegate: API"
    assert refused == [] and errors == []


def test_redoc_renders_the_operations_offline(
    offline: tuple[Any, list[str], list[str]], server: Server
) -> None:
    page, refused, errors = offline
    answer = page.goto(server.url("/redoc"))
    assert answer is not None and answer.status == 200
    page.wait_for_selector("[data-section-id^='operation/']", state="attached")
    assert page.locator("[data-section-id^='operation/']").count() > 20
    assert refused == [] and errors == []


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_pages_name_no_other_origin(server: Server, path: str) -> None:
    page = httpx.get(server.url(path))
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy
    assert "http" not in policy and "*" not in policy
    assert "http://" not in page.text.replace(server.base_url, "")
    assert "https://" not in page.text and "<script>" not in page.text
    assert "cdn" not in page.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        served = httpx.get(server.url(f"/docs/static/{asset}"))
        assert served.status_code == 200 and len(served.content) > 100_000
        assert served.headers["cache-control"] == "no-cache" and served.headers["etag"]
    init = httpx.get(server.url("/docs/swagger-init.js"))
    assert init.status_code == 200 and "javascript" in init.headers["content-type"]
    assert "validatorUrl: null" in init.text


def test_nothing_else_is_served_from_the_docs_files(server: Server) -> None:
    for target in (
        "/docs/static/../../settings.py",
        "/docs/static/%2e%2e%2fsettings.py",
        "/docs/static/..%2F..%2Fweb%2Fapp.py",
        "/docs/static/favicon.png",  # packaged beside them, but not one of the files served
        "/docs/static/x",
        "/docs/oauth2-redirect",
    ):
        answer = raw_request(server.base_url, target)
        assert answer.status == 404, target
        assert b"import" not in answer.body
