from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import Server, serve_in_thread
from imagegate.settings import Settings
from imagegate.web.app import build_core


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    """A real HTTP server on a loopback port, over a fresh store with one account."""
    settings.data_dir.mkdir(parents=True)
    core = build_core(settings)
    core.service.meta.migrate()
    new = core.service.create_account("test")
    with serve_in_thread(settings, core) as srv:
        srv.account_id = new.account.id
        srv.account_hash = new.account.hash
        srv.api_token = new.api_token
        srv.signing_key = new.signing_key
        yield srv
