"""``imagegate import DIR`` against a real ``imagegate serve``, including a killed import."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from harness import Server, cli_command, cli_env, jpeg, png, run_cli, serve_cli
from imagegate.cli.bulk_import import JOURNAL_NAME


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_cli(tmp_path_factory.mktemp("import") / "data") as srv:
        yield srv


def make_folder(root: Path, prefix: str) -> list[str]:
    """Ten images at the top, two in a subfolder, a text file and a hidden file."""
    root.mkdir()
    ids = []
    for n in range(10):
        name = f"{prefix}{n:02d}.{'jpg' if n % 2 else 'png'}"
        (root / name).write_bytes(jpeg(64 + n, 48) if n % 2 else png(48, 32 + n))
        ids.append(name)
    (root / "nested").mkdir()
    for n in range(2):
        (root / "nested" / f"{prefix}deep{n}.png").write_bytes(png(40, 40 + n))
        ids.append(f"nested/{prefix}deep{n}.png")
    (root / "notes.txt").write_text("not an image\n")
    (root / ".DS_Store").write_bytes(b"\0\1junk")
    return sorted(ids)


def run(server: Server, folder: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    env = {
        "IMAGEGATE_URL": server.base_url,
        "IMAGEGATE_ACCOUNT_ID": server.account_id,
        "IMAGEGATE_API_TOKEN": server.api_token,
    }
    done = run_cli("import", str(folder), "--json", *extra, env=env)
    return done.returncode, json.loads(done.stdout)


def listed(server: Server, prefix: str) -> list[str]:
    with server.client() as client:
        images = client.get(server.images_url, params={"per_page": 1000}).json()["result"]
    ids = [image["id"] for image in images["images"]]
    return sorted(i for i in ids if i.rsplit("/", 1)[-1].startswith(prefix))


def test_import_a_folder_then_rerun_without_duplicates(server: Server, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    expected = make_folder(folder, "a")

    code, summary = run(server, folder, "--metadata", "source=import", "--metadata", "batch=1")
    assert code == 1  # the text file was refused
    assert sorted(summary["uploaded"]) == expected and summary["skipped"] == []
    assert summary["failed"] == [] and not summary["interrupted"]
    [refused] = summary["refused"]
    assert refused["id"] == "notes.txt" and refused["code"] and refused["message"]
    assert listed(server, "a") == expected
    with server.client() as client:
        image = client.get(f"{server.images_url}/{quote('nested/adeep1.png', safe='')}").json()[
            "result"
        ]
    assert image["meta"] == {"source": "import", "batch": "1"}
    assert image["filename"] == "adeep1.png" and image["requireSignedURLs"] is False

    # Again: everything is in the journal, nothing is sent twice.
    code, summary = run(server, folder)
    assert sorted(summary["skipped"]) == expected and summary["uploaded"] == []
    # Without the journal the server's 409s say the same; --only-images drops the text file.
    (folder / JOURNAL_NAME).unlink()
    code, summary = run(server, folder, "--only-images")
    assert code == 0 and summary["refused"] == [] and summary["uploaded"] == []
    assert sorted(summary["skipped"]) == expected
    assert listed(server, "a") == expected


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_an_interrupted_import_resumes_and_stores_each_image_once(
    server: Server, tmp_path: Path, signum: int
) -> None:
    prefix = "k" if signum == signal.SIGKILL else "i"
    folder = tmp_path / "interrupted"
    expected = make_folder(folder, prefix)
    journal = tmp_path / "journal.jsonl"
    env = cli_env(
        {"IMAGEGATE_ACCOUNT_ID": server.account_id, "IMAGEGATE_API_TOKEN": server.api_token}
    )
    command = cli_command("import", str(folder), "--url", server.base_url)
    # One upload at a time, 0.15 s apart: the signal lands after a few files, before the end.
    slow = subprocess.Popen(
        [*command, "--journal", str(journal), "--jobs", "1", "--pace", "0.15", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and slow.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 3:
            break
        time.sleep(0.01)
    slow.send_signal(signum)
    output, _ = slow.communicate(timeout=20)
    before = {json.loads(line)["id"] for line in journal.read_text().splitlines()}
    assert 3 <= len(before) < len(expected)
    if signum == signal.SIGINT:  # a clean stop: in-flight uploads land, then a summary
        stopped = json.loads(output)
        assert slow.returncode == 130 and stopped["interrupted"]
        assert set(stopped["uploaded"]) == before

    code, summary = run(server, folder, "--journal", str(journal), "--jobs", "4")
    assert code == 1 and [r["id"] for r in summary["refused"]] == ["notes.txt"]
    assert before <= set(summary["skipped"])
    assert sorted(summary["uploaded"] + summary["skipped"]) == expected
    assert listed(server, prefix) == expected  # each image exactly once
    resumed = {json.loads(line)["id"] for line in journal.read_text().splitlines()}
    assert sorted(resumed) == expected


def test_bad_credentials_stop_the_import(server: Server, tmp_path: Path) -> None:
    folder = tmp_path / "denied"
    make_folder(folder, "d")
    done = run_cli(
        "import",
        str(folder),
        "--url",
        server.base_url,
        "--account",
        server.account_id,
        "--token",
        "igt_wrong",
    )
    assert done.returncode == 2 and "refused the credentials" in done.stderr
    assert listed(server, "d") == [] and (folder / JOURNAL_NAME).read_text() == ""


def test_the_summary_table_for_people(server: Server, tmp_path: Path) -> None:
    folder = tmp_path / "table"
    make_folder(folder, "t")
    done = run_cli(
        "import",
        str(folder),
        "--url",
        server.base_url,
        "--account",
        server.account_id,
        "--token",
        server.api_token,
        "--private",
        env={"COLUMNS": "120"},
    )
    assert done.returncode == 1
    for row in ("uploaded", "12", "skipped (already done)", "refused", "notes.txt", "5455"):
        assert row in done.stdout
    with httpx.Client(headers={"Authorization": f"Bearer {server.api_token}"}) as client:
        image = client.get(f"{server.images_url}/t00.png").json()["result"]
    assert image["requireSignedURLs"] is True
