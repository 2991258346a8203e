"""Sign delivery paths with the seed's Worker, run in workerd (Cloudflare's runtime) via Miniflare.

Miniflare ships the workerd binary; it is installed with npm, at a pinned version, into the
project's git-ignored ``.cache/npm`` folder (see :mod:`nodejs`). ``interop/run-worker.mjs`` and
``interop/worker.js`` (the seed's Worker, unchanged) come from the shared reference folder: the
Worker tests are the only ones that need it, and they skip without it (fail when ``CI`` is set).
"""

from __future__ import annotations

import os
import subprocess

from nodejs import NpmPackage, require_node, require_package, require_shared

__all__ = ["MINIFLARE", "sign_with_worker"]

# The newest Miniflare 4 that still supports Node 20 (later ones declare node >= 22).
MINIFLARE = NpmPackage("miniflare", "4.20260426.0", needs=("workerd",))
RUN_TIMEOUT = 180.0


def sign_with_worker(key: str, paths: list[str]) -> list[str]:
    """Have the seed's Worker sign each delivery path; return the signed path+query lines.

    Each path looks like ``/<account_hash>/<image_id>/<variant>``; the Worker sets
    ``exp`` to now + 1 day. The key goes to the Worker as its ``IMAGES_SIGNING_KEY``.
    Skips the calling test (fails it in CI) when the shared folder, node, npm or the npm
    registry is missing.
    """
    for path in paths:
        if not path.startswith("/") or "\n" in path or "\r" in path:
            raise ValueError(f"not a single-line delivery path: {path!r}")
    if not paths:
        return []
    script = require_shared("interop/run-worker.mjs")
    require_shared("interop/worker.js")
    node = require_node()
    directory = require_package(MINIFLARE)
    result = subprocess.run(
        [node, str(script), key],
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
