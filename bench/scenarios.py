"""The comparisons. Each starts the servers it needs, checks by hand that every target answers
with the expected image, then loads them one at a time, alternating, and keeps medians.

imagegate shares one render among concurrent requests for the same variant, so the cold
runs never ask for the same thing twice at once: the store holds several byte-distinct
copies of the photo (and, for the memory runs, several variant widths), and each connection
cycles through its own share of them. The references get the same copies.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import loadgen
import servers
from procs import CpuWatch, RssSampler, Server, check_running, tree_rss_mb
from report import Memory, Ratio
from servers import Account

Log = Callable[[str], None]
Outcome = tuple[list[Ratio], list[Memory]]

VARIANT = "w800"
VARIANT_OPTIONS: dict[str, object] = {
    "fit": "scale-down",
    "width": 800,
    "height": 12000,
    "metadata": "none",
}
ACCEPT_JPEG = {"Accept": "image/jpeg"}  # output stays JPEG: like for like with the references
# A fresh connection per cold request lets an idle worker of a multi-process server (thumbor's
# single-threaded processes especially) pick it up; a 12 MP render dwarfs a loopback connect.
COLD_HEADERS = {**ACCEPT_JPEG, "Connection": "close"}
CACHES_OFF = {"IMAGEGATE_VARIANT_CACHE_BYTES": "0", "IMAGEGATE_MEMORY_CACHE_BYTES": "0"}
DIRECT = Path(__file__).with_name("direct_pyvips.py")
NOISY_CORES = 0.15  # other processes using more CPU than this during a run: flag it


@dataclass
class Plan:
    """Durations and concurrency; ``run.py`` fills them from the command line."""

    seconds: float = 8.0  # one measured throughput run
    warmup: float = 2.0
    cached_rounds: int = 3
    cold_rounds: int = 2
    cached_connections: int = 64
    cold_concurrency: int = 4
    memory_seconds: float = 10.0
    memory_levels: tuple[int, ...] = (8, 200)
    memory_max_requests: int = 50_000
    copies: int = 8  # byte-distinct copies of the photo
    memory_widths: int = 32  # variants of 800, 799... px: copies x widths distinct renders


@dataclass
class Context:
    work: Path
    nginx: str
    thumbor: Path
    photos: list[Path]
    cpus: int
    plan: Plan
    data_dir: Path | None = None
    account: Account | None = None
    image_ids: list[str] = field(default_factory=list)

    @property
    def workers(self) -> int:
        return self.cpus

    @property
    def wrk_threads(self) -> int:
        """Load generator threads for the cached runs: 2 on a 2-core machine."""
        return max(2, self.cpus // 2)

    def signed(self, image_id: str, variant: str = VARIANT) -> str:
        assert self.account is not None
        return servers.signed_path(self.account, image_id, variant)


def _memory_variants(plan: Plan) -> dict[str, int]:
    return {f"m{800 - i}": 800 - i for i in range(plan.memory_widths)}


def prepare_store(ctx: Context) -> None:
    """A fresh imagegate store: the copies of the photo as private images, the ``w800``
    variant, and the narrower variants the memory runs use."""
    ctx.data_dir = ctx.work / "imagegate-data"
    ctx.account = servers.imagegate_init(ctx.data_dir)
    ctx.image_ids = [f"bench-photo-{i}" for i in range(len(ctx.photos))]
    with servers.start_imagegate(ctx.work, ctx.data_dir, workers=1, env={}, label="setup") as s:
        for image_id, photo in zip(ctx.image_ids, ctx.photos, strict=True):
            servers.upload_private(s.base, ctx.account, photo, image_id)
        servers.create_variant(s.base, ctx.account, VARIANT, VARIANT_OPTIONS)
        for name, width in _memory_variants(ctx.plan).items():
            servers.create_variant(s.base, ctx.account, name, {**VARIANT_OPTIONS, "width": width})


def _imagegate(ctx: Context, label: str, env: dict[str, str]) -> Server:
    assert ctx.data_dir is not None
    return servers.start_imagegate(
        ctx.work, ctx.data_dir, workers=ctx.workers, env=env, label=label
    )


@dataclass(frozen=True)
class Run:
    """One measured run: its rate, how many answers, and the CPU they took."""

    rps: float
    count: int
    cpu_seconds: float | None = None  # known by the runner (in-process reference) or None


@dataclass
class Side:
    run: Callable[[], Run]
    server: int | None = None  # main pid of the server measured: its tree's CPU is the cost


@dataclass
class Series:
    """The runs of one side of a comparison."""

    rps: list[float] = field(default_factory=list)
    foreign: list[float] = field(default_factory=list)  # other processes' CPU, in cores
    cpu_ms: list[float] = field(default_factory=list)  # CPU per answer

    @property
    def median(self) -> float:
        return statistics.median(self.rps)

    def spread(self) -> str:
        return " / ".join(f"{v:,.0f}" if v >= 100 else f"{v:.1f}" for v in self.rps)

    def cpu(self) -> str:
        """Median CPU per answer, in ms or us."""
        if not self.cpu_ms:
            return "?"
        ms = statistics.median(self.cpu_ms)
        return f"{ms:.1f} ms" if ms >= 1 else f"{ms * 1e3:.0f} us"


def _measure(side: Side, roots: list[int]) -> tuple[Run, CpuWatch]:
    check_running()
    with CpuWatch(roots) as watch:
        run = side.run()
    check_running()
    return run, watch


def _alternate(
    rounds: int, sides: dict[str, Side], roots: list[int], log: Log
) -> dict[str, Series]:
    """Run each side once per round, rotating the order every round (A B C, B C A, ...), so
    that drift in the machine's speed falls on every side alike. ``roots``: every server
    running, so that an idle one is not counted as someone else's load."""
    names = list(sides)
    series = {name: Series() for name in names}
    for i in range(rounds):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            run, watch = _measure(sides[name], roots)
            _record(series[name], sides[name], run, watch)
            log(
                f"    round {i + 1}: {name:<16} {run.rps:10.1f} req/s, "
                f"{series[name].cpu_ms[-1]:8.3f} ms CPU each "
                f"(other processes: {watch.foreign_cores:.2f} cores)"
            )
    return series


