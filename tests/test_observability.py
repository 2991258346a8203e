"""Metrics, access logs, and secrets kept out of both."""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from harness import Server, in_process, jpeg, raw_request, serve_cli, serve_in_thread
from imagegate.core.signing import sign_url
from imagegate.settings import Settings

METRICS_TOKEN = "scrape-me-with-this-token"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The servers of this module let Prometheus in with ``METRICS_TOKEN``."""
    return Settings(data_dir=tmp_path / "data", metrics_token=METRICS_TOKEN)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one series; every series carries the node's name (by default the
    hostname) besides ``labels``."""
    labels = {"node": socket.gethostname(), **labels}
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} ([0-9.e+-]+)$"
    for line in text.splitlines():
        match = re.match(pattern, line)
        if match:
            return float(match.groups()[-1])
    raise AssertionError(f"{name} {labels} not in metrics")


def test_metrics_count_verifications_renders_hits_and_uploads(server: Server) -> None:
    data = jpeg(200, 100)
    with server.client() as c:
        c.post(
            server.images_url,
            files={"file": ("a.jpg", data)},
            data={"id": "m", "requireSignedURLs": "true"},
        )
    url = f"{server.base_url}/{server.account_hash}/m/public"
    signed = sign_url(url, server.signing_key, 60)
    for _ in range(3):
        assert httpx.get(signed).status_code == 200
    assert httpx.get(url + "?exp=99999999999&sig=" + "0" * 64).status_code == 403
    assert httpx.get(url).status_code == 403
    assert httpx.get(signed.replace("exp=", "exp=0")).status_code == 403

    duration = "imagegate_request_duration_seconds_count"
    deadline = time.monotonic() + 5
    while True:  # durations are recorded once each response has gone out
        text = httpx.get(f"{server.base_url}/metrics", headers=METRICS_AUTH).text
        try:
            done = metric(text, duration, kind="delivery", status="4xx") == 3
        except AssertionError:
            done = False
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    total = "imagegate_signature_verifications_total"
    assert metric(text, total, outcome="ok", key="default") == 3
    assert metric(text, total, outcome="bad", key="") == 2
    assert metric(text, total, outcome="missing", key="") == 1
    assert metric(text, "imagegate_variant_requests_total", result="render") == 1
    assert metric(text, "imagegate_variant_requests_total", result="memory_hit") == 2
    assert metric(text, "imagegate_uploads_total") == 1
    assert metric(text, "imagegate_upload_bytes_total") == len(data)
    assert (
        metric(text, "imagegate_request_duration_seconds_count", kind="delivery", status="2xx") == 3
    )
    assert (
        metric(text, "imagegate_request_duration_seconds_count", kind="delivery", status="4xx") == 3
    )


