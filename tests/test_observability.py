"""Metrics, access logs, and secrets kept out of both."""

from __future__ import annotations

import json
import logging
import re
import time

import httpx
import pytest

from harness import Server, jpeg
from imagegate.signing import sign_url


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = (
        rf"^{re.escape(name)}(\{{{re.escape(wanted)}\}})? ([0-9.e+-]+)$"
        if labels
        else (rf"^{re.escape(name)} ([0-9.e+-]+)$")
    )
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
        text = httpx.get(f"{server.base_url}/metrics").text
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