def _record(series: Series, side: Side, run: Run, watch: CpuWatch) -> None:
    series.rps.append(run.rps)
    series.foreign.append(watch.foreign_cores)
    cpu = watch.server_seconds.get(side.server, 0.0) if side.server else run.cpu_seconds
    if cpu is not None and run.count:
        series.cpu_ms.append(cpu / run.count * 1e3)


def _noise_note(series: dict[str, Series]) -> str:
    worst = max((f for s in series.values() for f in s.foreign), default=0.0)
    note = f"CPU used by other processes during these runs: up to {worst:.2f} cores"
    if worst > NOISY_CORES:
        note += " -- the machine was not quiet, treat these figures with care"
    return note


# --- 1. A cached variant of a private image vs nginx serving the same bytes ---------------------


def cached_vs_nginx(ctx: Context, log: Log) -> Outcome:
    plan = ctx.plan
    target = ctx.signed(ctx.image_ids[0])
    notes: list[str] = []
    latency: dict[str, list[float]] = defaultdict(list)
    with _imagegate(ctx, "cached", {}) as gate, httpx.Client() as client:
        started = time.perf_counter()
        data, width, height = servers.fetch_image(gate.base + target, ACCEPT_JPEG, client)
        first_ms = (time.perf_counter() - started) * 1e3
        warm_ms = []
        for _ in range(4 * ctx.workers):  # new connections: every worker gets to see it
            started = time.perf_counter()
            again, _, _ = servers.fetch_image(gate.base + target, COLD_HEADERS, client)
            warm_ms.append((time.perf_counter() - started) * 1e3)
            if again != data:
                raise RuntimeError("the cached variant changed between two requests")
        unsigned = httpx.get(gate.base + target.split("?", 1)[0], headers=ACCEPT_JPEG, timeout=30)
        if unsigned.status_code not in (401, 403):
            raise RuntimeError(f"unsigned URL of a private image gave {unsigned.status_code}")

        with (
            servers.start_nginx(
                ctx.nginx, ctx.work, {"variant.jpg": data}, workers=ctx.workers
            ) as nginx,
            servers.start_asgi_floor(ctx.work, data, workers=ctx.workers) as floor,
        ):
            for server, path in ((nginx, "/variant.jpg"), (floor, "/")):
                if httpx.get(server.base + path, timeout=30).content != data:
                    raise RuntimeError(f"{server.name} does not serve the same bytes")
            sides = {
                "nginx": (nginx.base, "/variant.jpg"),
                "imagegate": (gate.base, target),
                "granian floor": (floor.base, "/"),
            }

            def run(name: str, seconds: float) -> Run:
                origin, path = sides[name]
                result = loadgen.wrk(
                    origin,
                    [path],
                    threads=ctx.wrk_threads,
                    connections=plan.cached_connections,
                    seconds=seconds,
                    headers=ACCEPT_JPEG,
                )
                if result.non_2xx or result.socket_errors:
                    notes.append(
                        f"{name}: {result.non_2xx} non-2xx and {result.socket_errors} socket "
                        "errors in one run (not counted in its rate)"
                    )
                latency[name].append(result.latency_avg_ms)
                return Run(result.ok_rps, result.requests)

            for name in sides:
                run(name, plan.warmup)
            for values in latency.values():
                values.clear()
            log("  cached private variant vs nginx")
            pids = {"nginx": nginx.pid, "imagegate": gate.pid, "granian floor": floor.pid}
            series = _alternate(
                plan.cached_rounds,
                {
                    name: Side(lambda name=name: run(name, plan.seconds), pids[name])
                    for name in sides
                },
                list(pids.values()),
                log,
            )

    settings = (
        f"wrk -t{ctx.wrk_threads} -c{plan.cached_connections} -d{plan.seconds:g}s, "
        f"Accept: image/jpeg (+{plan.warmup:g}s warm-up each), {plan.cached_rounds} "
        "alternating rounds, median; "
        f"nginx worker_processes {ctx.workers} (sendfile, open_file_cache, access_log off) vs "
        f"imagegate --workers {ctx.workers} with its default caches; the same signed URL every "
        f"request; response {len(data) / 1024:.1f} KB JPEG {width}x{height}"
    )
    floor_vs_nginx = series["granian floor"].median / series["nginx"].median
    extra = [
        "runs "
        + ", ".join(f"{name} {s.spread()}" for name, s in series.items())
        + " req/s; median of mean latencies "
        + ", ".join(f"{name} {statistics.median(latency[name]):.2f} ms" for name in series),
        "server CPU per response (its whole process tree): "
        + ", ".join(f"{name} {s.cpu()}" for name, s in series.items()),
        f"the granian floor (a do-nothing ASGI app sending the same bytes, asgi_floor.py) "
        f"reaches {floor_vs_nginx:.2f}x nginx: a ceiling for any ASGI app on granian with "
        "these settings on this machine",
        f"imagegate single requests: first (renders) {first_ms:.0f} ms, then median "
        f"{statistics.median(warm_ms):.1f} ms",
        _noise_note(series),
        *notes,
    ]
    rows = [
        Ratio(
            "Cached variant of a private image, signed",
            series["imagegate"].median,
            series["nginx"].median,
            "nginx static",
            0.6,
            settings,
            extra,
        ),
        Ratio(
            "Cached variant vs the granian floor",
            series["imagegate"].median,
            series["granian floor"].median,
            "minimal ASGI app",
            None,
            f"granian, ASGI, {ctx.workers} workers, started as imagegate serve starts it, sending "
            "the same bytes from memory: the rest is imagegate's own per-request work",
        ),
    ]
    return rows, []


