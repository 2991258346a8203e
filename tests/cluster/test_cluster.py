"""Two imagegate nodes behind nginx, over one PostgreSQL database and one SeaweedFS bucket,
all real and on loopback: what a team runs when it outgrows one machine.

Through the balancer a user uploads, makes images private, signs and fetches. A change made
through one node (a key deleted or regenerated, an image made private or deleted, a variant
changed or removed, a token revoked) is in force on the other within a second; the times
seen are printed (``pytest -s``). The object store goes away and comes back; one node dies
and the other carries every request.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cluster.balancer import Balancer, balancer
from cluster.nodes import Node
from databases import own_database
from harness import dimensions, jpeg, run_cli
from imagegate.core.signing import sign_url

pytestmark = pytest.mark.postgres

PROPAGATION_LIMIT = 1.0  # seconds: the promise in docs/deploy.md


@dataclass
class Cluster:
    a: Node
    b: Node
    lb: Balancer
    env: dict[str, str]
    account_id: str
    account_hash: str
    api_token: str
    signing_key: str
    s3: object | None = None

    def images_url(self, base: str) -> str:
        return f"{base}/accounts/{self.account_id}/images/v1"

    def api(self, node: Node) -> httpx.Client:
        return httpx.Client(
            base_url=self.images_url(node.base_url),
            headers={"Authorization": f"Bearer {self.api_token}"},
            timeout=30,
        )

    def path(self, image_id: str, variant: str = "public") -> str:
        return f"/{self.account_hash}/{image_id}/{variant}"


@contextlib.contextmanager
def shared_blobs(home: Path) -> Iterator[tuple[str, dict[str, str], object | None]]:
    """The blob store both nodes share: a bucket on SeaweedFS."""
    from s3server import seaweedfs

    with seaweedfs(home / "s3") as s3:
        bucket = s3.bucket("cluster")
        yield f"s3://{bucket}/imagegate", s3.env(), s3


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with (
        own_database(migrated=False) as database_url,
        shared_blobs(tmp_path) as (
            blob_url,
            blob_env,
            s3,
        ),
    ):
        env = {
            "IMAGEGATE_DATABASE_URL": database_url,
            "IMAGEGATE_BLOB_URL": blob_url,
            "IMAGEGATE_TRUSTED_PROXIES": "127.0.0.1",
            **blob_env,
        }
        # The deployment's order: the schema once, then the nodes (docs/deploy.md).
        run_cli("migrate", env=env, data_dir=tmp_path / "admin", check=True)
        creds = run_cli("init", "--json", env=env, data_dir=tmp_path / "admin", check=True)
        account = json.loads(creds.stdout)
        nodes = [
            Node(name, tmp_path / f"node-{name}", {**env, "IMAGEGATE_NODE_NAME": name})
            for name in ("a", "b")
        ]
        with balancer([n.address for n in nodes], tmp_path / "nginx") as lb:
            for node in nodes:
                node.env["IMAGEGATE_PUBLIC_URL"] = lb.base_url
                node.start()
            try:
                yield Cluster(
                    nodes[0],
                    nodes[1],
                    lb,
                    env,
                    account["account_id"],
                    account["account_hash"],
                    account["api_token"],
                    account["signing_key"],
                    s3,
                )
            finally:
                for node in nodes:
                    node.stop()


def until(check: Callable[[], bool], limit: float) -> float:
    """Seconds until ``check()`` holds, polling every few milliseconds; fails past ``limit``."""
    start = time.perf_counter()
    while True:
        if check():
            return time.perf_counter() - start
        if time.perf_counter() - start > limit:
            raise AssertionError(f"not in force within {limit} s")
        time.sleep(0.005)


def status(url: str) -> int:
    return httpx.get(url, timeout=10).status_code


def test_two_nodes_behind_nginx(cluster: Cluster) -> None:
    c, lb = cluster, cluster.lb
    key = c.signing_key
    times: dict[str, list[float]] = {}

    def seen(kind: str, check: Callable[[], bool]) -> None:
        times.setdefault(kind, []).append(until(check, PROPAGATION_LIMIT))

    # --- through the balancer: upload, make private, sign, fetch ---------------------------
    with lb.client(c.api_token) as api:
        for image_id, private in (("pub", False), ("priv", True), ("flip", False), ("gone", True)):
            r = api.post(
                c.images_url(""),
                files={"file": (f"{image_id}.jpg", jpeg(800, 600))},
                data={"id": image_id, "requireSignedURLs": str(private).lower()},
            )
            assert r.status_code == 200, r.text
        r = api.post(
            c.images_url("") + "/variants",
            json={"id": "thumb", "options": {"fit": "scale-down", "width": 100, "height": 100}},
        )
        assert r.status_code == 200, r.text
        listed = api.get(c.images_url("")).json()["result"]["images"]
        assert {i["id"] for i in listed} == {"pub", "priv", "flip", "gone"}
        assert listed[0]["variants"][0].startswith(lb.base_url)

    # The plain port only redirects to TLS.
    redirect = httpx.get(lb.plain_url + c.path("pub"), follow_redirects=False)
    assert redirect.status_code == 301 and redirect.headers["location"].startswith("https://")

    with lb.client() as web:
        signed = sign_url(c.path("priv"), key, 600)
        served = [web.get(signed) for _ in range(6)]
        assert {r.status_code for r in served} == {200}
        # Answers under a signature are private: the balancer's cache never keeps them.
        assert {r.headers.get("x-cache-status") for r in served} <= {"MISS", "BYPASS", None}
        assert "private" in served[0].headers["cache-control"]
        assert web.get(c.path("priv")).status_code == 403
        public = [web.get(c.path("pub")) for _ in range(3)]
        assert [r.status_code for r in public] == [200, 200, 200]
        assert public[-1].headers["x-cache-status"] == "HIT"
    # Round robin: both nodes answered some of those requests (access lines are written
    # within a second).
    for node in (c.a, c.b):
        line = f"/{c.account_hash}/priv/public"
        until(lambda n=node: line in n.log(), 5)

    b = c.b.base_url
    with c.api(c.a) as on_a:
        # --- a key made, then regenerated, then deleted through A --------------------------
        for _ in range(3):
            value = on_a.put("/keys/rotating").json()["result"]["keys"]
            new = {k["name"]: k["value"] for k in value}["rotating"]
            url = b + sign_url(c.path("priv"), new, 600)
            seen("key created", lambda url=url: status(url) == 200)
            assert on_a.put("/keys/rotating").status_code == 200  # a new value
            seen("key regenerated", lambda url=url: status(url) == 403)
            regenerated = on_a.get("/keys").json()["result"]["keys"]
            url = b + sign_url(
                c.path("priv"), {k["name"]: k["value"] for k in regenerated}["rotating"], 600
            )
            seen("key created", lambda url=url: status(url) == 200)
            assert on_a.delete("/keys/rotating").status_code == 200
            seen("key deleted", lambda url=url: status(url) == 403)

        # --- privacy flipped both ways, many times -----------------------------------------
        plain = b + c.path("flip")
        for _ in range(10):
            assert status(plain) == 200
            assert on_a.patch("/flip", json={"requireSignedURLs": True}).status_code == 200
            seen("made private", lambda: status(plain) == 403)
            assert on_a.patch("/flip", json={"requireSignedURLs": False}).status_code == 200
            seen("made public", lambda: status(plain) == 200)

        # --- a variant changed, then removed -----------------------------------------------
        thumb = b + sign_url(c.path("priv", "thumb"), key, 600)
        assert dimensions(httpx.get(thumb).content) == (100, 75)
        for width in (60, 80, 40):
            r = on_a.patch(
                "/variants/thumb",
                json={"options": {"fit": "scale-down", "width": width, "height": 100}},
            )
            assert r.status_code == 200, r.text
            seen(
                "variant changed",
                lambda w=width: dimensions(httpx.get(thumb).content)[0] == w,
            )
        assert on_a.delete("/variants/thumb").status_code == 200
        seen("variant removed", lambda: status(thumb) in (403, 404))

        # --- an image deleted --------------------------------------------------------------
        gone = b + sign_url(c.path("gone"), key, 600)
        assert status(gone) == 200
        assert on_a.delete("/gone").status_code == 200
        seen("image deleted", lambda: status(gone) == 404)

    # --- a token revoked (through the command, on the shared database) ---------------------
    admin = c.a.data_dir.parent / "admin"
    made = run_cli("tokens", "create", "--name", "ci", env=c.env, data_dir=admin, check=True)
    value = made.stdout.strip()
    listed = run_cli("tokens", "list", "--json", env=c.env, data_dir=admin, check=True)
    token_id = next(
        row["id"] for row in map(json.loads, listed.stdout.splitlines()) if row["name"] == "ci"
    )
    listing = f"{c.images_url(b)}?per_page=10"
    headers = {"Authorization": f"Bearer {value}"}
    assert httpx.get(listing, headers=headers).status_code == 200
    run_cli("tokens", "revoke", token_id, env=c.env, data_dir=admin, check=True)
    seen("token revoked", lambda: httpx.get(listing, headers=headers).status_code == 401)

    report(times)

    # --- the object store goes away, then comes back -----------------------------------------
    assert c.s3 is not None
    warm = sign_url(c.path("priv"), key, 600)
    for node in (c.a, c.b):
        assert status(node.base_url + warm) == 200  # rendered and cached on each node
    with c.api(c.a) as on_a:
        r = on_a.post(
            "/variants",
            json={"id": "tiny", "options": {"fit": "scale-down", "width": 30, "height": 30}},
        )
        assert r.status_code == 200, r.text
        before = len(on_a.get(c.images_url(c.a.base_url)).json()["result"]["images"])
    cold = sign_url(c.path("priv", "tiny"), key, 600)
    c.s3.stop()
    try:
        with lb.client() as web:
            for _ in range(4):
                assert web.get(warm).status_code == 200, "a cached variant keeps flowing"
            refused = web.get(cold)
            assert refused.status_code == 503 and int(refused.headers["retry-after"]) > 0
        for node in (c.a, c.b):
            assert httpx.get(node.base_url + "/readyz").status_code == 503
        with lb.client(c.api_token) as api:
            r = api.post(c.images_url(""), files={"file": ("x.jpg", jpeg(64, 64))})
            assert r.status_code == 503, r.text
            assert r.json()["success"] is False
    finally:
        c.s3.start()
    with lb.client() as web:
        back = until(lambda: web.get(cold).status_code == 200, 30)
    for node in (c.a, c.b):
        assert until(lambda n=node: httpx.get(n.base_url + "/readyz").status_code == 200, 30) >= 0
    with c.api(c.b) as on_b:
        assert len(on_b.get(c.images_url(c.b.base_url)).json()["result"]["images"]) == before, (
            "a failed upload left a record"
        )
    print(f"\nobject store back: cold renders served again {back:.2f} s after its restart")

    # --- one node dies; the other carries every request ---------------------------------------
    c.a.kill()
    with lb.client(c.api_token) as web:
        answers = [web.get(warm).status_code for _ in range(20)]
        answers += [web.get(c.images_url("")).status_code for _ in range(10)]
        r = web.post(c.images_url(""), files={"file": ("late.jpg", jpeg(64, 64))})
        answers.append(r.status_code)
    assert answers == [200] * len(answers)


def report(times: dict[str, list[float]]) -> None:
    every = sorted(t for seen in times.values() for t in seen)
    lines = [
        f"  {kind:16} n={len(seen):2}  p50 {statistics.median(seen) * 1000:6.1f} ms"
        f"  max {max(seen) * 1000:6.1f} ms"
        for kind, seen in times.items()
    ]
    print(
        "\npropagation from node A to node B:\n" + "\n".join(lines) + "\n"
        f"  {'all':16} n={len(every):2}  p50 {statistics.median(every) * 1000:6.1f} ms"
        f"  max {max(every) * 1000:6.1f} ms"
    )
    assert max(every) < PROPAGATION_LIMIT
