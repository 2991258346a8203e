"""``imagegate init`` sets the dashboard's admin password, hashed."""

from __future__ import annotations

from pathlib import Path

from harness import run_cli
from imagegate.adapters.metadata import SqlMetadata
from imagegate.core.passwords import check_password


def _stored(data: Path) -> str | None:
    store = SqlMetadata.open(f"sqlite:///{data / 'imagegate.db'}")
    try:
        return store.sessions.admin_password()
    finally:
        store.close()


def test_init_sets_the_admin_password(tmp_path: Path) -> None:
    data = tmp_path / "d"
    done = run_cli("init", "--json", "--admin-password", "a fine pass", data_dir=data)
    assert done.returncode == 0, done.stderr
    assert "account_id" in done.stdout and "a fine pass" not in done.stdout
    stored = _stored(data)
    assert stored is not None and stored.startswith("scrypt$")
    assert check_password("a fine pass", stored)


def test_init_reads_the_password_from_the_environment(tmp_path: Path) -> None:
    data = tmp_path / "d"
    done = run_cli("init", env={"IMAGEGATE_ADMIN_PASSWORD": "from the env"}, data_dir=data)
    assert done.returncode == 0, done.stderr
    stored = _stored(data)
    assert stored is not None and check_password("from the env", stored)


def test_init_on_an_initialised_store_only_sets_the_password(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert run_cli("init", "--json", data_dir=data).returncode == 0
    assert _stored(data) is None
    again = run_cli("init", "--admin-password", "second thoughts", data_dir=data)
    assert again.returncode == 0 and "admin password is set" in again.stdout
    stored = _stored(data)
    assert stored is not None and check_password("second thoughts", stored)
    plain = run_cli("init", data_dir=data)
    assert plain.returncode == 1 and "already initialised" in plain.stderr


def test_a_short_password_is_refused(tmp_path: Path) -> None:
    done = run_cli("init", "--admin-password", "short", data_dir=tmp_path / "d")
    assert done.returncode == 1 and "at least 10" in done.stderr
    assert not (tmp_path / "d" / "imagegate.db").exists()
