"""nginx in front of the nodes, configured by the file a production deployment uses
(``deploy/nginx/imagegate.conf``), with only its addresses, ports, certificate and cache
directory changed. Every change is checked to apply exactly once, so when that file changes
shape this test says so instead of quietly testing something else."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from databases import in_ci
from harness import ROOT, free_port

SITE = ROOT / "deploy" / "nginx" / "imagegate.conf"
NGINX_CANDIDATES = ("/usr/sbin/nginx", "nginx")

MAIN = """\
{user}daemon off;
master_process on;
worker_processes 2;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {home}/tmp/body;
    proxy_temp_path {home}/tmp/proxy;
    fastcgi_temp_path {home}/tmp/fastcgi;
    uwsgi_temp_path {home}/tmp/uwsgi;
    scgi_temp_path {home}/tmp/scgi;
    include site.conf;
}}
"""


def nginx_binary() -> str:
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    reason = "nginx is not installed (Debian's package nginx; .ci/run installs it)"
    if in_ci():
        pytest.fail(f"{reason}; CI is set, so the cluster test must run", pytrace=False)
    pytest.skip(reason)


def _once(text: str, old: str | re.Pattern[str], new: str) -> str:
    if isinstance(old, re.Pattern):
        result, count = old.subn(new, text)
    else:
        count = text.count(old)
        result = text.replace(old, new)
    assert count == 1, f"deploy/nginx/imagegate.conf: expected {old!r} once, found {count}"
    return result


def site_config(
    nodes: Sequence[str], *, http_port: int, https_port: int, cert: Path, key: Path, cache: Path
) -> str:
    """The deployment's site file with this machine's addresses in it."""
    text = SITE.read_text(encoding="utf-8")
    servers = "".join(f"    server {node} max_fails=1 fail_timeout=5s;\n" for node in nodes)
    text = _once(text, re.compile(r"(?:    server 10\.0\.0\.\d+:8080 [^\n]*\n)+"), servers)
    text = _once(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
    text = _once(text, "listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    text = _once(text, "/etc/ssl/imagegate/fullchain.pem", str(cert))
    text = _once(text, "/etc/ssl/imagegate/privkey.pem", str(key))
    return _once(text, "/var/cache/nginx/imagegate", str(cache))


def self_signed(home: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = home / "cert.pem", home / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass
class Balancer:
    base_url: str  # https://127.0.0.1:PORT
    plain_url: str  # http://127.0.0.1:PORT, which only redirects
    cert: Path
    home: Path

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=self.base_url,
            headers=headers,
            verify=ssl.create_default_context(cafile=self.cert),
            timeout=30,
        )


@contextlib.contextmanager
def balancer(nodes: Sequence[str], home: Path) -> Iterator[Balancer]:
    """nginx on two free loopback ports (TLS and the redirect), round-robin over ``nodes``
    (``host:port``), stopped on exit."""
    nginx = nginx_binary()
    for sub in ("tmp", "cache"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    cert, key = self_signed(home)
    http_port, https_port = free_port(), free_port()
    (home / "site.conf").write_text(
        site_config(
            nodes,
            http_port=http_port,
            https_port=https_port,
            cert=cert,
            key=key,
            cache=home / "cache",
        )
    )
    # Started as root, nginx would run its workers as nobody, who cannot read the test's
    # private directories: they run as whoever runs the test.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    (home / "nginx.conf").write_text(MAIN.format(home=home, user=user))
    argv = [nginx, "-p", str(home), "-c", str(home / "nginx.conf"), "-e", str(home / "error.log")]
    test = subprocess.run([*argv, "-t"], capture_output=True, text=True, check=False)
    assert test.returncode == 0, f"nginx -t refused the deployment's config:\n{test.stderr}"
    log = (home / "nginx.out").open("ab")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    found = Balancer(f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}", cert, home)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(found.plain_url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(
                        "nginx did not start: " + (home / "error.log").read_text(errors="replace")
                    ) from None
                time.sleep(0.05)
        yield found
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
