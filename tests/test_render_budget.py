"""render_budget: the watchdog kills a render's images at its deadline, and only then.

Images here are stand-ins that record ``set_kill``: the watchdog calls nothing else on them.
That libvips stops on the flag is tested with real renders in test_imaging.py and over HTTP
in test_render_fairness.py.
"""

from __future__ import annotations

import time

import pytest

from imagegate.adapters.imaging.budget import RETRY, Budget, Watchdog
from imagegate.core.errors import RenderTimedOut


class Image:
    def __init__(self) -> None:
        self.kills: list[float] = []

    def set_kill(self, kill: bool) -> None:
        assert kill is True
        self.kills.append(time.monotonic())


def wait_for(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_a_render_past_its_deadline_is_killed_until_it_gives_up() -> None:
    watchdog = Watchdog()
    started = time.monotonic()
    with watchdog.budget(0.1) as budget:
        first, second = budget.watch(Image()), budget.watch(Image())
        wait_for(lambda: len(first.kills) >= 3)  # killed again and again: libvips clears it
        assert budget.expired and second.kills
        assert first.kills[0] - started >= 0.1
        assert first.kills[1] - first.kills[0] >= RETRY * 0.5
        with pytest.raises(RenderTimedOut):
            budget.check()
    assert watchdog.watching == 0
    kills = len(first.kills)
    time.sleep(RETRY * 3)
    assert len(first.kills) == kills  # closed: left alone


def test_a_render_on_time_is_never_touched() -> None:
    watchdog = Watchdog()
    with watchdog.budget(5) as budget:
        image = budget.watch(Image())
        budget.check()
    time.sleep(RETRY * 2)
    assert image.kills == [] and not budget.expired and watchdog.watching == 0


def test_many_renders_each_killed_at_its_own_deadline() -> None:
    watchdog = Watchdog()
    budgets = [watchdog.budget(seconds) for seconds in (0.05, 0.3, 30)]
    images = [budget.watch(Image()) for budget in budgets]
    wait_for(lambda: bool(images[1].kills))
    assert images[0].kills and images[0].kills[0] < images[1].kills[0]
    assert images[2].kills == []
    for budget in budgets:
        budget.__exit__(None, None, None)
    assert watchdog.watching == 0


@pytest.mark.parametrize("seconds", [0, -1])
def test_no_deadline_means_none(seconds: float) -> None:
    watchdog = Watchdog()
    with watchdog.budget(seconds) as budget:
        assert budget.deadline is None and watchdog.watching == 0
        budget.check()
    assert Budget(10).deadline is None  # without a watchdog nothing could enforce one
