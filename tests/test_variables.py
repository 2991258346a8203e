"""A misspelt ``IMAGEGATE_*`` variable is named, with the setting it was probably meant to
be, by ``imagegate serve`` as it starts and by ``imagegate doctor``."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from harness import run_cli, serve_cli
from imagegate.settings import Settings
from imagegate.variables import OTHER_VARIABLES, known_variables, unknown_variables

CASES = [
    # (variable, the known one named, or None for no suggestion)
    ("IMAGEGATE_MAX_UPLOAD_BYTE", "IMAGEGATE_MAX_UPLOAD_BYTES"),
    ("IMAGEGATE_MASTERKEY", "IMAGEGATE_MASTER_KEY"),
    ("IMAGEGATE_ACESS_LOG", "IMAGEGATE_ACCESS_LOG"),
    ("IMAGEGATE_DATABASE", "IMAGEGATE_DATABASE_URL"),
    ("IMAGEGATE__PORT", "IMAGEGATE_PORT"),
    ("IMAGEGATEPORT", "IMAGEGATE_PORT"),
    ("imagegate_publicurl", "IMAGEGATE_PUBLIC_URL"),
    ("IMAGEGATE_SIGNINGKEY", "IMAGEGATE_SIGNING_KEY"),
    ("IMAGEGAT_HOST", "IMAGEGATE_HOST"),
    ("IMGAEGATE_WORKERS", "IMAGEGATE_WORKERS"),
    ("IMAGEGATE_FOO", None),
    ("IMAGEGATE_", None),
]
FINE = [
    "IMAGEGATE_PORT",
    "imagegate_port",  # settings are read whatever the case
    "Imagegate_Data_Dir",
    "IMAGEGATE_ADMIN_PASSWORD",
    "IMAGEGATE_TEST_POSTGRES_URL",
    "IMAGE_GATEWAY_URL",  # someone else's
    "IMAGEMAGICK_HOME",
    "MALLOC_ARENA_MAX",
    "PATH",
]


@pytest.mark.parametrize(("name", "closest"), CASES, ids=[c[0] for c in CASES])
def test_a_misspelt_variable_is_found_with_its_closest_setting(
    name: str, closest: str | None
) -> None:
    [found] = unknown_variables({name: "1", **dict.fromkeys(FINE, "1")})
    assert found.name == name and found.closest == closest
    said = found.describe()
    assert said.startswith(f"{name} is ignored") and (closest is None or closest in said)


def test_known_variables_are_every_setting_and_the_tools_own() -> None:
    known = known_variables()
    for field in Settings.model_fields:
        assert f"IMAGEGATE_{field.upper()}" in known
    assert OTHER_VARIABLES <= known
    assert unknown_variables(dict.fromkeys(known, "x")) == []
    assert unknown_variables(dict.fromkeys(FINE, "x")) == []


def test_serve_names_a_misspelt_variable_as_it_starts(tmp_path: Path) -> None:
    env = {"IMAGEGATE_MAX_UPLOAD_BYTE": "2048", "IMAGEGATE_METADATA_CACHE_TTL": "1"}
    with serve_cli(tmp_path / "data", env=env) as srv:
        assert httpx.get(srv.url("/healthz")).status_code == 200
        log = srv.data_dir / "server.log"
        deadline = time.monotonic() + 5
        while "IMAGEGATE_MAX_UPLOAD_BYTE " not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    said = " ".join(log.read_text().split())
    assert (
        "warning: IMAGEGATE_MAX_UPLOAD_BYTE is ignored: imagegate reads no such variable. "
        "Did you mean IMAGEGATE_MAX_UPLOAD_BYTES?" in said
    )
    assert "IMAGEGATE_METADATA_CACHE_TTL" not in said  # a real setting: nothing to say


def test_doctor_names_a_misspelt_variable(tmp_path: Path) -> None:
    def doctor(**extra: str) -> tuple[int, list[str]]:
        done = run_cli("doctor", data_dir=tmp_path / "data", env=extra)
        lines = [" ".join(x.split()) for x in done.stdout.splitlines() if " variables " in x]
        return done.returncode, lines

    _, lines = doctor()
    assert lines == ["ok variables every IMAGEGATE_* variable names a setting"]
    status, lines = doctor(IMAGEGATE_CLOCKSKEW="5", IMAGEGATE_PORT="9000")
    assert lines == [
        "warn variables IMAGEGATE_CLOCKSKEW is ignored: imagegate reads no such variable. "
        "Did you mean IMAGEGATE_CLOCK_SKEW?"
    ]
    assert status == 0  # a warning, not a failure
