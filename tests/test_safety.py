"""Unsafe configurations are refused at start unless acknowledged; doctor says what to fix."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness import BIN, free_port, init_store
from imagegate.core.errors import UnsafeConfiguration
from imagegate.settings import Settings
from imagegate.web.app import check_safety


@pytest.mark.parametrize(
    ("settings", "unsafe"),
    [
        ({}, False),
        ({"allow_non_expiring": True}, False),  # loopback only
        ({"host": "0.0.0.0"}, False),
        ({"host": "0.0.0.0", "allow_non_expiring": True}, True),
        ({"host": "0.0.0.0", "allow_non_expiring": True, "max_url_lifetime": 86400}, False),
        ({"host": "10.1.2.3", "clock_skew": 3600}, True),
        ({"host": "0.0.0.0", "clock_skew": 300}, False),
    ],
)
def test_unsafe_settings_refuse_to_start(settings: dict, unsafe: bool) -> None:
    config = Settings(**settings)
    assert bool(config.unsafe_reasons()) is unsafe
    if unsafe:
        with pytest.raises(UnsafeConfiguration):
            check_safety(config)
        check_safety(config.model_copy(update={"allow_unsafe_config": True}))
    else:
        check_safety(config)


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
    return subprocess.run(
        [str(BIN / "imagegate"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "COLUMNS": "200", **env},
    )


def test_serve_refuses_an_unsafe_configuration(tmp_path: Path) -> None:
    env = {"IMAGEGATE_ALLOW_NON_EXPIRING": "true"}
    done = run(
        "serve",
        "--data-dir",
        str(tmp_path),
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
        env=env,
    )
    assert done.returncode == 2
    assert "refusing to start" in done.stderr and "MAX_URL_LIFETIME" in done.stderr


def test_doctor_reports_a_healthy_store_and_an_unsafe_one(tmp_path: Path) -> None:
    init_store(tmp_path / "d")
    healthy = run("doctor", "--data-dir", str(tmp_path / "d"), env={})
    assert healthy.returncode == 0, healthy.stdout
    for check in (
        "libvips",
        "format JPEG",
        "format AVIF/HEIC",
        "database",
        "schema",
        "blob store",
        "accounts",
    ):
        assert any(line.startswith("ok") and check in line for line in healthy.stdout.splitlines())
    unsafe = run(
        "doctor",
        "--data-dir",
        str(tmp_path / "d"),
        env={"IMAGEGATE_HOST": "0.0.0.0", "IMAGEGATE_ALLOW_NON_EXPIRING": "true"},
    )
    assert unsafe.returncode == 1
    assert "FAIL configuration" in unsafe.stdout
