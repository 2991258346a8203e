"""One atomic file write, for every file imagegate keeps on local disk (originals and
rendered variants): a temporary file beside the target, written in full, fsynced, renamed
over the target, and the directory fsynced. After a crash the name holds its old bytes,
its new bytes, or nothing; a leftover temporary file (``.<name>.<random>.tmp``) is never a
key, and :func:`is_temporary` tells it apart for the sweeps that remove it."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

from imagegate.core.errors import StorageError, StorageFull
from imagegate.private_files import FILE_MODE, make_dirs

TEMP_SUFFIX = ".tmp"


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (mode 0600, its missing directories 0700) so that no
    reader ever sees part of it. Raises ``StorageFull`` when the disk or quota is full and
    ``StorageError`` on any other failure, leaving nothing behind."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
    try:
        make_dirs(path.parent)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull() from None
        raise StorageError() from None


def is_temporary(name: str) -> bool:
    """Whether a file name is one of :func:`write_atomically`'s temporary files."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
