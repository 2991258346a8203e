"""The servers compared: imagegate, nginx, thumbor and a do-nothing ASGI app on granian, each
on a free loopback port, with its configuration and logs under ``bench/.work``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyvips
from procs import Server, free_port

from imagegate.core.signing import sign_url

IMAGEGATE = Path(sys.executable).with_name("imagegate")
LOOPBACK = "127.0.0.1"


# --- imagegate --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    account_id: str
    account_hash: str
    api_token: str
    signing_key: str


def imagegate_init(data_dir: Path) -> Account:
    """A fresh data directory with one account."""
    shutil.rmtree(data_dir, ignore_errors=True)
    done = subprocess.run(
        [str(IMAGEGATE), "init", "--data-dir", str(data_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(done.stdout)
    return Account(
        found["account_id"], found["account_hash"], found["api_token"], found["signing_key"]
    )


def start_imagegate(
    work: Path, data_dir: Path, *, workers: int, env: dict[str, str], label: str
) -> Server:
    port = free_port()
    argv = [str(IMAGEGATE), "serve", "--data-dir", str(data_dir), "--host", LOOPBACK]
    argv += ["--port", str(port), "--workers", str(workers)]
    server = Server(
        f"imagegate ({label})",
        argv,
        port,
        work / "logs" / f"imagegate-{label}.log",
        env=env,
        ready_path="/healthz",
    )
    server.start(timeout=60)
    # granian answers once one worker is up; give every worker the chance to bind too.
    for _ in range(workers * 4):
        httpx.get(server.base + "/healthz", timeout=10).raise_for_status()
    return server


def upload_private(base: str, account: Account, image: Path, image_id: str) -> None:
    with httpx.Client(base_url=base, timeout=120) as client:
        auth = {"Authorization": f"Bearer {account.api_token}"}
        done = client.post(
            f"/accounts/{account.account_id}/images/v1",
            headers=auth,
            files={"file": (image.name, image.read_bytes(), "image/jpeg")},
            data={"id": image_id, "requireSignedURLs": "true"},
        )
        if done.status_code != 200:
            raise RuntimeError(f"upload failed: {done.status_code} {done.text[:500]}")


def create_variant(base: str, account: Account, name: str, options: dict[str, object]) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        done = client.post(
            f"/accounts/{account.account_id}/images/v1/variants",
            headers={"Authorization": f"Bearer {account.api_token}"},
            json={"id": name, "options": options},
        )
        if done.status_code != 200:
            raise RuntimeError(f"variant failed: {done.status_code} {done.text[:500]}")


def signed_path(account: Account, image_id: str, variant: str, lifetime: int = 6 * 3600) -> str:
    return sign_url(f"/{account.account_hash}/{image_id}/{variant}", account.signing_key, lifetime)


def fetch_image(
    url: str, headers: dict[str, str] | None = None, client: httpx.Client | None = None
) -> tuple[bytes, int, int]:
    """GET ``url``, check it is a JPEG, and return its bytes and size: before a load run, so
    that a figure never measures error pages."""
    done = (client or httpx).get(url, headers=headers, timeout=60)
    if done.status_code != 200:
        raise RuntimeError(f"{url}: {done.status_code} {done.text[:300]}")
    if done.headers.get("content-type", "").split(";")[0] != "image/jpeg":
        raise RuntimeError(f"{url}: content-type {done.headers.get('content-type')}")
    image = pyvips.Image.new_from_buffer(done.content, "")
    return done.content, image.width, image.height


# --- nginx ------------------------------------------------------------------------------------

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes {workers};
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    open_file_cache max=64 inactive=60s;
    types {{ image/jpeg jpg; }}
    default_type application/octet-stream;
    client_body_temp_path {home}/tmp/body;
    proxy_temp_path {home}/tmp/proxy;
    fastcgi_temp_path {home}/tmp/fastcgi;
    uwsgi_temp_path {home}/tmp/uwsgi;
    scgi_temp_path {home}/tmp/scgi;
    server {{
        listen {host}:{port};
        root {home}/root;
    }}
}}
"""


def start_nginx(nginx: str, work: Path, files: dict[str, bytes], *, workers: int) -> Server:
    """nginx in the foreground serving ``files`` (name -> bytes) from its own root."""
    home = work / "nginx"
    (home / "root").mkdir(parents=True, exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    for name, data in files.items():
        (home / "root" / name).write_bytes(data)
    port = free_port()
    conf = home / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=workers, home=home, host=LOOPBACK, port=port))
    argv = [nginx, "-p", str(home), "-c", str(conf), "-e", str(home / "error.log")]
    server = Server("nginx", argv, port, work / "logs" / "nginx.log")
    return server.start()


# --- thumbor ----------------------------------------------------------------------------------

THUMBOR_CONF = """\
LOADER = "thumbor.loaders.file_loader"
FILE_LOADER_ROOT_PATH = {root!r}
STORAGE = "thumbor.storages.no_storage"
RESULT_STORAGE = None
ALLOW_UNSAFE_URL = True
QUALITY = 85
"""


def start_thumbor(
    thumbor: Path, work: Path, images: Path, *, processes: int, extra: str = ""
) -> Server:
    """thumbor with its defaults (PIL engine, progressive JPEG) except: files from ``images``,
    no storage of originals or results, unsigned URLs, quality 85 as imagegate; ``extra``:
    more lines of configuration."""
    home = work / "thumbor"
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "thumbor.conf"
    conf.write_text(THUMBOR_CONF.format(root=str(images)) + extra)
    port = free_port()
    argv = [str(thumbor), "--ip", LOOPBACK, "--port", str(port), "--conf", str(conf)]
    argv += ["--processes", str(processes), "--log-level", "error"]
    server = Server("thumbor", argv, port, work / "logs" / "thumbor.log", ready_path="/healthcheck")
    server.start(timeout=60)
    for _ in range(processes * 4):
        httpx.get(server.base + "/healthcheck", timeout=10).raise_for_status()
    return server


# --- The floor: a minimal ASGI app on granian -------------------------------------------------


def start_asgi_floor(work: Path, body: bytes, *, workers: int) -> Server:
    """granian serving ``body`` from a do-nothing ASGI app (``asgi_floor.py``)."""
    home = work / "floor"
    home.mkdir(parents=True, exist_ok=True)
    (home / "body.jpg").write_bytes(body)
    port = free_port()
    script = Path(__file__).with_name("asgi_floor.py")
    argv = [sys.executable, str(script), str(home / "body.jpg"), "--port", str(port)]
    argv += ["--workers", str(workers)]
    env = {"PYTHONPATH": str(script.parent)}
    server = Server("granian floor", argv, port, work / "logs" / "floor.log", env=env)
    return server.start(timeout=60)
