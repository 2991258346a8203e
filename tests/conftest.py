from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import RECORDED_ERRORS, Recorded, Server, serve_account
from imagegate.settings import Settings
from s3server import SeaweedFS, seaweedfs


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    """A real HTTP server on a loopback port, over a fresh store with one account."""
    with serve_account(settings) as srv:
        yield srv


_LEAKS = {
    "a traceback": re.compile(rb"Traceback \(most recent call last\)|File \"[^\"]+\", line"),
    "a filesystem path": re.compile(rb"/(?:work|tmp|root|home|usr|var|etc)/[\w.-]+/"),
    "a Python exception name": re.compile(rb"\b\w+(?:Error|Exception): "),
    "an API token": re.compile(rb"igt_[A-Za-z0-9_-]{20,}"),
    "a signing key": re.compile(rb"\b[A-Za-z0-9+/]{43}="),
    "an internal address": re.compile(rb"\b(?:10|127|169\.254|192\.168)\.\d{1,3}\.\d{1,3}"),
}


@pytest.fixture(autouse=True)
def error_responses_are_clean() -> Iterator[None]:
    """The meta-test: every error response any test provokes from an in-process server is
    checked here. None is a 500, and none carries a traceback, a path, key or token
    material, or an internal address."""
    start = len(RECORDED_ERRORS)
    yield
    problems = []
    for response in RECORDED_ERRORS[start:]:
        where = f"{response.method} {response.path} -> {response.status}"
        if response.status == 500:
            problems.append(f"{where}: a 500")
        for what, pattern in _LEAKS.items():
            if pattern.search(response.body):
                problems.append(f"{where}: {what} in {response.body[:200]!r}")
        shape = _shape_problem(response)
        if shape:
            problems.append(f"{where}: {shape}")
    assert not problems, "\n".join(problems)


_DELIVERY_ERROR = re.compile(rb"ERROR (\d{4}): [^\n]+")


def _shape_problem(response: Recorded) -> str | None:
    """The one shape of each kind of error: Cloudflare's envelope from the API, and
    ``ERROR <code>: <message>`` with ``Cf-Resized`` from delivery."""
    if response.path.startswith(("/accounts/", "/upload/", "/client/v4", "/metrics")):
        try:
            body = json.loads(response.body)
            code = body["errors"][0]["code"]
            ok = body["success"] is False and body["result"] is None and isinstance(code, int)
        except (ValueError, KeyError, IndexError, TypeError):
            ok = False
        return None if ok else f"not the API's error envelope: {response.body[:200]!r}"
    if response.path.startswith(("/dashboard", "/readyz", "/healthz", "/docs", "/openapi")):
        return None
    match = _DELIVERY_ERROR.fullmatch(response.body)
    if match is None or response.headers.get("cf-resized") != f"err={match.group(1).decode()}":
        return f"not a delivery error: {response.body[:200]!r}"
    if response.headers.get("cache-control") != "no-store":
        return "a delivery error that may be cached"
    return None


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One SeaweedFS for the session (per test process); see tests/s3server.py."""
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as running:
        yield running


@pytest.fixture
def s3(seaweed: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> SeaweedFS:
    """The session's SeaweedFS, running (a test before may have stopped it), with its
    endpoint and credentials in this process's environment."""
    seaweed.start()
    for name, value in seaweed.env().items():
        monkeypatch.setenv(name, value)
    return seaweed
