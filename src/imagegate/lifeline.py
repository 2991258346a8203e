"""A server worker never outlives the ``imagegate serve`` process that started it.

granian's workers are child processes that share the listening socket. If the main process
is killed outright (``SIGKILL``, the OOM killer), nothing tells them, and they would go on
answering the port on their own, unsupervised. On Linux each worker asks the kernel to
``SIGKILL`` it the moment its parent dies (``prctl(PR_SET_PDEATHSIG)``): immediate, no
thread, no polling. ``SIGKILL`` rather than ``SIGTERM`` because there is no one left to drain
for, and a worker must stop answering at once, not after its graceful timeout. Elsewhere a
thread watches the parent's pid twice a second.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time

log = logging.getLogger("imagegate")

PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 0.5


def die_with_parent() -> None:
    """Make this worker process end when its parent does. Only a worker (a process that
    ``multiprocessing`` started, as granian does): a server run as one plain process
    keeps the usual behaviour of outliving the shell that started it."""
    spawner = multiprocessing.parent_process()
    if spawner is None or spawner.pid is None:
        return
    parent = spawner.pid  # not os.getppid(): the parent may have died already
    if sys.platform.startswith("linux") and _pdeathsig():
        if os.getppid() != parent:  # the parent died before the kernel was told
            os.kill(os.getpid(), signal.SIGKILL)
        return
    threading.Thread(target=_watch, args=(parent,), name="imagegate-lifeline", daemon=True).start()


def _pdeathsig() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    log.error("the serving process is gone: this worker stops")
    os.kill(os.getpid(), signal.SIGKILL)
