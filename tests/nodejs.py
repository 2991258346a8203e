"""Node.js in the tests: the project's reference signer, npm packages, and the shared folder.

* ``tests/interop/sign.mjs`` is the project's reference signer in JavaScript (the seed's steps:
  WHATWG ``URL`` and ``URLSearchParams``, HMAC-SHA256 through WebCrypto) and
  ``tests/interop/vectors.jsonl`` the vectors it made. Both are in the repository, so a plain
  clone tests itself.
* npm packages (the ``cloudflare`` SDK, Miniflare) are installed on first use, each at a pinned
  version, into the git-ignored ``.cache/npm/<name>@<version>`` folder; a lock keeps parallel
  test processes from installing the same package twice.
* The ``shared`` reference folder beside the project (``IMAGEGATE_SHARED_DIR`` names another)
  is read only by the tests that run the seed's unchanged Worker and by the test that checks
  the project's vectors against the shared ones.

What a machine lacks (node, npm, the npm registry, the shared folder) skips the tests that need
it, with the reason, unless ``CI`` is set: CI has all of it, so there the same tests fail.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
INTEROP_DIR = PROJECT_ROOT / "tests" / "interop"
SIGN_MJS = INTEROP_DIR / "sign.mjs"
VECTORS_FILE = INTEROP_DIR / "vectors.jsonl"
NPM_CACHE = PROJECT_ROOT / ".cache" / "npm"
INSTALL_TIMEOUT = 900.0

_FALSE = frozenset({"", "0", "false", "no", "off"})

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


class NodeUnavailable(RuntimeError):
    """node or npm is missing, or the npm registry cannot be reached."""


def in_ci() -> bool:
    """True when ``CI`` is set to anything but an empty or false-looking value."""
    return os.environ.get("CI", "").strip().lower() not in _FALSE


def unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``; fail it instead when ``CI`` is set."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this test must run)", pytrace=False)
    pytest.skip(reason)


def require_node() -> str:
    """The path of ``node``, or :func:`unavailable`."""
    found = shutil.which("node")
    if found is None:
        unavailable("node is not on PATH, so the JavaScript clients and signers cannot run")
    return found


# --- the project's signer and vectors --------------------------------------------------------


def load_vectors(path: Path = VECTORS_FILE) -> list[dict[str, Any]]:
    """Each line of a vectors file: ``{"url", "key", "exp", "signed"}``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def run_signer(
    requests: Sequence[tuple[str, str, int]], script: Path = SIGN_MJS
) -> list[dict[str, Any]]:
    """Sign each ``(url, key, exp)`` with a JavaScript signer's ``--jsonl`` mode, in one run."""
    return sign_jsonl(
        "".join(json.dumps({"url": u, "key": k, "exp": e}) + "\n" for u, k, e in requests),
        script,
    )


def sign_jsonl(lines: str, script: Path = SIGN_MJS) -> list[dict[str, Any]]:
    """Feed ``lines`` (JSON objects with ``url``, ``key`` and ``exp``) to ``script --jsonl``."""
    outputs = [json.loads(line) for line in signer_output(lines, script).splitlines()]
    assert len(outputs) == len([line for line in lines.splitlines() if line.strip()]), outputs
    return outputs


def signer_output(lines: str, script: Path = SIGN_MJS) -> str:
    """What ``script --jsonl`` writes for ``lines``, exactly."""
    node = require_node()
    done = subprocess.run(
        [node, str(script), "--jsonl"],
        input=lines,
        capture_output=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{script.name} exited with {done.returncode}:\n{done.stderr}"
    return done.stdout


# --- the shared reference folder -------------------------------------------------------------


def shared_dir() -> Path:
    return Path(os.environ.get("IMAGEGATE_SHARED_DIR") or PROJECT_ROOT.parent / "shared")


def require_shared(relative: str) -> Path:
    """``relative`` inside the shared reference folder, or :func:`unavailable`."""
    path = shared_dir() / relative
    if not path.is_file():
        named = os.environ.get("IMAGEGATE_SHARED_DIR")
        where = (
            f"IMAGEGATE_SHARED_DIR={named} holds no {relative}"
            if named
            else "no shared reference folder beside the project (IMAGEGATE_SHARED_DIR names one)"
        )
        unavailable(f"{path} not found: {where}")
    return path


# --- npm packages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NpmPackage:
    """One npm package at one exact version, with the dependencies that must come with it."""

    name: str
    version: str
    needs: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def directory(self) -> Path:
        return NPM_CACHE / self.spec

    def installed(self) -> bool:
        modules = self.directory / "node_modules"
        manifest = modules / self.name / "package.json"
        if not manifest.is_file():
            return False
        if json.loads(manifest.read_text(encoding="utf-8")).get("version") != self.version:
            return False
        return all((modules / need / "package.json").is_file() for need in self.needs)


def _summary(npm_output: str) -> str:
    """The lines of an npm failure that say why (its error code), else its last lines."""
    lines = npm_output.splitlines()
    keys = ("error code", "error errno", "error network", "error syscall", "error reason")
    reasons = [line for line in lines if any(key in line for key in keys)]
    return "\n".join(reasons[:5] or lines[-8:])


def ensure_package(package: NpmPackage) -> Path:
    """Install ``package`` into its cache folder unless it is there; return that folder.

    Safe to call from several test processes at once. Raises :class:`NodeUnavailable` when
    node or npm is missing or npm cannot reach its registry, and :class:`RuntimeError` when
    npm fails for any other reason.
    """
    if package.installed():
        return package.directory
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise NodeUnavailable(f"{tool} is not on PATH")
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    with open(NPM_CACHE / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if package.installed():
            return package.directory
        package.directory.mkdir(parents=True, exist_ok=True)
        command = [
            "npm",
            "install",
            "--prefix",
            str(package.directory),
            package.spec,
            "--save-exact",
            "--no-audit",
            "--no-fund",
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise NodeUnavailable(
                f"npm install {package.spec} timed out after {INSTALL_TIMEOUT:.0f} s"
            ) from exc
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            tail = _summary(output)
            if any(marker.lower() in output.lower() for marker in _NETWORK_MARKERS):
                raise NodeUnavailable(
                    f"npm install {package.spec} could not reach the registry:\n{tail}"
                )
            raise RuntimeError(f"npm install {package.spec} failed:\n{tail}")
        if not package.installed():
            raise RuntimeError(f"npm install {package.spec} left no {package.name} behind")
    return package.directory


def require_package(package: NpmPackage) -> Path:
    """:func:`ensure_package`, or :func:`unavailable` when node, npm or the registry is
    missing (tried once per test process: a registry that is down costs one timeout)."""
    reason = _install_problem(package)
    if reason is not None:
        unavailable(f"{package.spec} cannot be installed: {reason}")
    return package.directory


@functools.cache
def _install_problem(package: NpmPackage) -> str | None:
    try:
        ensure_package(package)
    except NodeUnavailable as exc:
        return str(exc)
    return None
