"""The store is its owner's alone: directories 0700, files 0600, after ``imagegate init`` as
``make run`` does it, after serving, uploading and rendering, in the server's own process
whatever the umask, and for the import journal; ``imagegate doctor`` reports a store that
others can read. Every check stats the real files."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness import Server, jpeg, png, run_cli, serve_account, serve_cli
from imagegate.private_files import create_file, loose_modes, make_dirs, write_file
from imagegate.settings import Settings

#: What the test harness itself writes into a data directory (not imagegate's).
HARNESS_FILES = {"server.log"}


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    """Every path under ``root`` (and ``root`` itself, as "."), with its permission bits."""
    found = {".": stat.S_IMODE(root.lstat().st_mode)}
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        if relative not in HARNESS_FILES:
            found[relative] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_private(root: Path) -> dict[str, int]:
    found = modes(root)
    for relative, mode in found.items():
        expected = 0o700 if (root / relative).is_dir() else 0o600
        assert mode == expected, f"{relative} is {mode:o}, not {expected:o}: {found}"
    return found


#: A usual shell's umask, which the commands run under.
SHELL_UMASK = 0o022


def upload_and_render(srv: Server, private: bool = False) -> None:
    with srv.client() as c:
        for data in (jpeg(320, 200), png(64, 48)):
            r = c.post(
                srv.images_url,
                files={"file": ("x", data)},
                data={"requireSignedURLs": str(private).lower()},
            )
            assert r.status_code == 200, r.text
            image_id = r.json()["result"]["id"]
            served = httpx.get(f"{srv.base_url}/{srv.account_hash}/{image_id}/public")
            assert served.status_code == (403 if private else 200)


def test_init_as_make_run_does_it_creates_a_private_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = run_cli("init", data_dir=data, umask=SHELL_UMASK)
    assert done.returncode == 0, done.stderr
    found = assert_private(data)
    assert {".", "imagegate.db", "first-account.json", "blobs", "variants"} <= set(found)


def test_serving_uploading_and_rendering_keep_the_store_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with umask(SHELL_UMASK), serve_cli(data) as srv:
        upload_and_render(srv)
        found = assert_private(data)
    assert {"imagegate.db-wal", "imagegate.db-shm"} <= set(found)
    assert any(name.startswith("blobs/") and (data / name).is_file() for name in found)
    assert any(name.startswith("variants/") and (data / name).is_file() for name in found)
    assert_private(data)  # and after a clean stop


def test_the_store_is_private_whatever_the_servers_umask(tmp_path: Path) -> None:
    """In-process, with a permissive umask and no ``imagegate`` command to tighten it: each
    adapter creates its own directories and files private (SQLite's -wal and -shm too)."""
    data = tmp_path / "store" / "data"
    with umask(0o002), serve_account(Settings(data_dir=data), name="modes") as srv:
        upload_and_render(srv)
        found = assert_private(tmp_path / "store")
    assert {"data/imagegate.db", "data/imagegate.db-wal", "data/imagegate.db-shm"} <= set(found)
    assert any(name.startswith("data/variants/") for name in found)


def test_the_import_journal_is_private(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.png").write_bytes(png(16, 16))
    with serve_cli(tmp_path / "data") as srv:
        done = run_cli(
            "import",
            str(folder),
            "--url",
            srv.base_url,
            "--account",
            srv.account_id,
            "--token",
            srv.api_token,
            "--json",
            umask=SHELL_UMASK,
        )
    assert done.returncode == 0, done.stderr
    journal = folder / ".imagegate-import.jsonl"
    assert journal.read_text().count("\n") == 1
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600


def doctor_says(data: Path) -> tuple[int, str]:
    """``imagegate doctor``'s exit status and its "file modes" line."""
    done = run_cli("doctor", data_dir=data, umask=SHELL_UMASK)
    line = next(x for x in done.stdout.splitlines() if "file modes" in x)
    return done.returncode, " ".join(line.split())


def test_doctor_reports_a_store_others_can_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run_cli("init", data_dir=data, umask=SHELL_UMASK).returncode == 0
    _, finding = doctor_says(data)
    assert finding.startswith("ok file modes") and "readable by its owner only" in finding

    # A store made by an older version (or copied with cp): a loose directory only warns.
    (data / "blobs").chmod(0o755)
    _, finding = doctor_says(data)
    assert finding.startswith("warn file modes"), finding
    assert f"{data / 'blobs'} (755)" in finding and f"chmod -R go= {data}" in finding

    # The database (signing keys in the clear without a master key): a failure.
    (data / "imagegate.db").chmod(0o644)
    (data / "first-account.json").chmod(0o640)
    status, finding = doctor_says(data)
    assert status == 1 and finding.startswith("FAIL file modes"), finding
    assert "3 path(s)" in finding and f"{data / 'imagegate.db'} (644)" in finding


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077, 0o027])
def test_make_dirs_makes_every_new_directory_0700(tmp_path: Path, mask: int) -> None:
    (tmp_path / "kept").mkdir(mode=0o755)
    (tmp_path / "kept").chmod(0o755)
    with umask(mask):
        make_dirs(tmp_path / "kept" / "a" / "b" / "c")
        make_dirs(tmp_path / "kept" / "a" / "b" / "c")  # again: nothing changes
    assert stat.S_IMODE((tmp_path / "kept").stat().st_mode) == 0o755  # not ours: untouched
    for path in ("a", "a/b", "a/b/c"):
        assert stat.S_IMODE((tmp_path / "kept" / path).stat().st_mode) == 0o700
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(FileExistsError):
        make_dirs(tmp_path / "file")


def test_files_are_written_0600_and_tightened(tmp_path: Path) -> None:
    with umask(0o000):
        create_file(tmp_path / "new")
        write_file(tmp_path / "written", b"secret")
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o600
    assert (tmp_path / "written").read_bytes() == b"secret"
    old = tmp_path / "old"
    old.write_bytes(b"a much longer old content")
    old.chmod(0o644)
    create_file(old)  # left as it is
    assert stat.S_IMODE(old.stat().st_mode) == 0o644 and old.read_bytes().startswith(b"a much")
    write_file(old, b"new")
    assert stat.S_IMODE(old.stat().st_mode) == 0o600 and old.read_bytes() == b"new"


def test_loose_modes_finds_what_others_can_reach(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_dirs(root / "a")
    write_file(root / "a" / "tight", b"")
    write_file(root / "a" / "loose", b"")
    (root / "a" / "loose").chmod(0o604)
    make_dirs(root / "open")
    (root / "open").chmod(0o711)
    (root / "link").symlink_to("/etc/passwd")
    assert sorted(loose_modes(root)) == [(root / "a" / "loose", 0o604), (root / "open", 0o711)]
    assert list(loose_modes(tmp_path / "missing")) == []
