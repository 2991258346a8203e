"""Many nodes and many workers, as a user runs them (the ``imagegate`` command):

- ``imagegate migrate`` started four times at once on a fresh PostgreSQL database: one
  migrates under the database's lock, the others wait; all succeed, the schema is whole;
- ``imagegate serve`` refuses a schema older (shared database) or newer than its code, and
  upgrades the embedded one by itself; ``imagegate doctor`` writes nothing;
- ``/metrics`` of a server with two workers counts the requests both served, every series
  labelled with the node's name;
- the workers of a server whose main process is SIGKILLed exit, and the port goes quiet.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from databases import own_database
from harness import cli_command, cli_env, free_port, run_cli, serve_cli
from imagegate.adapters.metadata import SqlMetadata
from imagegate.adapters.metadata.database import MIGRATIONS
from imagegate.adapters.metadata.schema import metadata as schema_metadata

METRICS_TOKEN = "m" * 32


def schema_of(url: str) -> tuple[str | None, str, set[str]]:
    """The schema's revision, the code's head, and the tables, of the database at ``url``."""
    store = SqlMetadata.open(url)
    try:
        status = store.database.schema_status()
        tables = set(sa.inspect(store.database.engine).get_table_names())
    finally:
        store.close()
    return status.current, status.head, tables


def migrate_to(url: str, revision: str) -> None:
    store = SqlMetadata.open(url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with store.database.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        store.close()


# --- migrations ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_four_migrates_at_once_on_a_fresh_database(tmp_path: Path) -> None:
    with own_database(migrated=False) as url:
        env = cli_env({"IMAGEGATE_DATABASE_URL": url, "IMAGEGATE_DATA_DIR": str(tmp_path)})
        procs = [
            subprocess.Popen(
                cli_command("migrate"),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        for code, out, err in results:
            assert code == 0, err
            assert "up to date" in out
        current, head, tables = schema_of(url)
        assert current == head
        assert set(schema_metadata.tables) <= tables


@pytest.mark.postgres
@pytest.mark.parametrize("revision", [None, "0004"])
def test_serve_refuses_an_older_shared_schema_and_names_the_command(
    tmp_path: Path, revision: str | None
) -> None:
    with own_database(migrated=False) as url:
        if revision:
            migrate_to(url, revision)
        env = {"IMAGEGATE_DATABASE_URL": url, "IMAGEGATE_PORT": str(free_port())}
        done = run_cli("serve", data_dir=tmp_path, env=env, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "imagegate migrate" in " ".join(done.stderr.split())
        assert schema_of(url)[0] == revision  # refused, and changed nothing
        # a command that writes refuses too, rather than upgrade a shared schema by itself
        listed = run_cli("accounts", "list", data_dir=tmp_path, env=env)
        assert listed.returncode == 2
        assert run_cli("migrate", data_dir=tmp_path, env=env).returncode == 0
        assert schema_of(url)[0] == schema_of(url)[1]


@pytest.mark.postgres
def test_serve_and_migrate_refuse_a_newer_schema(tmp_path: Path) -> None:
    with own_database() as url:
        store = SqlMetadata.open(url)
        with store.database.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
        store.close()
        env = {"IMAGEGATE_DATABASE_URL": url, "IMAGEGATE_PORT": str(free_port())}
        for args in (("serve",), ("migrate",)):
            done = run_cli(*args, data_dir=tmp_path, env=env, timeout=60)
            assert done.returncode == 2, done.stderr
            assert "newer than this version" in " ".join(done.stderr.split())
        assert schema_of(url)[0] == "9999_future"


@pytest.mark.postgres
def test_doctor_writes_nothing(tmp_path: Path) -> None:
    with own_database(migrated=False) as url:
        done = run_cli("doctor", data_dir=tmp_path, env={"IMAGEGATE_DATABASE_URL": url})
        assert "imagegate migrate" in done.stdout or "empty database" in done.stdout
        assert schema_of(url)[2] == set()


def test_the_embedded_store_upgrades_itself_when_served(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'imagegate.db'}"
    migrate_to(url, "0004")
    with serve_cli(data) as srv:
        assert httpx.get(srv.url("/readyz")).status_code == 200
    current, head, _ = schema_of(url)
    assert current == head


# --- a node's workers ---------------------------------------------------------------------


def test_metrics_sum_every_worker_of_the_node(tmp_path: Path) -> None:
    share = tmp_path / "share"
    share.mkdir()
    env = {
        "IMAGEGATE_WORKERS": "2",
        "IMAGEGATE_METRICS_TOKEN": METRICS_TOKEN,
        "IMAGEGATE_NODE_NAME": "node-a",
        "IMAGEGATE_METRICS_DIR": str(share),
    }
    sent = 120
    with serve_cli(tmp_path / "data", env=env) as srv:
        for i in range(sent):  # a new connection each: the kernel spreads them over workers
            answer = httpx.get(srv.url(f"/nohash{i}/img/public"), headers={"Connection": "close"})
            assert answer.status_code == 403
        time.sleep(1.6)  # every worker shares its counts within a second
        text = httpx.get(srv.url("/metrics"), headers=_auth()).text
        per_worker = [_shared_delivery_4xx(path) for path in sorted(share.glob("*.json"))]
    assert len(per_worker) == 2, "both workers share their counts"
    assert all(n > 0 for n in per_worker), f"requests not spread over the workers: {per_worker}"
    assert sum(per_worker) == sent
    assert _delivery_4xx(text, "node-a") == sent
    series = [line for line in text.splitlines() if line.startswith("imagegate_")]
    assert series
    assert all('node="node-a"' in line for line in series), series


def _shared_delivery_4xx(path: Path) -> int:
    rows = json.loads(path.read_text())["latency"]
    return sum(
        sum(counts) for kind, status, counts, _ in rows if (kind, status) == ("delivery", "4xx")
    )


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {METRICS_TOKEN}", "Connection": "close"}


def _delivery_4xx(text: str, node: str) -> int:
    pattern = (
        r'^imagegate_request_duration_seconds_count\{kind="delivery",node="'
        + re.escape(node)
        + r'",status="4xx"\} ([0-9.e+]+)$'
    )
    found = re.search(pattern, text, re.MULTILINE)
    assert found, text
    return int(float(found.group(1)))


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_workers_exit_when_the_main_process_is_killed(tmp_path: Path) -> None:
    with serve_cli(tmp_path / "data", env={"IMAGEGATE_WORKERS": "2"}) as srv:
        port = int(srv.base_url.rsplit(":", 1)[1])
        log = srv.data_dir / "server.log"
        wait_for_log = time.monotonic() + 30
        while not all(f"Started worker-{i}" in log.read_text() for i in (1, 2)):
            assert time.monotonic() < wait_for_log, "both workers start"
            time.sleep(0.05)
        workers = _children(srv.pid)
        assert len(workers) == 2, workers
        os.kill(srv.pid, signal.SIGKILL)  # the main process alone
        start = time.monotonic()
        while any(_alive(w) for w in workers) or not _refused(port):
            left = [w for w in workers if _alive(w)]
            assert time.monotonic() - start < 2.0, f"outlived their server: {left}, port open"
            time.sleep(0.02)
        print(f"\nworkers gone and port refused {time.monotonic() - start:.3f} s after SIGKILL")
