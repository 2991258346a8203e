"""Caching headers for delivered images: Cache-Control, ETag and conditional GET. Pure."""

from __future__ import annotations

NO_STORE = "no-store"


def cache_control(
    *, private: bool, browser_ttl: int, exp: int | None, now: int, stand_in: bool = False
) -> str:
    """``Cache-Control`` for a delivered image.

    Public images may be cached by anyone for the browser TTL. Images served under a
    signature are ``private`` and never outlive the URL: ``max-age`` stops at ``exp``.
    A ``stand_in`` (served while the negotiated format is being made) is public or private
    alike, but never stale-while-revalidate: once ``max-age`` is over, the next view asks
    again and gets the real thing.
    """
    if not private:
        if stand_in:
            return f"public, max-age={browser_ttl}"
        return f"public, max-age={browser_ttl}, stale-while-revalidate=7200"
    if exp is None:
        return f"private, max-age={browser_ttl}"
    return f"private, max-age={max(0, min(browser_ttl, exp - now))}"


def etag_for(digest: str) -> str:
    """A strong validator from the digest that names the rendered bytes."""
    return f'"{digest[:32]}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks for GET)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))
