"""Sign delivery paths with the seed's Worker, run in workerd (Cloudflare's runtime) via Miniflare.

Miniflare 4 ships the workerd binary. It is installed with npm, once, into the git-ignored
``.cache/miniflare`` folder of the project, and ``interop/run-worker.mjs`` from the shared
reference folder drives it. The shared folder is the project's sibling ``shared`` unless
``IMAGEGATE_SHARED_DIR`` names another.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

__all__ = [
    "MINIFLARE_DIR",
    "SHARED_DIR",
    "WorkerdUnavailable",
    "ensure_miniflare",
    "sign_with_worker",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("IMAGEGATE_SHARED_DIR") or PROJECT_ROOT.parent / "shared")
MINIFLARE_DIR = PROJECT_ROOT / ".cache" / "miniflare"
MINIFLARE_SPEC = "miniflare@4"
INSTALL_TIMEOUT = 900.0
RUN_TIMEOUT = 180.0

# npm error codes and messages that mean the registry could not be reached.
_NETWORK_MARKERS = (
    "ENOTFOUND",
    "EAI_AGAIN",
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "ENETUNREACH",
    "EHOSTUNREACH",
    "ERR_SOCKET_TIMEOUT",
    "network request",
    "getaddrinfo",
    "proxy",
)


class WorkerdUnavailable(RuntimeError):
    """workerd cannot run here: node or npm is missing, or the npm registry is unreachable."""


def _installed(directory: Path) -> bool:
    modules = directory / "node_modules"
    return (modules / "miniflare" / "package.json").is_file() and (
        modules / "workerd" / "package.json"
    ).is_file()


def _summary(npm_output: str) -> str:
    """The lines of an npm failure that say why (its error code), else its last lines."""
    lines = npm_output.splitlines()
    keys = ("error code", "error errno", "error network", "error syscall", "error reason")
    reasons = [line for line in lines if any(key in line for key in keys)]
    return "\n".join(reasons[:5] or lines[-8:])


def ensure_miniflare(directory: Path = MINIFLARE_DIR) -> Path:
    """Install Miniflare 4 into ``directory`` unless it is already there; return ``directory``.

    Safe to call from several test processes at once (an exclusive lock guards the install).
    Raises :class:`WorkerdUnavailable` when node/npm is missing or npm cannot reach its
    registry, and :class:`RuntimeError` when npm fails for any other reason.
    """
    if _installed(directory):
        return directory
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise WorkerdUnavailable(f"{tool} is not on PATH")
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / "miniflare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(directory):
            return directory
        command = [
            "npm",
            "install",
            "--prefix",
            str(directory),
            MINIFLARE_SPEC,
            "--no-audit",
            "--no-fund",
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise WorkerdUnavailable(
                f"npm install {MINIFLARE_SPEC} timed out after {INSTALL_TIMEOUT:.0f} s"
            ) from exc
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            tail = _summary(output)
            if any(marker.lower() in output.lower() for marker in _NETWORK_MARKERS):
                raise WorkerdUnavailable(
                    f"npm install {MINIFLARE_SPEC} could not reach the registry:\n{tail}"
                )
            raise RuntimeError(f"npm install {MINIFLARE_SPEC} failed:\n{tail}")
        if not _installed(directory):
            raise RuntimeError(f"npm install {MINIFLARE_SPEC} left no miniflare in {directory}")
    return directory


def sign_with_worker(key: str, paths: list[str]) -> list[str]:
    """Have the seed's Worker sign each delivery path; return the signed path+query lines.

    Each path looks like ``/<account_hash>/<image_id>/<variant>``; the Worker sets
    ``exp`` to now + 1 day. The key goes to the Worker as its ``IMAGES_SIGNING_KEY``.
    """
    for path in paths:
        if not path.startswith("/") or "\n" in path or "\r" in path:
            raise ValueError(f"not a single-line delivery path: {path!r}")
    if not paths:
        return []
    directory = ensure_miniflare()
    script = SHARED_DIR / "interop" / "run-worker.mjs"
    if not script.is_file():
        raise FileNotFoundError(f"reference Worker runner not found: {script}")
    result = subprocess.run(
        ["node", str(script), key],
        input="".join(f"{path}\n" for path in paths),
        capture_output=True,
        encoding="utf-8",
        env={**os.environ, "MINIFLARE_DIR": str(directory)},
        timeout=RUN_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"run-worker.mjs exited with {result.returncode}:\n{result.stderr}")
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if len(lines) != len(paths):
        raise RuntimeError(
            f"expected {len(paths)} signed paths, got {len(lines)}:\n{result.stdout}"
        )
    for path, line in zip(paths, lines, strict=True):
        if not line.startswith("/") or "&sig=" not in line:
            # The Worker answered with an error, not a signed URL.
            raise RuntimeError(f"the Worker did not sign {path!r}: {line.strip()}")
    return lines
