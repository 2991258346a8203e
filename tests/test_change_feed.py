"""Changes seen by every node at once: two imagegates built separately over one PostgreSQL
database (and one blob directory), as two nodes are. Node A writes; node B, which has just
served the old state and keeps it for ``metadata_cache_ttl_notified`` (30 s), must act on
the new one within a second: through ``LISTEN/NOTIFY``, not its TTL. Then B's listening
connection is cut with ``pg_terminate_backend``: B falls back to the short TTL, forgets what
it read, reconnects by itself, and hears changes again.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from databases import own_database
from harness import jpeg
from imagegate.assembly import Imagegate, build
from imagegate.core.errors import (
    AccessDenied,
    DeliveryNotFound,
    FlexibleVariantsDisabled,
    ImagegateError,
    Unauthenticated,
)
from imagegate.core.models import Account, Scope
from imagegate.core.signing import sign_url
from imagegate.settings import Settings

pytestmark = pytest.mark.postgres

WITHIN = 1.0  # seconds a change may take to be in force on the other node
NOTIFIED_TTL = 30.0


class Node:
    """One imagegate over the shared database, and a way to ask it for a delivery URL."""

    def __init__(self, gate: Imagegate) -> None:
        self.gate = gate
        self.loop = asyncio.new_event_loop()

    def outcome(self, url: str) -> str:
        """``ok <width>`` or the name of the error the delivery path raises for ``url``."""
        path, _, query = url.partition("?")
        try:
            plan = self.loop.run_until_complete(
                self.gate.delivery.request(path.encode(), query.encode(), "image/jpeg")
            )
        except ImagegateError as exc:
            return type(exc).__name__
        return f"ok {plan.authorized.variant.options.width}"

    def close(self) -> None:
        self.loop.close()
        self.gate.close()


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[Node, Node, str]]:
    with own_database() as url:

        def node(name: str) -> Node:
            settings = Settings(
                data_dir=tmp_path / name,
                database_url=url,
                blob_url=str(tmp_path / "blobs"),
                metadata_cache_ttl=1.0,
                metadata_cache_ttl_notified=NOTIFIED_TTL,
            )
            return Node(build(settings))

        a, b = node("a"), node("b")
        b.gate.follow_changes()
        wait_for(lambda: b.gate.changes.reaching, 5.0, "B listens")  # type: ignore[attr-defined]
        assert b.gate.caches.contexts.ttl == NOTIFIED_TTL
        try:
            yield a, b, url
        finally:
            a.close()
            b.close()


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> float:
    """Seconds until ``condition()`` is true (fails after ``timeout``)."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.001)
    return time.perf_counter() - start


def seen_within(b: Node, url: str, expected: str, what: str) -> float:
    """Seconds until B answers ``url`` with ``expected`` (at most :data:`WITHIN`)."""
    return wait_for(lambda: b.outcome(url) == expected, WITHIN, what)


def delivery(gate: Imagegate, account: Account, image_id: str, variant: str) -> str:
    return f"/{account.hash}/{image_id}/{variant}"


def signed(gate: Imagegate, account: Account, image_id: str, variant: str, key: str) -> str:
    value = gate.keys.value(account, key).value
    return sign_url(delivery(gate, account, image_id, variant), value, exp=int(time.time()) + 600)


