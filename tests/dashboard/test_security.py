"""The dashboard refuses forged cross-site requests and requests without a live session;
its cookie and headers carry the flags the security model promises."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from dashboard.helpers import ADMIN_PASSWORD, Browserish, csrf_of, dashboard_server
from harness import Clock, Server, store_of
from imagegate.usecases.sessions import IDLE_MS

PAGES = ["/dashboard/images", "/dashboard/variants", "/dashboard/keys", "/dashboard/settings"]


def _keys(client: Browserish) -> str:
    return client.http.get("/dashboard/keys").text


# --- forged cross-site posts ----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "null"},
    ],
    ids=["origin-and-fetch-site", "origin", "fetch-site", "same-site", "null-origin"],
)
def test_a_forged_cross_site_form_post_is_refused(
    shared_client: Browserish, headers: dict[str, str]
) -> None:
    """Even with the session cookie and the right CSRF token (the worst case: a browser
    that ignores SameSite), a post that says it came from elsewhere changes nothing."""
    client = shared_client
    token = client.csrf("/dashboard/keys")
    forged = client.http.post(
        "/dashboard/keys", data={"csrf_token": token, "name": "forged"}, headers=headers
    )
    assert forged.status_code == 403
    assert "did not come from this dashboard" in forged.text
    assert "forged" not in _keys(client)


@pytest.mark.parametrize("token", [None, "", "wrong-token", "x" * 43])
def test_a_post_without_the_session_csrf_token_is_refused(
    shared_client: Browserish, token: str | None
) -> None:
    client = shared_client
    data = {"name": "forged"} if token is None else {"csrf_token": token, "name": "forged"}
    refused = client.post("/dashboard/keys", data)
    assert refused.status_code == 403
    assert "forged" not in _keys(client)


def test_a_csrf_token_of_another_session_is_refused(dash: Server, client: Browserish) -> None:
    other = Browserish(dash)
    assert other.sign_in().status_code == 303
    foreign = other.csrf()
    assert foreign != client.csrf()
    refused = client.post("/dashboard/keys", {"csrf_token": foreign, "name": "forged"})
    assert refused.status_code == 403
    other.close()


def test_the_same_post_from_the_dashboard_itself_works(client: Browserish) -> None:
    """The control for the refusals above."""
    done = client.post("/dashboard/keys", {"csrf_token": client.csrf(), "name": "mine"})
    assert done.status_code == 303
    assert "mine" in _keys(client)


def test_script_uploads_need_the_csrf_header(client: Browserish) -> None:
    files = {"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png")}
    no_header = client.http.post("/dashboard/images/upload", files=files, headers=client.origin)
    assert no_header.status_code == 403
    assert no_header.json()["ok"] is False
    wrong = client.http.post(
        "/dashboard/images/upload",
        files=files,
        headers={**client.origin, "X-CSRF-Token": "nope"},
    )
    assert wrong.status_code == 403


def test_the_sign_in_form_is_protected_too(dash: Server) -> None:
    """Login CSRF: a sign-in post needs the token its own form set in a cookie."""
    fresh = httpx.Client(base_url=dash.base_url, follow_redirects=False)
    forged = fresh.post(
        "/dashboard/signin",
        data={"method": "token", "token": dash.api_token, "csrf_token": "guess"},
    )
    assert forged.status_code == 403
    assert "imagegate_session" not in fresh.cookies
    page = fresh.get("/dashboard/signin")
    cross = fresh.post(
        "/dashboard/signin",
        data={"method": "token", "token": dash.api_token, "csrf_token": csrf_of(page.text)},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    fresh.close()


# --- missing, expired and ended sessions ------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/dashboard/image?id=x", "/dashboard/"])
def test_pages_without_a_session_redirect_to_sign_in(shared_dash: Server, path: str) -> None:
    answer = httpx.get(shared_dash.url(path), follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/dashboard/signin?next=")


def test_posts_and_pictures_without_a_session_are_refused(dash: Server) -> None:
    post = httpx.post(dash.url("/dashboard/keys"), data={"csrf_token": "x", "name": "k"})
    assert post.status_code in (401, 403)
    thumb = httpx.get(dash.url("/dashboard/thumb?id=x"))
    assert thumb.status_code == 401
    upload = httpx.post(dash.url("/dashboard/images/upload"), headers={"X-CSRF-Token": "x"})
    assert upload.status_code == 401 and upload.json()["ok"] is False


def test_a_made_up_session_cookie_is_refused(dash: Server) -> None:
    c = httpx.Client(base_url=dash.base_url, cookies={"imagegate_session": "made-up"})
    answer = c.get("/dashboard/images", follow_redirects=False)
    assert answer.status_code == 303 and "signin" in answer.headers["location"]


def test_an_idle_session_expires(tmp_path: Path) -> None:
    clock = Clock()
    with dashboard_server(tmp_path / "data", clock=clock) as srv:
        c = Browserish(srv)
        assert c.sign_in().status_code == 303
        token = c.csrf()
        clock.advance(IDLE_MS / 1000 - 60)  # used just in time: extended
        assert c.http.get("/dashboard/images").status_code == 200
        clock.advance(IDLE_MS / 1000 - 60)
        assert c.http.get("/dashboard/images").status_code == 200
        clock.advance(IDLE_MS / 1000 + 1)  # idle too long
        page = c.http.get("/dashboard/keys")
        assert page.status_code == 303 and "signin" in page.headers["location"]
        post = c.post("/dashboard/keys", {"csrf_token": token, "name": "late"})
        assert post.status_code == 401
        assert "session has ended" in post.text
        c.close()


def test_sign_out_invalidates_the_session_on_the_server(client: Browserish) -> None:
    stolen = client.session_cookie
    assert stolen
    out = client.post("/dashboard/signout", {"csrf_token": client.csrf()})
    assert out.status_code == 303 and out.headers["location"].startswith("/dashboard/signin")
    assert 'imagegate_session=""' in out.headers["set-cookie"]
    replay = httpx.Client(base_url=client.server.base_url, cookies={"imagegate_session": stolen})
    for path in PAGES:
        answer = replay.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/dashboard/signin")
    replay.close()


def test_revoking_the_token_ends_its_sessions(dash: Server, client: Browserish) -> None:
    [token] = dash.gate.tokens.all(dash.account_id)  # type: ignore[union-attr]
    dash.gate.tokens.revoke(dash.account_id, token.id)  # type: ignore[union-attr]
    answer = client.http.get("/dashboard/images")
    assert answer.status_code == 303


def test_the_store_keeps_only_a_hash_of_the_session_id(dash: Server, client: Browserish) -> None:
    raw = client.session_cookie
    assert raw
    engine = store_of(dash).database.engine
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM sessions")).all()
    assert len(rows) == 1
    assert raw not in repr(rows)


# --- cookie and headers -----------------------------------------------------------------------


def _cookie_flags(set_cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in set_cookie.split(";")}


def test_the_session_cookie_is_httponly_and_samesite_strict(dash: Server) -> None:
    c = Browserish(dash)
    signed_in = c.sign_in()
    cookie = next(
        h for h in signed_in.headers.get_list("set-cookie") if h.startswith("imagegate_session=")
    )
    flags = _cookie_flags(cookie)
    assert {"httponly", "samesite", "path"} <= flags
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in flags  # plain http here
    c.close()


def test_the_cookie_is_secure_when_served_over_https(tmp_path: Path) -> None:
    with dashboard_server(tmp_path / "data", public_url="https://img.example.com") as srv:
        http = httpx.Client(base_url=srv.base_url, follow_redirects=False)
        page = http.get("/dashboard/signin")
        login = page.headers["set-cookie"]
        assert login.startswith("imagegate_signin=") and "secure" in _cookie_flags(login)
        token = csrf_of(page.text)
        signed_in = http.post(
            "/dashboard/signin",
            data={"csrf_token": token, "method": "token", "token": srv.api_token},
            headers={"Origin": "https://img.example.com", "Cookie": f"imagegate_signin={token}"},
        )
        assert signed_in.status_code == 303
        cookie = next(
            h
            for h in signed_in.headers.get_list("set-cookie")
            if h.startswith("imagegate_session=")
        )
        assert {"secure", "httponly"} <= _cookie_flags(cookie)
        assert "samesite=strict" in cookie.lower()
        http.close()


def test_every_page_sends_a_strict_content_security_policy(client: Browserish) -> None:
    for path in [*PAGES, "/dashboard/signin", "/dashboard/variant?name=public"]:
        answer = client.http.get(path)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "img-src 'self' blob: data:" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
        html = answer.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), f"inline script on {path}"
        assert not re.search(r"\sstyle=", html), f"inline style on {path}"
        assert not re.search(r"\son[a-z]+=", html), f"inline handler on {path}"
        assert "http://" not in re.sub(r'value="[^"]*"|<pre.*?</pre>', "", html, flags=re.S)


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/dashboard\\..\\x", "/accounts/"]
)
def test_no_next_parameter_leads_off_the_dashboard(shared_dash: Server, target: str) -> None:
    c = Browserish(shared_dash)
    page = c.http.get("/dashboard/signin")
    fields = {"method": "token", "token": shared_dash.api_token, "next": target}
    answer = c.post("/dashboard/signin", {"csrf_token": csrf_of(page.text), **fields})
    assert answer.headers["location"] == "/dashboard/images"
    c.close()


# --- who may do what ----------------------------------------------------------------------------


def test_wrong_credentials_get_words_not_a_session(dash: Server) -> None:
    c = Browserish(dash)
    bad_token = c.sign_in(token="igt_not-a-token")
    assert bad_token.status_code == 401 and "not valid" in bad_token.text
    bad_password = c.sign_in(password="not the password")
    assert bad_password.status_code == 401 and "password is not right" in bad_password.text
    assert c.session_cookie is None
    c.close()


def test_a_read_only_token_gives_a_read_only_dashboard(dash: Server) -> None:
    gate = dash.gate  # type: ignore[union-attr]
    from imagegate.core.models import Scope

    value, _ = gate.tokens.create(dash.account_id, "viewer", frozenset({Scope.READ}))
    c = Browserish(dash)
    assert c.sign_in(token=value).status_code == 303
    keys = c.http.get("/dashboard/keys").text
    assert "read-only" in keys and "Create the key" not in keys
    refused = c.post("/dashboard/keys", {"csrf_token": csrf_of(keys), "name": "nope"})
    assert refused.status_code == 403 and "read-only" in refused.text
    assert "nope" not in c.http.get("/dashboard/keys").text
    # Reading and signing out still work.
    assert c.http.get("/dashboard/images").status_code == 200
    assert c.post("/dashboard/signout", {"csrf_token": csrf_of(keys)}).status_code == 303
    c.close()


def test_the_admin_signs_in_with_the_password_and_picks_an_account(dash: Server) -> None:
    gate = dash.gate  # type: ignore[union-attr]
    second = gate.accounts.create("second")
    c = Browserish(dash)
    assert c.sign_in(password=ADMIN_PASSWORD).status_code == 303
    page = c.http.get("/dashboard/images").text
    assert 'id="account-pick"' in page and "second" in page
    switched = c.post(
        "/dashboard/account", {"csrf_token": csrf_of(page), "account_id": second.account.id}
    )
    assert switched.status_code == 303
    keys = c.http.get("/dashboard/keys").text
    assert second.signing_key in keys and dash.signing_key not in keys
    c.close()


def test_a_token_session_cannot_switch_accounts(dash: Server, client: Browserish) -> None:
    gate = dash.gate  # type: ignore[union-attr]
    other = gate.accounts.create("other")
    answer = client.post(
        "/dashboard/account", {"csrf_token": client.csrf(), "account_id": other.account.id}
    )
    assert answer.status_code == 403
    assert other.signing_key not in client.http.get("/dashboard/keys").text


def test_no_admin_password_means_no_admin_sign_in(tmp_path: Path) -> None:
    with dashboard_server(tmp_path / "data", admin_password=None) as srv:
        c = Browserish(srv)
        page = c.http.get("/dashboard/signin").text
        assert "No admin password is set" in page
        assert c.sign_in(password="").status_code == 401
        c.close()


def test_an_oversized_form_is_refused_before_it_is_read(client: Browserish) -> None:
    token = client.csrf()
    huge = client.post("/dashboard/keys", {"csrf_token": token, "name": "x" * 100_000})
    assert huge.status_code == 400 and "too large" in huge.text
    sign_in = httpx.post(
        client.server.url("/dashboard/signin"),
        content=b"a=" + b"b" * 200_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert sign_in.status_code == 400


def test_signing_out_twice_is_harmless(client: Browserish) -> None:
    token = client.csrf()
    first = client.post("/dashboard/signout", {"csrf_token": token})
    assert first.status_code == 303
    again = client.post("/dashboard/signout", {"csrf_token": token})
    assert again.status_code == 303 and again.headers["location"].startswith("/dashboard/signin")
