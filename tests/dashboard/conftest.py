from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.browser import browser, watched
from dashboard.helpers import Browserish, dashboard_server
from harness import Server

__all__ = ["browser", "client", "dash", "watched"]


@pytest.fixture
def dash(tmp_path: Path) -> Iterator[Server]:
    """A server with one account and an admin password."""
    with dashboard_server(tmp_path / "data") as srv:
        yield srv


@pytest.fixture
def client(dash: Server) -> Iterator[Browserish]:
    """A client signed in with the account's API token."""
    c = Browserish(dash)
    assert c.sign_in().status_code == 303
    yield c
    c.close()


@pytest.fixture(scope="module")
def shared_dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a module's tests that change nothing lasting (refusals, reads)."""
    with dashboard_server(tmp_path_factory.mktemp("shared") / "data") as srv:
        yield srv


@pytest.fixture(scope="module")
def shared_client(shared_dash: Server) -> Iterator[Browserish]:
    c = Browserish(shared_dash)
    assert c.sign_in().status_code == 303
    yield c
    c.close()