def test_every_kind_of_change_is_in_force_on_the_other_node_within_a_second(
    nodes: tuple[Node, Node, str],
) -> None:
    a, b, _ = nodes
    gate = a.gate
    account = gate.accounts.create("feed").account
    image = gate.images.upload(account, jpeg(640, 480), require_signed_urls=True).id
    gate.variants.create(account, "thumb", {"width": 100, "height": 100}, False)
    gate.keys.put(account, "extra")
    times: dict[str, float] = {}

    # a signing key deleted: B refuses URLs signed with it
    url = signed(gate, account, image, "thumb", "extra")
    assert b.outcome(url) == "ok 100"
    gate.keys.delete(account, "extra")
    times["key deleted"] = seen_within(b, url, AccessDenied.__name__, "key deleted")

    # a signing key given a new value: URLs signed with the old one are refused
    url = signed(gate, account, image, "thumb", "default")
    assert b.outcome(url) == "ok 100"
    gate.keys.put(account, "default")
    times["key regenerated"] = seen_within(b, url, AccessDenied.__name__, "key regenerated")
    url = signed(gate, account, image, "thumb", "default")
    assert b.outcome(url) == "ok 100"

    # a variant changed, then removed
    gate.variants.update(account, "thumb", {"width": 60, "height": 60}, None)
    times["variant changed"] = seen_within(b, url, "ok 60", "variant changed")
    gate.variants.delete(account, "thumb")
    times["variant removed"] = seen_within(b, url, AccessDenied.__name__, "variant removed")

    # an image made private: its unsigned URL stops working
    public = gate.images.upload(account, jpeg(320, 240)).id
    unsigned = delivery(gate, account, public, "public")
    assert b.outcome(unsigned).startswith("ok")
    gate.images.edit(account, public, require_signed_urls=True)
    times["image made private"] = seen_within(b, unsigned, "AccessDenied", "made private")

    # an image deleted
    url = signed(gate, account, image, "public", "default")
    assert b.outcome(url).startswith("ok")
    gate.images.delete(account, image)
    times["image deleted"] = seen_within(b, url, DeliveryNotFound.__name__, "image deleted")

    # an account setting: flexible variants turned off
    gate.accounts.configure(account, flexible_variants=True)
    flexible = signed(gate, account, public, "w=50", "default")
    wait_for(lambda: b.outcome(flexible) == "ok 50", WITHIN, "flexible variants on")
    gate.accounts.configure(account, flexible_variants=False)
    times["account changed"] = seen_within(
        b, flexible, FlexibleVariantsDisabled.__name__, "flexible variants off"
    )

    # a token revoked: B reads tokens from the database on every request, so at once
    value, token = gate.tokens.create(account.id, "ci", frozenset({Scope.READ}))
    assert b.gate.tokens.authenticate(value).id == token.id
    gate.tokens.revoke(account.id, token.id)
    start = time.perf_counter()
    with pytest.raises(Unauthenticated):
        b.gate.tokens.authenticate(value)
    times["token revoked"] = time.perf_counter() - start

    print("\npropagation to the other node, seconds:", {k: round(v, 4) for k, v in times.items()})
    assert b.gate.caches.contexts.ttl == NOTIFIED_TTL  # all through the feed, not the TTL


def test_propagation_times_over_fifty_changes(nodes: tuple[Node, Node, str]) -> None:
    a, b, _ = nodes
    gate = a.gate
    account = gate.accounts.create("timing").account
    image = gate.images.upload(account, jpeg(320, 240)).id
    url = delivery(gate, account, image, "public")
    times = []
    private = False
    for _ in range(50):
        expected = "ok 12000" if private else "AccessDenied"
        assert b.outcome(url) != expected  # B holds the state before the change
        private = not private
        gate.images.edit(account, image, require_signed_urls=private)
        times.append(seen_within(b, url, expected, "privacy flipped"))
    times.sort()
    p50, worst = statistics.median(times), times[-1]
    print(
        f"\npropagation over {len(times)} changes: "
        f"p50 {p50 * 1000:.1f} ms, max {worst * 1000:.1f} ms"
    )
    assert worst < WITHIN
    assert p50 < 0.1


def listener_pids(url: str) -> list[int]:
    admin = make_url(url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE application_name = 'imagegate-changes' AND datname = current_database()"
        ).fetchall()
        return [int(row[0]) for row in rows]


def terminate(url: str, pids: list[int]) -> None:
    admin = make_url(url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_cut_feed_falls_back_to_the_ttl_then_reconnects(nodes: tuple[Node, Node, str]) -> None:
    a, b, url = nodes
    gate = a.gate
    account = gate.accounts.create("cut").account
    image = gate.images.upload(account, jpeg(320, 240)).id
    public = delivery(gate, account, image, "public")
    reaches: list[bool] = []
    feed: Any = b.gate.changes
    caches = b.gate.caches

    # Keep B's listener cut for a while: every connection it makes is terminated.
    deadline = time.monotonic() + 2.0
    terminate(url, listener_pids(url))
    wait_for(lambda: not feed.reaching, WITHIN, "B notices the cut")
    assert caches.contexts.ttl == 1.0  # the fallback TTL
    assert b.outcome(public).startswith("ok")  # cached now, for the short TTL only
    gate.images.edit(account, image, require_signed_urls=True)
    while time.monotonic() < deadline:
        reaches.append(feed.reaching)
        terminate(url, listener_pids(url))
        time.sleep(0.01)
    # the change was made while B heard nothing: B sees it through the fallback TTL anyway
    wait_for(lambda: b.outcome(public) == "AccessDenied", 1.5, "the change, by the TTL")

    # left alone, B reconnects by itself, forgets what it read, and listens again
    wait_for(lambda: feed.reaching, 10.0, "B reconnects")
    assert caches.contexts.ttl == NOTIFIED_TTL
    assert not all(reaches)
    assert b.outcome(public) == "AccessDenied"
    gate.images.edit(account, image, require_signed_urls=False)
    seen_within(b, public, "ok 12000", "a change after reconnecting")
