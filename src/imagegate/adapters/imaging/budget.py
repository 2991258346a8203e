"""A time budget for each render, enforced inside libvips.

libvips computes an image lazily, in a pool of its own threads, when it is finally encoded:
a deadline checked between Python steps would not stop a blur or an encoder half-way. But a
computation stops as soon as ``set_kill`` is set on an image of its pipeline (the first one,
whose pixels every later one pulls; or the one handed to the encoder, which the WebP encoder
checks while it works). So each render registers the images it builds on with a
:class:`Budget`, and one :class:`Watchdog` thread per processor sets ``kill`` on them once
their deadline has passed, again every :data:`RETRY` seconds until the render gives up (libvips
clears the flag when it reports it). The render then fails, and ends in
:class:`~imagegate.core.errors.RenderTimedOut`.

Nothing runs per tile: the watchdog sleeps until the earliest deadline. What libvips cannot
interrupt (GIF quantisation of one frame, an AVIF encode) is bounded by size instead
(:func:`imagegate.core.render_plan.output_pixel_cap`, ``IMAGEGATE_AVIF_MAX_SIDE``).

This module does not import pyvips: it only calls ``set_kill`` on the images it is given.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from imagegate.core.errors import RenderTimedOut

#: Seconds between two kills of a render that is past its deadline and still running.
RETRY = 0.05
#: Seconds the watchdog thread waits for another render before it ends.
IDLE = 2.0


class Budget:
    """The deadline of one render; use it as a context manager (it leaves the watchdog on
    exit). Without a watchdog or with ``seconds`` 0 it never expires."""

    def __init__(
        self,
        seconds: float = 0,
        clock: Callable[[], float] = time.monotonic,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.clock = clock
        self.deadline = clock() + seconds if seconds > 0 and watchdog is not None else None
        self.expired = False
        self._watchdog = watchdog
        self._images: list[Any] = []

    def watch(self, image: Any) -> Any:
        """Register ``image`` to be killed at the deadline, and return it."""
        if self.deadline is not None:
            self._images.append(image)
        return image

    def check(self) -> None:
        """Raise :class:`RenderTimedOut` if the deadline has passed (between steps)."""
        if self.deadline is not None and self.clock() > self.deadline:
            self.expired = True
            raise RenderTimedOut()

    def kill(self) -> None:
        self.expired = True
        for image in list(self._images):
            image.set_kill(True)

    def __enter__(self) -> Budget:
        return self

    def __exit__(
        self,
        _kind: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        if self._watchdog is not None and self.deadline is not None:
            self._watchdog.forget(self)
        self._images.clear()


class Watchdog:
    """One thread that kills the renders past their deadline; it runs while renders have
    one, and ends :data:`IDLE` seconds after the last."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._active: set[Budget] = set()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def budget(self, seconds: float) -> Budget:
        """A budget of ``seconds`` from now (0: none), watched until it is closed."""
        budget = Budget(seconds, self.clock, self)
        if budget.deadline is None:
            return budget
        with self._wake:
            self._active.add(budget)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="imagegate-render-watchdog", daemon=True
                )
                self._thread.start()
            self._wake.notify()
        return budget

    def forget(self, budget: Budget) -> None:
        with self._wake:
            self._active.discard(budget)
            self._wake.notify()

    @property
    def watching(self) -> int:
        return len(self._active)

    def _run(self) -> None:
        with self._wake:
            while True:
                if not self._active:  # idle: linger a while rather than restart per render
                    self._wake.wait(timeout=IDLE)
                    if not self._active:
                        self._thread = None
                        return
                now = self.clock()
                waits = []
                for budget in list(self._active):
                    assert budget.deadline is not None
                    if budget.deadline <= now:
                        budget.kill()
                        waits.append(RETRY)
                    else:
                        waits.append(budget.deadline - now)
                self._wake.wait(timeout=max(0.001, min(waits, default=RETRY)))
