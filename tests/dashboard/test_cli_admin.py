"""``imagegate init`` sets the dashboard's admin password, hashed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness import BIN
from imagegate.adapters.metadata import SqlMetadata
from imagegate.core.passwords import check_password


def imagegate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
    return subprocess.run(
        [str(BIN / "imagegate"), *args],
        capture_output=True,
        text=True,
        env={**clean, "COLUMNS": "200", **(env or {})},
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _stored(data: Path) -> str | None:
    store = SqlMetadata.open(f"sqlite:///{data / 'imagegate.db'}")
    try:
        return store.sessions.admin_password()
    finally:
        store.close()


def test_init_sets_the_admin_password(tmp_path: Path) -> None:
    data = tmp_path / "d"
    done = imagegate("init", "--data-dir", str(data), "--json", "--admin-password", "a fine pass")
    assert done.returncode == 0, done.stderr
    assert "account_id" in done.stdout and "a fine pass" not in done.stdout
    stored = _stored(data)
    assert stored is not None and stored.startswith("scrypt$")
    assert check_password("a fine pass", stored)


def test_init_reads_the_password_from_the_environment(tmp_path: Path) -> None:
    data = tmp_path / "d"
    done = imagegate(
        "init", "--data-dir", str(data), env={"IMAGEGATE_ADMIN_PASSWORD": "from the env"}
    )
    assert done.returncode == 0, done.stderr
    stored = _stored(data)
    assert stored is not None and check_password("from the env", stored)


def test_init_on_an_initialised_store_only_sets_the_password(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert imagegate("init", "--data-dir", str(data), "--json").returncode == 0
    assert _stored(data) is None
    again = imagegate("init", "--data-dir", str(data), "--admin-password", "second thoughts")
    assert again.returncode == 0 and "admin password is set" in again.stdout
    stored = _stored(data)
    assert stored is not None and check_password("second thoughts", stored)
    plain = imagegate("init", "--data-dir", str(data))
    assert plain.returncode == 1 and "already initialised" in plain.stderr


def test_a_short_password_is_refused(tmp_path: Path) -> None:
    done = imagegate("init", "--data-dir", str(tmp_path / "d"), "--admin-password", "short")
    assert done.returncode == 1 and "at least 10" in done.stderr
    assert not (tmp_path / "d" / "imagegate.db").exists()