def test_metrics_need_their_token(server: Server, tmp_path: Path) -> None:
    """Only ``Authorization: Bearer <IMAGEGATE_METRICS_TOKEN>`` is let in; without the
    setting, no one is."""
    url = f"{server.base_url}/metrics"
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        {"Authorization": f"Bearer {METRICS_TOKEN[:-1]}"},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        {"Authorization": METRICS_TOKEN},
        {"Authorization": f"Bearer {server.api_token}"},  # an API token is not it
        {"Cookie": f"token={METRICS_TOKEN}"},
    ):
        refused = httpx.get(url, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["errors"][0]["code"] == 10000
        assert "imagegate_" not in refused.text
    refused = httpx.get(f"{url}?token={METRICS_TOKEN}")
    assert refused.status_code == 401
    for scheme in ("Bearer", "bearer", "BEARER"):
        served = httpx.get(url, headers={"Authorization": f"{scheme} {METRICS_TOKEN}"})
        assert served.status_code == 200 and "imagegate_uploads_total" in served.text
        assert served.headers["cache-control"] == "no-store"

    off = Settings(data_dir=tmp_path / "off")
    off.data_dir.mkdir()
    with serve_in_thread(off) as bare:
        for headers in ({}, METRICS_AUTH):
            answer = httpx.get(f"{bare.base_url}/metrics", headers=headers)
            assert answer.status_code == 403 and "imagegate_" not in answer.text
            assert "IMAGEGATE_METRICS_TOKEN" in answer.json()["errors"][0]["message"]


def test_metrics_are_never_reached_through_a_delivery_path(server: Server) -> None:
    """Not with the token, not under any spelling of a delivery URL."""
    h = server.account_hash
    targets = [
        "/cdn-cgi/imagedelivery/metrics",
        f"/cdn-cgi/imagedelivery/{h}/metrics/public",
        f"/{h}/metrics/public",
        f"/{h}/metrics/w=10",
        "/Metrics",
        "/METRICS",
        "/%6detrics",
        "/%2fmetrics",
        "//metrics",
        "/./metrics",
        "/x/../metrics",
        "/metrics/",
        "/metrics/x/y",
        "/metrics%2f",
        "/metrics;x",
    ]
    for target in targets:
        answer = raw_request(server.base_url, target)
        assert answer.status != 200, target
        assert "imagegate_" not in answer.text and "# HELP" not in answer.text, target
    for target in targets:
        answer = httpx.get(server.base_url + target, headers=METRICS_AUTH)
        assert answer.url.path == "/metrics" or "# HELP" not in answer.text, target


def test_access_log_is_json_with_sig_redacted(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    with server.client() as c:
        c.post(
            server.images_url,
            files={"file": ("a.jpg", jpeg(50, 50))},
            data={"id": "l", "requireSignedURLs": "true"},
        )
    signed = sign_url(
        f"{server.base_url}/{server.account_hash}/l/public?v=1", server.signing_key, 60
    )
    sig = signed.rsplit("sig=", 1)[1]
    with caplog.at_level(logging.INFO, logger="imagegate.access"):
        assert httpx.get(signed).status_code == 200
        # The line is written once the response has gone out: the client may see it first.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lines = [
                json.loads(r.getMessage()) for r in caplog.records if r.name == "imagegate.access"
            ]
            if any(e["path"].endswith("/l/public") for e in lines):
                break
            time.sleep(0.02)
    entry = next(e for e in lines if e["path"].endswith("/l/public"))
    assert entry["status"] == 200 and entry["method"] == "GET" and entry["bytes"] > 0
    assert entry["query"].startswith("v=1&exp=") and entry["query"].endswith("&sig=REDACTED")
    assert sig not in caplog.text


def test_no_secret_ever_reaches_the_logs(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    """Drive every path that handles a key, a token or a signature, with all loggers at
    DEBUG, then look for the known values in everything that was logged."""
    with caplog.at_level(logging.DEBUG):
        with server.client() as c:
            c.post(
                server.images_url,
                files={"file": ("a.jpg", jpeg(50, 50))},
                data={"id": "s", "requireSignedURLs": "true"},
            )
            keys = c.put(f"{server.images_url}/keys/second").json()["result"]["keys"]
            second = {k["name"]: k["value"] for k in keys}["second"]
            batch = c.get(f"{server.images_url}/batch_token").json()["result"]["token"]
            direct = c.post(f"{server.images_url.removesuffix('/v1')}/v2/direct_upload")
            upload_url = direct.json()["result"]["uploadURL"]
            c.get(f"{server.images_url}/s/signed_url")
        url = f"{server.base_url}/{server.account_hash}/s/public"
        good = sign_url(url, second, 60)
        httpx.get(good)
        httpx.get(sign_url(url, "wrong-key", 60))
        httpx.get(good.replace("exp=", "exp=1"))
        httpx.post(upload_url, files={"file": ("x.jpg", jpeg(10, 10))})
        httpx.get(server.images_url, headers={"Authorization": f"Bearer {batch}x"})
    secrets = {
        "signing key": server.signing_key,
        "second key": second,
        "api token": server.api_token,
        "batch token": batch,
        "upload secret": upload_url.rsplit("/", 1)[1],
        "signature": good.rsplit("sig=", 1)[1],
    }
    # The test's own HTTP client logs the URLs it requests; everything else is the server.
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.getMessage()} {r.args} {r.exc_text or ''}" for r in server_side)
    leaked = [name for name, value in secrets.items() if value in logged]
    assert not leaked, f"in the logs: {leaked}"
    assert any(r.name == "imagegate.access" for r in caplog.records)


def access_lines(caplog: pytest.LogCaptureFixture, count: int) -> list[dict[str, object]]:
    """The access-log lines so far, once ``count`` of them are in (each is written after
    its response has gone out)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "imagegate.access"]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def test_credentials_in_query_strings_never_reach_the_access_log(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    """A token, key or signature a client puts in a query string, by any credential name,
    in any case or percent-encoded, on any route (delivery, API, direct upload, dashboard,
    metrics, docs): the access log keeps the parameter's name and drops its value."""
    with server.client() as c:
        c.post(server.images_url, files={"file": ("a.jpg", jpeg(40, 30))}, data={"id": "q"})
        direct = c.post(f"{server.images_url.removesuffix('/v1')}/v2/direct_upload")
    upload_url = direct.json()["result"]["uploadURL"]
    secret = upload_url.rsplit("/", 1)[1]
    token, key = server.api_token, server.signing_key
    signed = sign_url(f"{server.base_url}/{server.account_hash}/q/public", key, 60)
    sig = signed.rsplit("sig=", 1)[1]
    quoted_key = key.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    queries = [
        f"token={token}",
        f"access_token={token}&w=1",
        f"API_TOKEN={token}",
        f"%74oken={token}",
        f"t%6Fken={token}",
        f"key={quoted_key}",
        f"Signature={sig}",
        f"password={secret}",
        f"next=%2Fdashboard%2Fimages%3Ftoken%3D{token}",
        f"anything={token}",
    ]
    targets = [
        signed.removeprefix(server.base_url),  # sig itself
        f"/{server.account_hash}/q/public",
        f"/accounts/{server.account_id}/images/v1",
        "/dashboard/images",
        "/metrics",
        "/docs",
        "/healthz",
    ]
    with caplog.at_level(logging.INFO, logger="imagegate.access"):
        sent = 0
        for target in targets:
            for query in queries:
                joiner = "&" if "?" in target else "?"
                raw_request(server.base_url, f"{target}{joiner}{query}")
                sent += 1
        for extra in (f"/upload/{secret}?token={token}", f"//upload/{secret}"):
            raw_request(server.base_url, extra, method="POST")
            sent += 1
        lines = access_lines(caplog, sent)
    assert len(lines) >= sent
    logged = "\n".join(json.dumps(line) for line in lines)
    for name, value in {"token": token, "key": key, "sig": sig, "upload secret": secret}.items():
        assert value not in logged, f"the {name} is in the access log"
        assert quote(value, safe="") not in logged, f"the {name}, encoded, is in the access log"
    assert "token=REDACTED" in logged and "%74oken=REDACTED" in logged
    assert "/upload/REDACTED" in logged and "//upload/REDACTED" in logged


def test_a_served_process_logs_no_credential(tmp_path: Path) -> None:
    """``imagegate serve`` (granian workers, their own logging set up): after requests that
    carry credentials in query strings and paths, the process's output names none."""
    with serve_cli(tmp_path / "data") as srv:
        signed = sign_url(f"{srv.base_url}/{srv.account_hash}/none/public", srv.signing_key, 60)
        for target in (
            signed.removeprefix(srv.base_url),
            f"/accounts/{srv.account_id}/images/v1?token={srv.api_token}",
            f"/{srv.account_hash}/x/public?api_key={srv.signing_key}",
            f"/dashboard/images?access_token={srv.api_token}",
            f"/metrics?token={srv.api_token}",
        ):
            raw_request(srv.base_url, target)
        raw_request(srv.base_url, "/upload/not-a-real-secret-but-looks-like-one", method="POST")
        deadline = time.monotonic() + 10
        log = srv.data_dir / "server.log"
        while log.read_text().count('"status"') < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
    output = log.read_text()
    assert output.count('"status"') >= 6, output[-2000:]
    for value in (srv.api_token, srv.signing_key, signed.rsplit("sig=", 1)[1]):
        assert value not in output
    assert "not-a-real-secret" not in output


def test_metrics_count_originals_waiting_for_their_reduced_copies(server: Server) -> None:
    gate, _ = in_process(server)
    levels = gate.delivery.levels
    assert levels is not None
    levels.busy = lambda: True  # renders waiting: derivation holds back (for up to 5 s)
    with server.client() as c:
        r = c.post(server.images_url, files={"file": ("big.jpg", jpeg(2000, 1500))})
        assert r.status_code == 200, r.text

    def pending() -> float:
        text = httpx.get(f"{server.base_url}/metrics", headers=METRICS_AUTH).text
        return metric(text, "imagegate_copies_pending")

    assert pending() == 1
    levels.busy = lambda: False
    assert levels.wait_idle(30)
    assert pending() == 0
    assert levels.built == 1
