"""Sign-in guessing is throttled per client address and per target, with 429 and
Retry-After, and password hashing runs in a small pool of its own: bounded floods against a
real server, and the pure parts table by table."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import httpx
import pytest

from dashboard.helpers import ADMIN_PASSWORD, Browserish, csrf_of, dashboard_server
from harness import Clock, Server
from imagegate.core.errors import SignInBusy, SignInThrottled
from imagegate.web.clients import client_key, parse_proxies
from imagegate.web.dashboard.signin_guard import (
    ADDRESS,
    ADMIN,
    HASH_SLOTS,
    HASH_WAITING,
    MAX_TRACKED,
    TOKEN,
    Budget,
    Budgets,
    SignInGuard,
)

# --- who the client is ------------------------------------------------------------------------

PROXIES = parse_proxies(["127.0.0.1", "10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "expected"),
    [
        ("203.0.113.7", None, (), "203.0.113.7"),
        ("203.0.113.7", "198.51.100.1", (), "203.0.113.7"),  # no trusted proxy: ignored
        ("203.0.113.7", "198.51.100.1", PROXIES, "203.0.113.7"),  # not from a proxy: ignored
        ("127.0.0.1", "198.51.100.1", PROXIES, "198.51.100.1"),
        (
            "127.0.0.1",
            "6.6.6.6, 198.51.100.1",
            PROXIES,
            "198.51.100.1",
        ),  # left part is the client's
        ("127.0.0.1", "198.51.100.1, 10.1.2.3", PROXIES, "198.51.100.1"),  # a chain of proxies
        ("127.0.0.1", "10.9.9.9, 10.1.2.3", PROXIES, "10.9.9.9"),  # all trusted: the leftmost
        ("127.0.0.1", "garbage, 10.1.2.3", PROXIES, "10.1.2.3"),  # a bad hop ends the walk
        ("127.0.0.1", "", PROXIES, "127.0.0.1"),
        ("2001:db8:1:2:3:4:5:6", None, (), "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", None, (), "2001:db8:1:2::/64"),  # same /64, same client
        ("::ffff:203.0.113.7", None, (), "203.0.113.7"),
        ("127.0.0.1", "[2001:db8::1]", PROXIES, "2001:db8::/64"),
        (None, "198.51.100.1", PROXIES, "unknown"),
        ("not an address", None, PROXIES, "unknown"),
    ],
)
def test_client_key(peer: str | None, forwarded: str | None, proxies: tuple, expected: str) -> None:
    assert client_key(peer, forwarded, proxies) == expected


def test_bad_proxy_entries_are_refused() -> None:
    with pytest.raises(ValueError, match=r"not an address or network: 'example\.com'"):
        parse_proxies(["10.0.0.0/8", "example.com"])


# --- budgets ------------------------------------------------------------------------------------


def test_a_budget_spends_a_burst_then_refills_steadily() -> None:
    clock = Clock(1000.0)
    budgets = Budgets(Budget(burst=3, every=10.0), clock)
    for _ in range(3):
        assert budgets.wait("a") == 0
        budgets.spend("a")
    assert budgets.wait("a") == pytest.approx(10.0)
    assert budgets.wait("b") == 0  # another key is untouched
    clock.now += 4
    assert budgets.wait("a") == pytest.approx(6.0)
    clock.now += 6
    assert budgets.wait("a") == 0
    budgets.spend("a")
    assert budgets.wait("a") == pytest.approx(10.0)
    budgets.spend("a", -1.0)  # a refund
    assert budgets.wait("a") == 0
    clock.now += 1000
    assert budgets.spent("a") == 0


def test_budgets_remember_a_bounded_number_of_keys() -> None:
    budgets = Budgets(Budget(burst=2, every=60.0), Clock(1000.0))
    budgets.spend("busy", 2.0)
    for n in range(MAX_TRACKED + 5):
        budgets.spend(f"k{n}", 0.5)
    assert len(budgets._level) <= MAX_TRACKED
    assert budgets.wait("busy") > 0  # the emptiest budgets are the last to be forgotten


def test_the_guard_spends_both_budgets_or_neither() -> None:
    clock = Clock(1000.0)
    guard = SignInGuard(clock)
    for n in range(ADMIN.burst):
        guard.admit(f"10.0.0.{n}", "admin", "admin")
    with pytest.raises(SignInThrottled) as caught:
        guard.admit("10.0.1.1", "admin", "admin")
    assert caught.value.retry_after == ADMIN.every
    assert guard.addresses.spent("10.0.1.1") == 0  # the refused attempt cost its address nothing
    guard.admit("10.0.1.1", "token", "some-token")  # other targets are open
    guard.refund("10.0.0.0", "admin", "admin")
    guard.admit("10.0.1.1", "admin", "admin")


def test_password_hashing_runs_one_at_a_time_and_refuses_past_its_queue() -> None:
    guard = SignInGuard()
    running = peak = 0
    lock = threading.Lock()

    def slow() -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return 1

    outcomes: list[str] = []

    async def attempt() -> None:
        try:
            await guard.hash(slow)
            outcomes.append("hashed")
        except SignInBusy:
            outcomes.append("busy")

    async def flood() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(attempt)

    anyio.run(flood)
    assert peak == HASH_SLOTS
    assert outcomes.count("hashed") == HASH_SLOTS + HASH_WAITING
    assert outcomes.count("busy") == 20 - HASH_SLOTS - HASH_WAITING


# --- floods against a running server -----------------------------------------------------------


def attempt(srv: Server, headers: dict[str, str], **credentials: str) -> httpx.Response:
    """One sign-in the way a browser sends it, from its own client."""
    browser = Browserish(srv)
    browser.origin |= headers
    try:
        return browser.sign_in(**credentials)
    finally:
        browser.close()


def flood(calls: list[Callable[[], httpx.Response]]) -> tuple[list[httpx.Response], float]:
    """The answers, and how long the flood took (budgets refill meanwhile)."""
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda call: call(), calls))
    return answers, time.monotonic() - start


def failures_allowed(answers: list[httpx.Response], budget: Budget, elapsed: float) -> None:
    """As many 401s as the burst, plus what refilled while the flood ran; 429 for the rest."""
    failed = sum(r.status_code == 401 for r in answers)
    assert budget.burst <= failed <= budget.burst + int(elapsed / budget.every), (failed, elapsed)
    assert sum(throttled(r) for r in answers) == len(answers) - failed


def throttled(r: httpx.Response) -> bool:
    if r.status_code != 429:
        return False
    wait = int(r.headers["retry-after"])
    assert 1 <= wait <= max(ADDRESS.every, ADMIN.every, TOKEN.every)
    assert "Too many failed sign-ins" in r.text and r.headers["cache-control"] == "no-store"
    return True


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[Server]:
    """A dashboard server that trusts a proxy on loopback to name the client."""
    with dashboard_server(tmp_path / "data", trusted_proxies="127.0.0.1") as srv:
        yield srv


def test_guesses_from_one_address_are_throttled(dash: Server) -> None:
    answers, elapsed = flood(
        [lambda: attempt(dash, {}, password="wrong guess!") for _ in range(25)]
    )
    failures_allowed(answers, ADDRESS, elapsed)
    # Every way in is closed to that address for now, the right password included...
    assert throttled(attempt(dash, {}, password=ADMIN_PASSWORD))
    assert throttled(attempt(dash, {}, token=dash.api_token))
    # ... and a refusal says when to come back, on a page that still works.
    page = attempt(dash, {}, password=ADMIN_PASSWORD)
    assert csrf_of(page.text) and 'name="password"' in page.text


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(dash: Server) -> None:
    calls = [
        lambda n=n: attempt(dash, {"X-Forwarded-For": f"198.51.100.{n}"}, password="wrong guess!")
        for n in range(15)
    ]
    answers, elapsed = flood(calls)  # type: ignore[arg-type]
    failures_allowed(answers, ADDRESS, elapsed)


def test_a_spread_flood_on_the_password_is_throttled_and_healthz_stays_fast(
    behind_proxy: Server,
) -> None:
    """Guesses from 30 addresses: the admin password's own budget stops them, every refusal
    is a 429 with Retry-After, and /healthz answers quickly all along."""
    srv = behind_proxy
    with httpx.Client(base_url=srv.base_url, timeout=10) as client:
        quiet = []
        for _ in range(10):
            start = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            quiet.append(time.perf_counter() - start)
    latencies: list[float] = []
    done = threading.Event()

    def watch() -> None:
        with httpx.Client(base_url=srv.base_url, timeout=10) as client:
            while not done.is_set():
                start = time.perf_counter()
                assert client.get("/healthz").status_code == 200
                latencies.append(time.perf_counter() - start)
                time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        calls = [
            lambda n=n: attempt(srv, {"X-Forwarded-For": f"198.51.{n}.1"}, password=f"guess {n}!")
            for n in range(30)
        ]
        answers, elapsed = flood(calls)  # type: ignore[arg-type]
    finally:
        done.set()
        watcher.join(timeout=20)
    failures_allowed(answers, ADMIN, elapsed)
    assert len(latencies) >= 5
    # Relative to the same server when quiet, with room for a loaded machine: a flood that
    # took the I/O threads would hold /healthz for whole scrypt queues (seconds).
    assert statistics.median(latencies) < max(0.1, 10 * statistics.median(quiet)), latencies
    assert max(latencies) < 3.0, latencies
    # A token sign-in (another target) from a fresh address still works.
    ok = attempt(srv, {"X-Forwarded-For": "192.0.2.99"}, token=srv.api_token)
    assert ok.status_code == 303


def test_one_token_tried_from_many_addresses_is_throttled(behind_proxy: Server) -> None:
    srv = behind_proxy
    calls = [
        lambda n=n: attempt(srv, {"X-Forwarded-For": f"203.0.{n}.9"}, token="igt_revoked-or-leaked")
        for n in range(TOKEN.burst + 3)
    ]
    answers, elapsed = flood(calls)  # type: ignore[arg-type]
    failures_allowed(answers, TOKEN, elapsed)
    assert attempt(srv, {"X-Forwarded-For": "203.0.200.9"}, token=srv.api_token).status_code == 303


def test_successful_sign_ins_cost_nothing(dash: Server) -> None:
    for _ in range(ADDRESS.burst + 5):
        assert attempt(dash, {}, token=dash.api_token).status_code == 303
    assert attempt(dash, {}, password="wrong guess!").status_code == 401
