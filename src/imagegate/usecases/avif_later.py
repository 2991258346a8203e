"""AVIF encodes put off to the background, so that no visitor waits for one.

When ``Accept`` negotiates AVIF and that variant's AVIF is in no cache, delivery answers at
once with its stand-in (WebP, or what the client takes instead) and hands the AVIF's plan
to :class:`AvifLater`, which encodes it later; the next request finds it in the caches.

Lower in every way than a visitor's render:

* **Its own thread**, one per process, at the lowest CPU priority the system gives
  (``nice`` 19 on Linux): it never holds one of the render slots
  (:class:`~imagegate.usecases.offload.Offload`), and where it competes with renders for a
  core, the renders win.
* **Shed first.** While any visitor's render is waiting for a slot, an encode is not taken
  in, and one that was waiting is dropped instead of started. A dropped encode costs
  nothing but a later visitor getting the stand-in again (and offering it again).
* **Bounded.** At most ``max_pending`` encodes wait; past that, offers are dropped.
* **Single-flight.** An encode waiting or running for a cache key is not offered twice.

Whatever it makes goes where a render's bytes go (memory, the local cache, the shared
tier), under the plan's cache key: a digest of everything that shapes the bytes, so an
encode that finishes after its image or variant changed is never served for the new one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from imagegate.core.errors import ImagegateError
from imagegate.usecases.planning import Plan
from imagegate.usecases.records import CacheKey

log = logging.getLogger("imagegate.avif_later")

#: Encodes that may wait, per process.
MAX_PENDING = 64
#: The CPU priority of the encoding thread (Linux: a thread's own nice value).
NICE = 19


class AvifLater:
    def __init__(
        self,
        encode: Callable[[Plan], Any],
        *,
        busy: Callable[[], bool],
        max_pending: int = MAX_PENDING,
    ) -> None:
        """``encode`` renders a plan into the caches (blocking); ``busy`` says whether
        visitors' renders are waiting for a slot (then encodes are shed)."""
        self._encode = encode
        self._busy = busy
        self.max_pending = max_pending
        self._queue: deque[Plan] = deque()
        self._keys: set[CacheKey] = set()  # waiting or running
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self.offered = 0  # taken in
        self.done = 0  # encoded into the caches
        self.shed = 0  # left undone: renders were waiting, or the queue was full
        self.failed = 0  # the encode failed (the image went, a render error)

    def offer(self, plan: Plan) -> bool:
        """Take ``plan``'s encode in, unless it is already in or must be shed; whether it
        is in now. Never blocks (called on the event loop)."""
        with self._lock:
            if plan.key in self._keys:
                return True
            if len(self._queue) >= self.max_pending or self._busy():
                self.shed += 1
                return False
            self._queue.append(plan)
            self._keys.add(plan.key)
            self.offered += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="imagegate-avif-later", daemon=True
                )
                self._thread.start()
            self._wake.notify()
            return True

    def pending(self, key: CacheKey) -> bool:
        """Whether an encode for ``key`` waits or runs."""
        return key in self._keys

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until nothing waits or runs (tests, benchmarks); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._keys:
                return True
            time.sleep(0.01)
        return not self._keys

    def _work(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # no per-thread nice here
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        while True:
            with self._lock:
                while not self._queue:
                    self._wake.wait()
                plan = self._queue.popleft()
            outcome = "done"
            try:
                if self._busy():
                    outcome = "shed"
                else:
                    self._encode(plan)
            except ImagegateError as exc:
                outcome = "failed"
                log.info("background AVIF encode failed: %s", type(exc).__name__)
            except Exception:  # a bug must not stop the thread for the process's life
                outcome = "failed"
                log.exception("background AVIF encode failed")
            finally:
                with self._lock:
                    self._keys.discard(plan.key)
                    setattr(self, outcome, getattr(self, outcome) + 1)
