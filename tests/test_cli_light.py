"""``imagegate sign`` and ``imagegate verify`` with ``IMAGEGATE_SIGNING_KEY`` set are a pure
HMAC: they load no web framework, database driver or image library (which took about a
second of imports, three under load, before each signature)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("fastapi", "starlette", "sqlalchemy", "alembic", "psycopg", "pyvips", "jinja2",
         "granian", "cryptography", "httpx", "httpcore", "anyio", "prometheus_client")  # fmt: skip
URL = "http://127.0.0.1:8080/ZWd9g1K7eljCn_KDTu_MWA/team/alice.jpg/avatar"
#: Runs the command in this interpreter, then says which top-level modules it loaded.
PROBE = """
import json, sys
from imagegate.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}),
      file=sys.stderr)
"""


def _run(*args: str) -> tuple[str, int, set[str]]:
    env = {**os.environ, "IMAGEGATE_SIGNING_KEY": "a key for this test"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, check=False
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return done.stdout.strip(), report["code"], set(report["modules"])


@pytest.mark.parametrize("heavy", [HEAVY])
def test_sign_and_verify_load_nothing_heavy(heavy: tuple[str, ...]) -> None:
    signed, code, loaded = _run("sign", URL, "--expires", "1h")
    assert code in (0, None) and "&sig=" in signed
    assert loaded.isdisjoint(heavy), sorted(loaded & set(heavy))
    verdict, code, loaded = _run("verify", signed)
    assert code == 0 and verdict.startswith("ok (key env)")
    assert loaded.isdisjoint(heavy), sorted(loaded & set(heavy))


def test_the_probe_sees_a_heavy_command() -> None:
    """A control: a command that opens the store loads the database library."""
    _, _, loaded = _run("accounts", "list", "--data-dir", "/nonexistent/imagegate-test")
    assert "sqlalchemy" in loaded
