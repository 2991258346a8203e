"""Revoked stays revoked: every credential a token can make (batch tokens, tokens made in a
dashboard session, dashboard sessions, one-time upload URLs) dies when that token is revoked,
and never lives past its expiry. Against a running server, over real HTTP."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from dashboard.helpers import Browserish, csrf_of, dashboard_server
from harness import Clock, Server, jpeg, store_of
from imagegate.core import ids
from imagegate.core.ids import sha256_hex as hash_token
from imagegate.core.models import ApiToken, Scope
from imagegate.usecases.clock import utc


@pytest.fixture
def timed(tmp_path: Path) -> Iterator[tuple[Server, Clock]]:
    """A dashboard server (one account, an admin password) whose clock the test moves."""
    clock = Clock(time.time())
    with dashboard_server(tmp_path / "data", clock=clock) as srv:
        yield srv, clock


def root_token(srv: Server, name: str = "deploy") -> tuple[str, str]:
    """A token made by the operator (``imagegate tokens create``): its value and id."""
    value, token = srv.gate.tokens.create(srv.account_id, name, frozenset(Scope))  # type: ignore[union-attr]
    return value, token.id


def expiring_token(srv: Server, expires: datetime) -> tuple[str, ApiToken]:
    """A token that expires, stored as the store holds any token."""
    gate = srv.gate  # type: ignore[union-attr]
    value = ids.new_api_token()
    token = ApiToken(
        ids.new_token_id(),
        srv.account_id,
        "brief",
        frozenset(Scope),
        utc(gate.clock),
        False,
        expires,
    )
    store_of(gate).tokens.add(token, hash_token(value))
    return value, token


def batch_token(srv: Server, token: str) -> httpx.Response:
    with srv.client(token=token) as c:
        return c.get(f"{srv.images_url}/batch_token")


def can_list(srv: Server, token: str) -> int:
    with srv.client(token=token) as c:
        return c.get(srv.images_url).status_code


def revoke(srv: Server, token_id: str) -> None:
    """What ``imagegate tokens revoke`` does, in the running server's store."""
    assert srv.gate is not None
    assert srv.gate.tokens.revoke(srv.account_id, token_id)


def made_in_session(client: Browserish, name: str, **fields: str) -> httpx.Response:
    token = client.csrf("/dashboard/settings")
    return client.post("/dashboard/tokens", {"csrf_token": token, "name": name, **fields})


def new_token_value(page: httpx.Response) -> str:
    found = re.search(r'id="new-token" class="mono" value="([^"]+)"', page.text)
    assert found, page.text
    return found[1]


# --- batch tokens ---------------------------------------------------------------------------


def test_a_batch_token_dies_with_the_token_that_made_it(server: Server) -> None:
    value, token_id = root_token(server)
    made = batch_token(server, value)
    assert made.status_code == 200
    batch = made.json()["result"]["token"]
    assert can_list(server, batch) == 200
    revoke(server, token_id)
    assert can_list(server, value) == 401
    assert can_list(server, batch) == 401
    assert can_list(server, server.api_token) == 200  # other tokens are untouched


def test_a_batch_token_makes_no_tokens(server: Server) -> None:
    batch = batch_token(server, server.api_token).json()["result"]["token"]
    refused = batch_token(server, batch)
    assert refused.status_code == 403
    assert refused.json()["errors"][0] == {
        "code": 5403,
        "message": "A batch token cannot make tokens",
    }


def test_a_batch_token_expires_no_later_than_its_parent(
    timed: tuple[Server, Clock],
) -> None:
    srv, clock = timed
    expires = datetime.fromtimestamp(int(clock.now) + 300, tz=UTC)
    value, _ = expiring_token(srv, expires)
    made = batch_token(srv, value).json()["result"]
    assert made["expiresAt"] == expires.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    clock.advance(301)
    assert can_list(srv, made["token"]) == 401  # long before its own 15 minutes


# --- tokens made in a dashboard session ----------------------------------------------------


def test_tokens_made_in_a_session_die_with_its_token_at_every_depth(
    timed: tuple[Server, Clock],
) -> None:
    dash, _ = timed
    value, root_id = root_token(dash)
    first = Browserish(dash)
    assert first.sign_in(token=value).status_code == 303
    kid = new_token_value(made_in_session(first, "backend"))
    second = Browserish(dash)
    assert second.sign_in(token=kid).status_code == 303
    grandkid = new_token_value(made_in_session(second, "job"))
    batch = batch_token(dash, grandkid).json()["result"]["token"]
    for token in (kid, grandkid, batch):
        assert can_list(dash, token) == 200

    revoke(dash, root_id)
    for token in (value, kid, grandkid, batch):
        assert can_list(dash, token) == 401
    for browser in (first, second):  # both sessions ended with their tokens
        page = browser.http.get("/dashboard/images")
        assert page.status_code == 303 and "/dashboard/signin" in page.headers["location"]
        browser.close()


