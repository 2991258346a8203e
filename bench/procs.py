"""Servers the harness starts, and the memory of their process trees.

Every server runs in its own session (process group), so stopping it reaches the workers it
forked too. :func:`stop_all` is called from ``run.py``'s ``finally``: nothing outlives a run,
even a failed or interrupted one.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_RUNNING: list[Server] = []
_PR_SET_PDEATHSIG = 1
_prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)  # resolved before any fork


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the harness dies, even by SIGKILL."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    argv: Sequence[str]
    port: int
    log_path: Path
    env: Mapping[str, str] | None = None
    ready_path: str = "/"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **(self.env or {})}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        _RUNNING.append(self)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = self.base + self.ready_path
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                    if response.status < 500:
                        return
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if self in _RUNNING:
            _RUNNING.remove(self)
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Workers of a server whose main process already exited may linger in the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()


def check_running() -> None:
    """Raise if a server the harness started has exited: a figure measured against a dead
    server means nothing, and on a shared machine something else may have killed it."""
    for server in _RUNNING:
        code = server.proc.poll() if server.proc is not None else None
        if code is not None:
            how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
            raise RuntimeError(f"{server.name} has stopped ({how}); see {server.log_path}")


# --- Memory of a process tree -----------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: split after the last ')'.
        ppid = int(stat.rpartition(")")[2].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_pids(root: int) -> list[int]:
    tree = _children()
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(tree.get(pid, ()))
    return pids


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """Sums VmRSS over a process and its descendants every ``interval`` seconds, in a thread.

    The sum counts pages the workers share with their parent once per process, so it is an
    upper bound of what the tree really holds. The tree is re-read every 10 samples (half a
    second), so a worker that starts late is seen without scanning /proc at every sample.
    """

    def __init__(self, root: int, interval: float = 0.05) -> None:
        self.root = root
        self.interval = interval
        self.peak_kb = 0
        self.samples = 0
        self.max_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pids: list[int] = []
        while not self._stop.is_set():
            if self.samples % 10 == 0:
                pids = tree_pids(self.root)
                self.max_processes = max(self.max_processes, len(pids))
            total = sum(rss_kb(pid) for pid in pids)
            self.peak_kb = max(self.peak_kb, total)
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


def tree_rss_mb(root: int) -> float:
    return sum(rss_kb(pid) for pid in tree_pids(root)) / 1024


# --- CPU used by everything else on the machine -----------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def _tree_jiffies(root: int) -> int:
    total = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def _own_jiffies() -> float:
    """This process and the children it has waited for (wrk, the pyvips reference)."""
    me = os.times()
    return (me.user + me.system + me.children_user + me.children_system) * _TICKS


class CpuWatch:
    """CPU time used while it is open: by each server's process tree (``roots``: their main
    processes), by the harness with the children it waited for (wrk, the pyvips reference),
    and by everything else on the machine. On a shared machine the last one says whether a
    run can be trusted; the others give CPU per request, which others' load disturbs less
    than requests per second."""

    def __init__(self, roots: Sequence[int] = ()) -> None:
        self.roots = list(roots)
        self.server_seconds: dict[int, float] = {}
        self.own_seconds = 0.0
        self.foreign_cores = 0.0

    def __enter__(self) -> CpuWatch:
        self._trees = {root: _tree_jiffies(root) for root in self.roots}
        self._own = _own_jiffies()
        self._busy = _machine_jiffies()[0]
        self._clock = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        busy = _machine_jiffies()[0] - self._busy
        seconds = max(time.monotonic() - self._clock, 1e-3)
        trees = {root: _tree_jiffies(root) - start for root, start in self._trees.items()}
        own = _own_jiffies() - self._own
        self.server_seconds = {root: jiffies / _TICKS for root, jiffies in trees.items()}
        self.own_seconds = own / _TICKS
        self.foreign_cores = max(0.0, (busy - sum(trees.values()) - own) / _TICKS / seconds)