# --- 2. Cold resize: 12 MP JPEG to 800 px wide --------------------------------------------------


def _direct(ctx: Context, threads: int, seconds: float, encoder: str = "plain") -> Run:
    done = subprocess.run(
        [
            sys.executable,
            str(DIRECT),
            *map(str, ctx.photos),
            f"--threads={threads}",
            f"--seconds={seconds:g}",
            f"--encoder={encoder}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
        env={**os.environ, "MALLOC_ARENA_MAX": "2"},
    )
    found = json.loads(done.stdout)
    return Run(float(found["rps"]), int(found["calls"]), float(found["cpu_seconds"]))


def cold_resize(ctx: Context, log: Log) -> Outcome:
    plan = ctx.plan
    conc = plan.cold_concurrency
    thumbor_paths = [f"/unsafe/800x0/{photo.name}" for photo in ctx.photos]
    imagegate_paths = [ctx.signed(image_id) for image_id in ctx.image_ids]
    peaks: dict[str, float] = defaultdict(float)
    served: dict[str, int] = defaultdict(int)
    notes: list[str] = []
    images = ctx.photos[0].parent

    def http(name: str, server: Server, paths: list[str], seconds: float) -> Run:
        with RssSampler(server.pid) as sampler:
            result = loadgen.wrk(
                server.base,
                paths,
                connections=conc,
                seconds=seconds,
                headers=COLD_HEADERS,
                timeout=30,
            )
        peaks[name] = max(peaks[name], sampler.peak_mb)
        served[name] += result.requests - result.non_2xx
        if result.non_2xx or result.socket_errors:
            notes.append(
                f"{name}: {result.non_2xx} non-2xx and {result.socket_errors} socket errors "
                "in one run (not counted in its rate)"
            )
        return Run(result.ok_rps, result.requests)

    with (
        _imagegate(ctx, "cold", CACHES_OFF) as gate,
        servers.start_thumbor(ctx.thumbor, ctx.work, images, processes=ctx.cpus) as thumbor,
    ):
        sides = {"imagegate": (gate, imagegate_paths), "thumbor": (thumbor, thumbor_paths)}
        for name, (server, paths) in sides.items():
            for path in paths:
                _, width, height = servers.fetch_image(server.base + path, ACCEPT_JPEG)
                if width != 800:
                    raise RuntimeError(f"{name} answered {width}x{height}, not 800 px wide")
        idle = {name: tree_rss_mb(server.pid) for name, (server, _) in sides.items()}
        for name, (server, paths) in sides.items():
            http(name, server, paths, plan.warmup)
        peaks.clear()
        served.clear()
        log(f"  cold resize, {conc} at a time")
        roots = [gate.pid, thumbor.pid]
        series = _alternate(
            plan.cold_rounds,
            {
                "imagegate": Side(
                    lambda: http("imagegate", gate, imagegate_paths, plan.seconds), gate.pid
                ),
                "thumbor": Side(
                    lambda: http("thumbor", thumbor, thumbor_paths, plan.seconds), thumbor.pid
                ),
                "pyvips direct": Side(lambda: _direct(ctx, conc, plan.seconds)),
            },
            roots,
            log,
        )
        # One run each of two variations, for information.
        side = Side(lambda: _direct(ctx, conc, plan.seconds, "imagegate"))
        like, watch = _measure(side, roots)
        series["pyvips, imagegate's encoder"] = Series()
        _record(series["pyvips, imagegate's encoder"], side, like, watch)
        log(f"    pyvips direct, imagegate's JPEG options {like.rps:10.1f} req/s")

    # thumbor's own default is one process; the figure shows what that setting is worth.
    with servers.start_thumbor(ctx.thumbor, ctx.work, images, processes=1) as single:
        http("thumbor, 1 process", single, thumbor_paths, plan.warmup)
        side = Side(
            lambda: http("thumbor, 1 process", single, thumbor_paths, plan.seconds), single.pid
        )
        single_run, watch = _measure(side, [single.pid])
        series["thumbor, 1 process"] = Series()
        _record(series["thumbor, 1 process"], side, single_run, watch)
        log(f"    thumbor --processes 1 {single_run.rps:10.1f} req/s")

    median = {name: s.median for name, s in series.items()}
    load = (
        f"wrk -t{conc} -c{conc} -d{plan.seconds:g}s, Accept: image/jpeg, Connection: close; "
        f"each connection cycles through its own share of {len(ctx.photos)} byte-distinct "
        "copies of the photo"
    )
    settings = (
        f"{load} (+{plan.warmup:g}s warm-up), {plan.cold_rounds} rotating rounds, median; "
        f"imagegate --workers {ctx.workers} with both variant caches off (every request "
        f"renders); a 4000x3000 Q90 JPEG ({ctx.photos[0].stat().st_size / 1e6:.1f} MB) to "
        "800x600"
    )
    rows = [
        Ratio(
            "Cold resize 12 MP -> 800 px vs thumbor",
            median["imagegate"],
            median["thumbor"],
            f"thumbor, {ctx.cpus} processes",
            3.0,
            f"thumbor --processes {ctx.cpus}: PIL engine, file loader, no storage, quality 85, "
            f"its default progressive JPEG; {settings}",
            [
                "runs "
                + ", ".join(f"{name} {s.spread()}" for name, s in series.items())
                + " req/s",
                "CPU per resize (server process tree, or the pyvips process): "
                + ", ".join(f"{name} {s.cpu()}" for name, s in series.items()),
                _noise_note(series),
                *notes,
            ],
        ),
        Ratio(
            "Cold resize vs pyvips in one process",
            median["imagegate"],
            median["pyvips direct"],
            f"pyvips, {conc} threads",
            0.9,
            f"thumbnail_buffer(data, 800, height=12000) + jpegsave_buffer(Q=85) in {conc} "
            "threads of one process, the JPEGs already in memory",
        ),
        Ratio(
            "Cold resize vs pyvips with imagegate's JPEG options",
            median["imagegate"],
            like.rps,
            "pyvips, same encoder",
            None,
            "as above but jpegsave_buffer(Q=85, interlace=True, optimize_coding=True, "
            "keep=NONE), as imagegate encodes: tells server overhead from encoder cost",
        ),
        Ratio(
            "Cold resize vs thumbor, 1 process (its default)",
            median["imagegate"],
            single_run.rps,
            "thumbor, 1 process",
            None,
            f"one run; thumbor --processes 1 uses one of the {ctx.cpus} CPUs",
        ),
    ]
    memory = [
        Memory(
            f"{name} during the cold runs",
            conc,
            plan.seconds * plan.cold_rounds,
            idle[name],
            peaks[name],
            served[name],
            0,
            0,
            "-",
            median[name],
            "info",
        )
        for name in ("imagegate", "thumbor")
    ]
    return rows, memory


# --- 3. Memory under 8 and 200 concurrent cold resizes ----------------------------------------


def memory_under_load(ctx: Context, log: Log) -> Outcome:
    plan = ctx.plan
    targets = [
        ctx.signed(image_id, variant)
        for variant in _memory_variants(plan)
        for image_id in ctx.image_ids
    ]
    rows: list[Memory] = []
    for level in plan.memory_levels:
        with _imagegate(ctx, f"memory-{level}", CACHES_OFF) as gate:
            servers.fetch_image(gate.base + targets[0], ACCEPT_JPEG)
            idle = tree_rss_mb(gate.pid)
            with RssSampler(gate.pid) as sampler, CpuWatch([gate.pid]) as watch:
                result = asyncio.run(
                    loadgen.closed_loop(
                        gate.port,
                        targets,
                        concurrency=level,
                        seconds=plan.memory_seconds,
                        max_requests=plan.memory_max_requests,
                        headers=ACCEPT_JPEG,
                    )
                )
            alive = httpx.get(gate.base + "/healthz", timeout=30).status_code == 200
        other = {str(k): v for k, v in result.statuses.items() if k not in (200, 503)}
        other.update(result.errors)
        note = (
            f"closed loop, {level} keep-alive connections over {len(targets)} distinct "
            f"variants (no two in flight alike), no pause after a 503, {plan.memory_seconds:g}s"
            f" or {plan.memory_max_requests} requests; RSS sampled every 50 ms over "
            f"{sampler.max_processes} processes; 200 latency p50 {result.p(0.5) * 1e3:.0f} ms, "
            f"p99 {result.p(0.99) * 1e3:.0f} ms; other processes used "
            f"{watch.foreign_cores:.2f} cores"
        )
        clean = not other and not result.retry_after_missing and alive and result.statuses[200]
        rows.append(
            Memory(
                f"imagegate, {level} concurrent cold resizes",
                level,
                result.seconds,
                idle,
                sampler.peak_mb,
                result.statuses[200],
                result.statuses[503],
                result.retry_after_missing,
                ", ".join(f"{k}: {v}" for k, v in other.items()) or "-",
                result.ok_rps(),
                "pass" if clean else "FAIL",
                [note + ("" if alive else "; /healthz failed afterwards")],
            )
        )
        log(
            f"  {level:>4} concurrent: {result.statuses[200]} x 200, {result.statuses[503]} x 503,"
            f" other {rows[-1].other}, peak {sampler.peak_mb:.0f} MB"
        )
    # Bounded: the most concurrent run may not hold much more than the least, and must shed.
    if len(rows) > 1:
        low, high = rows[0], rows[-1]
        limit = 1.5 * low.peak_mb
        high.notes.append(
            f"bounded if its peak <= 1.5x the {low.concurrency}-concurrent peak ({limit:.0f} MB)"
            " and the excess gets 503"
        )
        if high.peak_mb > limit or high.busy == 0:
            high.verdict = "FAIL"
    return [], rows
