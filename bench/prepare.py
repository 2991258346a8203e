"""Everything the comparisons need, installed or generated on first use and reused after.

- nginx and wrk from apt, only if missing (the system nginx service is never started: the
  harness runs its own nginx in the foreground with a config under ``bench/.work``);
- thumbor, pinned, in its own venv under ``bench/.work/thumbor-venv``;
- a generated 12-megapixel photo-like JPEG (gradients, blurred and fine noise; quality 90).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyvips

THUMBOR_SPEC = "thumbor==7.8.0"
PHOTO_SIZE = (4000, 3000)  # 12 MP
APT_TOOLS = {"nginx": "nginx", "wrk": "wrk"}  # binary -> Debian package


def _which(binary: str) -> str | None:
    return shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin")


def ensure_apt_tools(log: list[str]) -> dict[str, str]:
    missing = [pkg for binary, pkg in APT_TOOLS.items() if _which(binary) is None]
    if missing:
        if os.geteuid() != 0:
            needed = " ".join(missing)
            raise SystemExit(f"missing {needed}: run `sudo apt-get install {needed}` first")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        # Keep the packaged nginx service from starting (and listening on :80) on install.
        policy = Path("/usr/sbin/policy-rc.d")
        own_policy = not policy.exists()
        if own_policy:
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
        try:
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=300)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                env=env,
                check=True,
                timeout=600,
                stdout=subprocess.DEVNULL,
            )
        finally:
            if own_policy:
                policy.unlink()
        log.append(f"installed from apt: {' '.join(missing)}")
    found = {}
    for binary in APT_TOOLS:
        path = _which(binary)
        if path is None:
            raise SystemExit(f"{binary} is still missing after apt-get install")
        found[binary] = path
    return found


def tool_versions(paths: dict[str, str]) -> dict[str, str]:
    """``nginx -v`` says ``nginx version: nginx/1.22.1``; ``wrk -v``, ``wrk 4.1.0 [epoll] ...``."""
    versions = {}
    for name, flag in (("nginx", "-v"), ("wrk", "-v")):
        done = subprocess.run([paths[name], flag], capture_output=True, text=True, check=False)
        text = (done.stdout + done.stderr).strip()
        match = re.search(r"\d+\.\d+(?:\.\d+)?", text)
        versions[name] = match.group(0) if match else "?"
    return versions


def ensure_thumbor(work: Path, log: list[str]) -> Path:
    """A venv with thumbor; returns its ``thumbor`` executable. Rebuilt if the pin changes."""
    venv = work / "thumbor-venv"
    marker = venv / f".installed-{THUMBOR_SPEC}"
    thumbor = venv / "bin" / "thumbor"
    if marker.exists() and thumbor.exists():
        return thumbor
    shutil.rmtree(venv, ignore_errors=True)
    base_python = getattr(sys, "_base_executable", None) or shutil.which("python3") or "python3"
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            THUMBOR_SPEC,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "is ignored" not in line]
        raise SystemExit(f"pip install {THUMBOR_SPEC} failed:\n" + "\n".join(errors[-30:]))
    marker.touch()
    log.append(f"installed {THUMBOR_SPEC} into {venv}")
    return thumbor


def thumbor_version(thumbor: Path) -> str:
    done = subprocess.run(
        [
            str(thumbor.parent / "python"),
            "-c",
            "import thumbor, PIL; print(thumbor.__version__, PIL.__version__)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    parts = done.stdout.split()
    return f"{parts[0]} (Pillow {parts[1]})" if len(parts) == 2 else "?"


def photo(width: int, height: int) -> pyvips.Image:
    """Photo-like content that JPEG can't shrink to nothing: smooth colour gradients, blurred
    noise for texture and a little fine grain. Seeded: the same bytes every time."""
    xy = pyvips.Image.xyz(width, height)
    x, y = xy[0], xy[1]
    red = x * (200 / width) + 30
    green = y * (180 / height) + 40
    blue = (x * (360 * 3 / width)).sin() * 60 + (y * (360 * 2 / height)).cos() * 50 + 120
    texture = pyvips.Image.gaussnoise(width, height, sigma=28, mean=0, seed=42).gaussblur(1.2)
    grain = pyvips.Image.gaussnoise(width, height, sigma=6, mean=0, seed=7)
    image = red.bandjoin([green, blue]) + texture + grain
    return image.cast("uchar").copy(interpretation="srgb")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def ensure_photos(work: Path, copies: int) -> list[Path]:
    """The photo, and ``copies`` copies of it that differ only in a JPEG comment: the same
    pixels and the same work, but different bytes, so no server can answer two requests
    for different copies with one render."""
    width, height = PHOTO_SIZE
    master = work / "images" / f"photo-{width}x{height}.jpg"
    if not master.exists():
        _write(master, photo(width, height).jpegsave_buffer(Q=90))
    data = master.read_bytes()
    paths = []
    for i in range(copies):
        path = work / "images" / "copies" / f"photo-{i}.jpg"
        comment = f"imagegate bench copy {i}".encode()
        copy = data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]
        if not path.exists() or path.stat().st_size != len(copy):
            _write(path, copy)
        paths.append(path)
    return paths
