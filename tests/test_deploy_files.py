"""The files under deploy/ are what a production deployment starts from: each is checked by
the tool that will read it. (The nginx site runs for real in tests/cluster/.)"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness import BIN, ROOT

UNIT = ROOT / "deploy" / "systemd" / "imagegate.service"


def test_the_systemd_unit_is_one_systemd_accepts(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian's package systemd)")
    text = UNIT.read_text(encoding="utf-8")
    assert "ExecStart=/opt/imagegate/.venv/bin/imagegate serve\n" in text
    # The same unit, with the command where this checkout installed it.
    unit = tmp_path / "imagegate.service"
    unit.write_text(text.replace("/opt/imagegate/.venv/bin/imagegate", str(BIN / "imagegate")))
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    complaints = [line for line in done.stderr.splitlines() if unit.name in line]
    assert done.returncode == 0 and not complaints, done.stderr


def test_the_unit_stops_the_server_the_way_it_stops_gracefully() -> None:
    settings = dict(
        line.split("=", 1)
        for line in UNIT.read_text().splitlines()
        if "=" in line and line[0] != "#"
    )
    # SIGTERM to the main process drains requests in flight (docs/deploy.md); the stop
    # timeout leaves room for a slow upload before systemd sends SIGKILL to the rest.
    assert settings["KillSignal"] == "SIGTERM"
    assert settings["KillMode"] == "mixed"
    assert int(settings["TimeoutStopSec"]) >= 30
    assert settings["UMask"] == "0077"
