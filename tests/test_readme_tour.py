"""The README's five-minute tour, run as written against ``imagegate serve``.

The shell blocks between the tour markers are joined and run with ``bash -e`` in a fresh
folder, with only the port changed. If the README drifts from the product, this fails.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from harness import ROOT, dimensions, serve_cli

README = ROOT / "README.md"


def tour_script() -> str:
    text = README.read_text(encoding="utf-8")
    tour = text.split("<!-- tour:start -->", 1)[1].split("<!-- tour:end -->", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", tour, flags=re.S)
    assert len(blocks) >= 6
    return "\n".join(blocks)


def test_readme_opens_with_the_two_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    code = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert code[0].startswith("make run") and code[1].startswith("make test")


def test_readme_tour_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    with serve_cli(tmp_path / "data") as srv:
        script = tour_script().replace("http://127.0.0.1:8080", srv.base_url)
        done = subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")},
        )
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert out.count("ERROR 9425: Image access denied (403)") == 2, out
    assert "200 image/jpeg" in out, out
    assert dimensions((tmp_path / "avatar.jpg").read_bytes()) == (128, 128)
    signed = next(line for line in out.splitlines() if "&sig=" in line)
    assert re.search(r"/team/alice\.jpg/avatar\?exp=\d+&sig=[0-9a-f]{64}$", signed)
