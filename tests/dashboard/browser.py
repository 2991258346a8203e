"""Driving Debian's Chromium with Playwright: the browser, pages that fail the test on any
console error, and screenshots at desktop and phone width with the checks every page gets
(no sideways scrolling at 375 px, a label on every control)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness import ROOT, Server

CHROMIUM = Path(os.environ.get("IMAGEGATE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
_FALSE = frozenset({"", "0", "false", "no", "off"})

UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea, button'))
  .filter((el) => el.type !== 'hidden' && !el.hidden && el.offsetParent !== null)
  .filter((el) => {
    if (el.tagName === 'BUTTON') return !(el.textContent.trim() || el.getAttribute('aria-label'));
    return !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
      && !el.getAttribute('aria-labelledby');
  })
  .map((el) => el.outerHTML.slice(0, 160))"""
WIDE = """() => Array.from(document.querySelectorAll('body *'))
  .filter((el) => !el.closest('.table-wrap'))
  .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 5)
  .map((el) => `${el.tagName}.${el.className} ${el.getBoundingClientRect().right}`)"""
SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in _FALSE


def launch_or_skip() -> Any:
    """Playwright's sync API, or a skip (a failure in CI) saying what is missing."""
    reason = ""
    if not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            reason = "Playwright for Python is not installed (pip install playwright)"
    if reason:
        if in_ci():
            pytest.fail(f"{reason}; CI is set, so the browser tests must run", pytrace=False)
        pytest.skip(reason)
    return sync_playwright


@dataclass
class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    page: Any
    server: Server
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Expect console errors matching ``pattern`` (a refused request the test makes)."""
        self.allowed.append(re.compile(pattern))

    def watch(self, page: Any) -> Any:
        """Collect ``page``'s console errors and uncaught exceptions (with where they came
        from, so an allowance can name a URL)."""

        def on_console(message: Any) -> None:
            if message.type == "error":
                where = message.location.get("url", "") if message.location else ""
                self.errors.append(f"console: {message.text} [{where}]")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        return page

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    def go(self, path: str) -> Any:
        return self.page.goto(self.server.base_url + path)

    def sign_in(self, token: str | None = None) -> None:
        self.go("/dashboard/images")
        assert "/dashboard/signin" in self.page.url
        self.page.fill("#token", token or self.server.api_token)
        self.page.click("text=Sign in with the token")
        self.page.wait_for_url("**/dashboard/images")

    def snap(self, name: str) -> None:
        """Screenshots at desktop and phone width, and the checks every page must pass."""
        page = self.page
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.wait_for_images()
        page.screenshot(path=str(ARTIFACTS / f"{name}-desktop.png"), full_page=True)
        page.set_viewport_size(PHONE)
        try:
            self.wait_for_images()
            sideways = page.evaluate(SIDEWAYS)
            wide = page.evaluate(WIDE) if sideways > 0 else []
            page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
        finally:
            page.set_viewport_size(DESKTOP)
        assert sideways <= 0, f"{name}: scrolls sideways by {sideways}px at 375px: {wide}"
        unlabelled = page.evaluate(UNLABELLED)
        assert not unlabelled, f"{name}: controls without a label: {unlabelled}"

    def wait_for_images(self) -> None:
        self.page.wait_for_function(
            "() => Array.from(document.images).every((i) => i.loading === 'lazy' || i.complete)"
        )

    def natural_size(self, selector: str) -> tuple[int, int]:
        size: list[int] = self.page.eval_on_selector(
            selector, "(img) => [img.naturalWidth, img.naturalHeight]"
        )
        return size[0], size[1]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module. Not longer: Playwright's sync API keeps an event loop
    marked running on this thread while it is started, and later tests of other modules
    (on the same xdist worker) call ``asyncio.run``."""
    sync_playwright = launch_or_skip()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def watched(browser: Any, dash: Server) -> Iterator[Watched]:
    context = browser.new_context(viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=dash.base_url)
    context.set_default_timeout(15000)
    w = Watched(context.new_page(), dash)
    w.watch(w.page)
    try:
        yield w
        w.page.wait_for_timeout(50)  # let late console messages arrive
    finally:
        context.close()
    unexpected = w.unexpected()
    assert not unexpected, f"errors in the browser console: {unexpected}"
