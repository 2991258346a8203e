"""The ``imagegate`` command, run as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from harness import jpeg, run_cli, serve_cli
from imagegate.cli.common import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1w", 604800)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "1y", "-5", "1.5h", "h"])
def test_bad_durations(text: str) -> None:
    import typer

    with pytest.raises(typer.BadParameter):
        parse_duration(text)


def test_init_json_prints_the_four_credentials_once(tmp_path: Path) -> None:
    done = run_cli("init", "--json", data_dir=tmp_path / "d")
    assert done.returncode == 0, done.stderr
    creds = json.loads(done.stdout)
    assert set(creds) == {"account_id", "account_hash", "api_token", "signing_key"}
    assert len(creds["account_id"]) == 32 and len(creds["account_hash"]) == 22
    assert len(creds["signing_key"]) == 44
    again = run_cli("init", "--json", data_dir=tmp_path / "d")
    assert again.returncode == 1 and "already initialised" in again.stderr
    assert (tmp_path / "d" / "first-account.json").stat().st_mode & 0o077 == 0


def test_sign_and_verify_against_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve_cli(data) as srv:
        with srv.client() as c:
            r = c.post(
                srv.images_url,
                files={"file": ("a.jpg", jpeg(300, 200))},
                data={"id": "cli/ünï.jpg", "requireSignedURLs": "true"},
            )
            assert r.status_code == 200
        url = f"{srv.base_url}/{srv.account_hash}/cli/ünï.jpg/public"
        assert httpx.get(url).status_code == 403

        # Key from the store (found by the URL's account hash).
        signed = run_cli("sign", url, "--expires", "10m", data_dir=data)
        assert signed.returncode == 0, signed.stderr
        assert httpx.get(signed.stdout.strip()).status_code == 200
        checked = run_cli("verify", signed.stdout.strip(), data_dir=data)
        assert checked.returncode == 0 and checked.stdout.startswith("ok (key default)")

        # Key from the environment, as a backend would have it.
        env = {"IMAGEGATE_SIGNING_KEY": srv.signing_key}
        by_env = run_cli("sign", url, "--expires", "1h", env=env)
        assert httpx.get(by_env.stdout.strip()).status_code == 200

        wrong = run_cli("verify", by_env.stdout.strip(), env={"IMAGEGATE_SIGNING_KEY": "x"})
        assert wrong.returncode == 1 and wrong.stdout.startswith("bad")
        tampered = by_env.stdout.strip().replace("exp=", "exp=1")
        assert run_cli("verify", tampered, env=env).stdout.startswith("bad")


def test_keys_and_tokens_commands(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    assert run_cli("init", "--json", data_dir=data).returncode == 0
    created = run_cli("keys", "create", "second", data_dir=data)
    assert created.returncode == 0 and len(created.stdout.strip()) == 44
    listed = run_cli("keys", "list", data_dir=data)
    assert "default" in listed.stdout and "second" in listed.stdout
    bad = run_cli("keys", "create", "not-alnum!", data_dir=data)
    assert bad.returncode == 1 and "letters and digits" in bad.stderr
    assert run_cli("keys", "delete", "second", data_dir=data).returncode == 0
    assert "second" not in run_cli("keys", "list", data_dir=data).stdout

    token = run_cli("tokens", "create", "--name", "ci", "--read-only", data_dir=data)
    assert token.returncode == 0 and token.stdout.startswith("igt_")
    tokens = run_cli("tokens", "list", data_dir=data).stdout
    assert "ci" in tokens and token.stdout.strip() not in tokens


def test_accounts_and_token_revocation(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    first = json.loads(run_cli("init", "--json", data_dir=data).stdout)
    second = run_cli("accounts", "create", "shop", "--json", data_dir=data)
    assert second.returncode == 0, second.stderr
    creds = json.loads(second.stdout)
    assert creds["account_id"] != first["account_id"]
    listed = run_cli("accounts", "list", data_dir=data).stdout
    assert first["account_id"] in listed and creds["account_id"] in listed and "shop" in listed

    with serve_cli(tmp_path / "d") as srv:
        url = f"{srv.base_url}/accounts/{creds['account_id']}/images/v1"
        auth = {"Authorization": f"Bearer {creds['api_token']}"}
        assert httpx.get(url, headers=auth).status_code == 200
        rows = run_cli("tokens", "list", "--json", "--account", creds["account_id"], data_dir=data)
        tokens = [json.loads(line) for line in rows.stdout.splitlines()]
        assert [t["name"] for t in tokens] == ["default"] and not tokens[0]["revoked"]
        token_id = tokens[0]["id"]
        revoked = run_cli(
            "tokens", "revoke", token_id, "--account", creds["account_id"], data_dir=data
        )
        assert revoked.returncode == 0, revoked.stderr
        assert httpx.get(url, headers=auth).status_code == 401


@pytest.mark.parametrize(
    ("blob_url", "said"),
    [
        ("/proc/no-such/blobs", "blob directory /proc/no-such/blobs cannot be made"),
        ("s3://Bad_Bucket", "expected s3://bucket[/prefix] in lower case"),
        ("ftp://example/x", "expected s3://bucket[/prefix] or a directory path"),
    ],
)
@pytest.mark.parametrize("command", [("serve", "--port", "1"), ("gc",), ("keys", "list")])
def test_a_blob_url_that_cannot_be_opened_is_one_line_not_a_traceback(
    tmp_path: Path, blob_url: str, said: str, command: tuple[str, ...]
) -> None:
    done = run_cli(*command, data_dir=tmp_path / "d", env={"IMAGEGATE_BLOB_URL": blob_url})
    assert done.returncode in (1, 2), done.stderr
    assert "Traceback" not in done.stderr and "Error:" not in done.stderr.replace("error:", "")
    assert said in " ".join(done.stderr.split()), done.stderr