def test_tokens_made_in_a_session_expire_with_its_token(
    timed: tuple[Server, Clock],
) -> None:
    srv, clock = timed
    value, parent = expiring_token(srv, datetime.fromtimestamp(int(clock.now) + 600, tz=UTC))
    browser = Browserish(srv)
    assert browser.sign_in(token=value).status_code == 303
    kid = new_token_value(made_in_session(browser, "backend"))
    assert can_list(srv, kid) == 200
    clock.advance(601)
    assert can_list(srv, kid) == 401
    assert browser.http.get("/dashboard/images").status_code == 303  # the session ended too
    made = next(t for t in srv.gate.tokens.all(srv.account_id) if t.name == "backend")  # type: ignore[union-attr]
    assert made.parent_id == parent.id and made.expires == parent.expires
    browser.close()


def test_a_session_makes_no_token_with_more_rights_or_from_a_batch_token(
    timed: tuple[Server, Clock],
) -> None:
    dash, _ = timed
    batch = batch_token(dash, dash.api_token).json()["result"]["token"]
    browser = Browserish(dash)
    assert browser.sign_in(token=batch).status_code == 303
    refused = made_in_session(browser, "forever")
    assert refused.status_code == 403 and "cannot make tokens" in refused.text
    names = {t.name for t in dash.gate.tokens.all(dash.account_id)}  # type: ignore[union-attr]
    assert "forever" not in names
    browser.close()


def test_revoking_from_the_dashboard_reaches_below_and_signs_out(
    timed: tuple[Server, Clock],
) -> None:
    dash, _ = timed
    admin = Browserish(dash)
    assert admin.sign_in(password="correct horse battery staple").status_code == 303
    value, root_id = root_token(dash, "team")
    member = Browserish(dash)
    assert member.sign_in(token=value).status_code == 303
    kid = new_token_value(made_in_session(member, "ci"))

    confirm = member.http.get("/dashboard/token/revoke", params={"id": root_id})
    assert "or any token made with it" in confirm.text
    token = csrf_of(admin.http.get("/dashboard/settings").text)
    done = admin.post("/dashboard/token/revoke", {"csrf_token": token, "id": root_id})
    assert done.status_code == 303 and done.headers["location"].startswith("/dashboard/settings")
    assert can_list(dash, kid) == 401
    assert member.http.get("/dashboard/settings").status_code == 303  # to the sign-in page
    assert admin.http.get("/dashboard/settings").status_code == 200
    for browser in (admin, member):
        browser.close()


# --- one-time upload URLs ---------------------------------------------------------------------


def direct_upload(srv: Server, token: str) -> tuple[str, str]:
    with srv.client(token=token) as c:
        r = c.post(f"{srv.images_url.removesuffix('/v1')}/v2/direct_upload")
    assert r.status_code == 200, r.text
    return r.json()["result"]["id"], r.json()["result"]["uploadURL"]


def test_an_upload_url_dies_with_the_token_that_asked_for_it(server: Server) -> None:
    value, token_id = root_token(server)
    image_id, url = direct_upload(server, value)
    _, kept_url = direct_upload(server, server.api_token)
    revoke(server, token_id)
    gone = httpx.post(url, files={"file": ("a.jpg", jpeg(40, 30))})
    assert gone.status_code == 410 and gone.json()["errors"][0]["code"] == 5410
    with server.client() as c:
        assert c.get(f"{server.images_url}/{image_id}").status_code == 404  # the draft went
    assert httpx.post(kept_url, files={"file": ("a.jpg", jpeg(40, 30))}).status_code == 200


def test_an_upload_url_closes_when_its_token_expires(timed: tuple[Server, Clock]) -> None:
    srv, clock = timed
    batch = batch_token(srv, srv.api_token).json()["result"]["token"]
    _, url = direct_upload(srv, batch)  # asks for the default 30 minutes
    clock.advance(15 * 60 + 1)
    assert httpx.post(url, files={"file": ("a.jpg", jpeg(40, 30))}).status_code == 410


def test_a_revoked_token_cannot_start_an_upload_or_a_batch(server: Server) -> None:
    value, token_id = root_token(server)
    revoke(server, token_id)
    assert batch_token(server, value).status_code == 401
    with server.client(token=value) as c:
        r = c.post(f"{server.images_url.removesuffix('/v1')}/v2/direct_upload")
    assert r.status_code == 401
