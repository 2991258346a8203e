"""Servers the security cases run against (see ``sec_common`` for the checks they share).

``shared`` is one server per module: tests that change an account's keys or settings make
their own account on it (:func:`harness.add_account`), so modules stay fast.
``cluster`` is ``imagegate serve`` with two worker processes, for the cases about caches
that live in more than one process.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sec_common import launch

from harness import Server, serve_cli


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with launch(tmp_path_factory.mktemp("security") / "data") as srv:
        yield srv


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Two granian workers over one store; each worker may remember metadata for 1 s."""
    env = {"IMAGEGATE_WORKERS": "2", "IMAGEGATE_METADATA_CACHE_TTL": "1"}
    with serve_cli(tmp_path_factory.mktemp("cluster") / "data", env=env) as srv:
        yield srv
