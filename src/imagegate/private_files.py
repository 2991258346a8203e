"""Owner-only files and directories: what imagegate keeps on disk is for its owner alone.

The store holds signing keys (in the clear unless ``IMAGEGATE_MASTER_KEY`` is set), token
hashes, sessions, originals and renders, so nothing in it is for other users of the machine.
Every directory imagegate creates is ``0700`` and every file ``0600`` (the umask can only take
bits away from these, never add them). SQLite gives its ``-wal``, ``-shm`` and ``-journal``
files the mode of the database file, so creating that file ``0600`` first covers them.
The ``imagegate`` command also sets the umask to ``077`` (:data:`UMASK`), so whatever else a
command or its workers write is private too.

A store made before this is reported by ``imagegate doctor`` (:func:`loose_modes`), never
changed behind its owner's back.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077
#: Permission bits that let anyone but the owner in.
OTHERS = 0o077


def make_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents, each new one ``0700``; directories that
    already exist keep their mode. Raises ``FileExistsError`` if ``path`` is a file."""
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise
        return
    except FileNotFoundError:
        if path.parent == path:
            raise
        make_dirs(path.parent)
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:  # made meanwhile by another process
            return
    os.chmod(path, DIR_MODE)  # exactly 0700, whatever the umask took away


def create_file(path: Path) -> None:
    """Create ``path`` empty and ``0600`` if it does not exist; an existing file is left
    as it is (its contents and its mode)."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, which ends up ``0600`` even if it existed before."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def loose_modes(root: Path) -> Iterator[tuple[Path, int]]:
    """Every directory and file at or under ``root`` (symbolic links not followed) whose
    mode lets anyone but the owner in, with its permission bits."""
    try:
        mode = os.lstat(root).st_mode
    except FileNotFoundError:
        return
    if mode & OTHERS and not stat.S_ISLNK(mode):
        yield root, stat.S_IMODE(mode)
    if not stat.S_ISDIR(mode):
        return
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for name in (*dirnames, *filenames):
            path = base / name
            try:
                mode = os.lstat(path).st_mode
            except OSError:  # removed meanwhile
                continue
            if mode & OTHERS and not stat.S_ISLNK(mode):
                yield path, stat.S_IMODE(mode)
