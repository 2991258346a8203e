"""Caching headers for delivered images. Pure."""

from __future__ import annotations

NO_STORE = "no-store"


def cache_control(*, private: bool, browser_ttl: int, exp: int | None, now: int) -> str:
    """``Cache-Control`` for a delivered image.

    Public images may be cached by anyone for the browser TTL. Images served under a
    signature are ``private`` and never outlive the URL: ``max-age`` stops at ``exp``.
    """
    if not private:
        return f"public, max-age={browser_ttl}, stale-while-revalidate=7200"
    if exp is None:
        return f"private, max-age={browser_ttl}"
    return f"private, max-age={max(0, min(browser_ttl, exp - now))}"
