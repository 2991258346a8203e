"""Rendered variants on local disk, bounded in size, least recently used out first.

Entries live at ``<root>/<account>/<image digest>/<variant>--<key digest>.<ext>``, so an
image's entries are one directory (purged when the image goes) and a variant's entries share
a name prefix (purged when the variant changes). Files are written like originals: temporary
file, fsync, rename. The size bound is kept per process from a scan at start plus what the
process writes; when it is passed, the oldest entries (by modification time, which a hit
refreshes) are removed until the cache is under 90% of the bound. Directories are ``0700``
and files ``0600`` (:mod:`imagegate.private_files`): a render of a private image is as
private as its original.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from pathlib import Path

from imagegate.adapters.storage.atomic import is_temporary, write_atomically
from imagegate.core.errors import StorageError
from imagegate.private_files import make_dirs
from imagegate.usecases.records import CacheKey


class LocalVariantCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root.resolve()
        self.max_bytes = max_bytes
        make_dirs(self.root)
        self._lock = threading.Lock()
        self._size = sum(size for _, size, _ in self._entries())

    def _path(self, key: CacheKey) -> Path:
        return (
            self.root
            / key.account_id
            / key.image_digest
            / f"{key.variant}--{key.digest}.{key.format.value}"
        )

    def get(self, key: CacheKey) -> bytes | None:
        if self.max_bytes <= 0:
            return None
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            raise StorageError() from None
        with contextlib.suppress(OSError):
            os.utime(path)  # a hit makes the entry young again
        return data

    def put(self, key: CacheKey, data: bytes) -> None:
        if self.max_bytes <= 0 or len(data) > self.max_bytes // 4:
            return
        write_atomically(self._path(key), data)  # StorageFull/StorageError: never fatal
        with self._lock:
            self._size += len(data)
            over = self._size > self.max_bytes
        if over:
            self.evict()

    def evict(self) -> None:
        """Remove the least recently used entries until under 90% of the bound."""
        entries = sorted(self._entries(), key=lambda e: e[2])
        total = sum(size for _, size, _ in entries)
        target = int(self.max_bytes * 0.9)
        for path, size, _ in entries:
            if total <= target:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
        with self._lock:
            self._size = total

    def purge_image(self, account_id: str, image_digest: str) -> None:
        shutil.rmtree(self.root / account_id / image_digest, ignore_errors=True)

    def purge_variant(self, account_id: str, variant: str) -> None:
        account_dir = self.root / account_id
        if account_dir.is_dir():
            for path in account_dir.glob(f"*/{variant}--*"):
                with contextlib.suppress(OSError):
                    path.unlink()

    def _entries(self) -> list[tuple[Path, int, float]]:
        found = []
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                path = Path(dirpath) / name
                try:
                    stat = path.stat()
                except OSError:
                    continue
                if is_temporary(name):
                    if stat.st_mtime < time.time() - 3600:  # left by a crash, not in flight
                        with contextlib.suppress(OSError):
                            path.unlink()
                    continue
                found.append((path, stat.st_size, stat.st_mtime))
        return found

    @property
    def size(self) -> int:
        return self._size
