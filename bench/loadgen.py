"""Load generators, both closed-loop with an exact concurrency and a hard time bound.

- :func:`wrk` for throughput: C, cheap per request, so on a 2-core machine it takes as little
  CPU as possible from the server it measures. ``-c N`` keeps exactly N connections, each with
  one request in flight; a small Lua script can give each connection its own share of a list
  of paths. It only counts non-2xx/3xx responses, so the figure kept is the rate of successful
  responses, and every target is checked once by hand before it is loaded.
- :func:`closed_loop` for the overload runs: a small asyncio HTTP/1.1 client (one keep-alive
  connection per virtual user) that counts every status and whether each 503 carries
  ``Retry-After``. It stops at a deadline or a request count, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    latency_avg_ms: float
    latency_p99_ms: float

    @property
    def ok_rps(self) -> float:
        """Successful responses per second (wrk's own figure counts errors too)."""
        return (self.requests - self.non_2xx) / self.seconds if self.seconds else 0.0


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    done = re.search(r"(\d+) requests in ([\d.]+\w+),", output)
    if not done:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    latency = re.search(r"Latency\s+([\d.]+\w+)", output)
    p99 = re.search(r"99%\s+([\d.]+\w+)", output)
    return WrkResult(
        requests=int(done.group(1)),
        seconds=_seconds(done.group(2)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
        latency_avg_ms=_seconds(latency.group(1)) * 1e3 if latency else 0.0,
        latency_p99_ms=_seconds(p99.group(1)) * 1e3 if p99 else 0.0,
    )


_PARTITION_LUA = """\
-- Thread i of n cycles through paths i, i+n, i+2n...: with one connection per thread, no
-- two requests in flight ever ask for the same path.
local paths = {%s}
local count = 0
function setup(thread)
  thread:set("id", count)
  count = count + 1
end
function init(args)
  local n = tonumber(args[1])
  mine, next = {}, 0
  for i = 1, #paths do
    if (i - 1) %% n == id then mine[#mine + 1] = paths[i] end
  end
end
function request()
  next = next %% #mine + 1
  return wrk.format(nil, mine[next])
end
"""


def wrk(
    origin: str,
    paths: list[str],
    *,
    connections: int,
    seconds: float,
    threads: int | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> WrkResult:
    """One wrk run against ``origin`` (``http://127.0.0.1:port``).

    One path: every request asks for it, over ``threads`` threads. Several: one thread per
    connection, each cycling through its own share of ``paths`` (see the script above).
    """
    if not origin.startswith("http://127.0.0.1:"):
        raise ValueError("load runs only against loopback")
    if len(paths) > 1:
        if len(paths) < connections:
            raise ValueError("partitioned paths need at least one path per connection")
        threads = connections
    threads = min(threads or 2, connections)
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        f"--timeout={timeout:g}s",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        if len(paths) > 1:
            script = Path(tmp) / "partition.lua"
            quoted = ", ".join(json.dumps(path) for path in paths)
            script.write_text(_PARTITION_LUA % quoted)
            argv += ["-s", str(script), origin, "--", str(threads)]
        else:
            argv.append(origin + paths[0])
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + timeout + 20, check=False
        )
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip()
        raise RuntimeError(f"wrk failed (exit status {done.returncode}): {said}")
    return parse_wrk(done.stdout)


# --- An asyncio closed-loop client ------------------------------------------------------------


@dataclass
class LoopResult:
    concurrency: int
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after_missing: int = 0  # 503 responses without a Retry-After header
    errors: Counter[str] = field(default_factory=Counter)  # resets, timeouts...
    latencies_ok: list[float] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def ok_rps(self) -> float:
        return self.statuses[200] / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        """The q-quantile of successful latencies, in seconds."""
        if not self.latencies_ok:
            return 0.0
        ordered = sorted(self.latencies_ok)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _Conn:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, request: bytes) -> tuple[int, dict[bytes, bytes]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head[:-4].split(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers = {}
        for line in lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        if headers.get(b"connection", b"").lower() == b"close":
            await self.close()
        return status, headers

    async def close(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1)


async def closed_loop(
    port: int,
    targets: list[str],
    *,
    concurrency: int,
    seconds: float,
    max_requests: int,
    headers: dict[str, str] | None = None,
    request_timeout: float = 30.0,
) -> LoopResult:
    """``concurrency`` users, each sending its next request as soon as the last one is answered
    (503s included: no pause, the worst case for the server), until ``seconds`` have passed or
    ``max_requests`` were sent. Requests in flight at the deadline are awaited (each bounded by
    ``request_timeout``) and counted. User ``i`` cycles through ``targets[i::concurrency]``
    (paths with their query): with at least as many targets as users, no two requests in
    flight ever ask for the same thing."""
    host = "127.0.0.1"
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    requests = [
        f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode("latin-1")
        for target in targets
    ]
    result = LoopResult(concurrency)
    sent = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def user(index: int) -> None:
        nonlocal sent
        mine = requests[index::concurrency] or [requests[index % len(requests)]]
        conn = _Conn(host, port)
        turn = 0
        try:
            while time.perf_counter() < deadline and sent < max_requests:
                request = mine[turn % len(mine)]
                turn += 1
                sent += 1
                began = time.perf_counter()
                try:
                    status, got = await asyncio.wait_for(conn.get(request), request_timeout)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                    result.errors[type(exc).__name__] += 1
                    await conn.close()
                    continue
                except TimeoutError:
                    result.errors["timeout"] += 1
                    await conn.close()
                    continue
                result.statuses[status] += 1
                if status == 200:
                    result.latencies_ok.append(time.perf_counter() - began)
                elif status == 503 and b"retry-after" not in got:
                    result.retry_after_missing += 1
        finally:
            await conn.close()

    await asyncio.gather(*(user(i) for i in range(concurrency)))
    result.seconds = time.perf_counter() - start
    return result
