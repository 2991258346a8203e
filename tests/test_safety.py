"""Unsafe configurations are refused at start unless acknowledged; doctor says what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import free_port, init_store, run_cli
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


def test_serve_refuses_an_unsafe_configuration(tmp_path: Path) -> None:
    env = {"IMAGEGATE_ALLOW_NON_EXPIRING": "true"}
    done = run_cli(
        "serve", "--host", "0.0.0.0", "--port", str(free_port()), env=env, data_dir=tmp_path
    )
    assert done.returncode == 2
    assert "refusing to start" in done.stderr and "MAX_URL_LIFETIME" in done.stderr


def test_doctor_reports_a_healthy_store_and_an_unsafe_one(tmp_path: Path) -> None:
    init_store(tmp_path / "d")
    healthy = run_cli("doctor", data_dir=tmp_path / "d")
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
    unsafe = run_cli(
        "doctor",
        env={"IMAGEGATE_HOST": "0.0.0.0", "IMAGEGATE_ALLOW_NON_EXPIRING": "true"},
        data_dir=tmp_path / "d",
    )
    assert unsafe.returncode == 1
    assert "FAIL configuration" in unsafe.stdout
