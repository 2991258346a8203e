"""Benchmarks as visitors make them: many distinct originals, the ``Accept`` headers browsers
send, three output sizes, first views one at a time, uploads, and memory under a crowd.
Each figure is against thumbor in the same run (or against imagegate itself, for the
``Accept`` comparison), like the other scenarios.

- The corpus: ``CORPUS`` distinct 12 MP originals (photo-like and line art with text, some in
  portrait), generated and seeded, so no two share pixels: no server can reuse a decode.
- Clients: Chrome's ``Accept`` (AVIF first), a WebP-only client (Firefox before AVIF), and a
  JPEG-only one. thumbor gets the format imagegate negotiates through its ``format`` filter
  (see :func:`thumbor_path`).
- Cold throughput at 200, 800 and 1600 px (caches off: every request renders), with the CPU of
  each server's process tree per render, and pyvips ``thumbnail`` in one process as the floor.
- First views: one request at a time, each for a variant never asked for before, default
  caches on (so the cost of writing them is in): p50 and p99 per server, client and size.
- Uploads: the time until an upload of a 12 MP original is acknowledged, one at a time;
  then, separately, the time until its multi-resolution copy is derived when the server
  reports that work (:func:`derivation_pending`, the hook).
- Memory under 8 and 200 concurrent cold renders with Chrome's ``Accept`` over the corpus,
  while uploads go on (and, once copies are derived, their derivation with them).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import loadgen
import pyvips
import servers
from procs import CpuWatch, RssSampler, Server, tree_rss_mb
from report import Memory, Ratio
from scenarios import (
    CACHES_OFF,
    DIRECT,
    Context,
    Log,
    Outcome,
    Run,
    Series,
    Side,
    _alternate,
    _noise_note,
)

CORPUS = 24  # distinct 12 MP originals
CORPUS_VERSION = 1  # bump when the generator changes: the corpus is made again
LINE_ART_EVERY = 4  # every 4th original is line art with text, the rest photo-like
PORTRAIT_EVERY = 3  # every 3rd original is 3000x4000, the rest 4000x3000
SIZES = (200, 800, 1600)
CHROME_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
CLIENTS = {
    "chrome": CHROME_ACCEPT,
    "webp": "image/webp,*/*",  # Firefox 65 to 92
    "jpeg": "image/jpeg",
}
# Where a multi-resolution copy is derived after an upload, the server's /metrics gauge of
# originals still waiting for theirs; absent (today), derivation is not measured.
DERIVATION_PENDING = "imagegate_copies_pending"
METRICS_TOKEN = secrets.token_urlsafe(24)  # /metrics of the servers this run starts
AVIF_MAX_SIDE = 1200  # imagegate's default IMAGEGATE_AVIF_MAX_SIDE: WebP past it
MEMORY_WIDTHS = 9  # variants per original in the memory runs: 24 x 9 > 200 distinct renders
MIN_RUN_SECONDS = 6.0  # a measured cold run, even with --quick: an AVIF render may take 1 s
FIRST_VIEW_SECONDS = 240  # the first views stop after the original that passes this (or 30 runs)
MEMORY_UPLOADS = 12  # uploads at most during each memory run


# --- The corpus -------------------------------------------------------------------------------


def _photo(width: int, height: int, seed: int) -> pyvips.Image:
    """Photo-like: gradients and waves that differ by seed, blurred noise, fine grain."""
    xy = pyvips.Image.xyz(width, height)
    x, y = xy[0], xy[1]
    waves = 1 + seed % 5
    red = x * ((120 + 17 * seed % 100) / width) + (y * (360 * waves / height)).sin() * 40 + 60
    green = y * (180 / height) + (x * (360 * (seed % 3 + 1) / width)).cos() * 30 + 40
    blue = (x * (1080 / width) + seed * 40).sin() * 60 + (y * (720 / height)).cos() * 50 + 120
    texture = pyvips.Image.gaussnoise(width, height, sigma=18 + seed % 15, mean=0, seed=1000 + seed)
    texture = texture.gaussblur(0.8 + (seed % 4) * 0.4)
    grain = pyvips.Image.gaussnoise(width, height, sigma=4 + seed % 4, mean=0, seed=2000 + seed)
    image = red.bandjoin([green, blue]) + texture + grain
    return image.cast("uchar").copy(interpretation="srgb")


def _line_art(width: int, height: int, seed: int) -> pyvips.Image:
    """Line art: thin contour lines of a smooth field, black on white, and rows of text."""
    xy = pyvips.Image.xyz(width, height)
    x, y = xy[0], xy[1]
    field_ = (
        (x * (360 * (3 + seed % 4) / width)).sin() * 50
        + (y * (360 * (2 + seed % 3) / height)).cos() * 50
        + ((x + y) * (1800 / (width + height)) + seed * 30).sin() * 30
    )
    lines = (((field_ + 200) % 20) < 1.2).ifthenelse(0, 255).cast("uchar")
    words = pyvips.Image.text(
        f"imagegate line art {seed} - the quick brown fox 0123456789", dpi=300 + 20 * seed
    )
    cell = words.embed(0, 0, words.width + 80, words.height + 60)
    rows = cell.replicate(width // cell.width + 1, 6)
    rows = rows.crop(0, 0, width, min(rows.height, height // 3))
    text = (rows > 128).ifthenelse(0, 255).cast("uchar")
    text = text.embed(0, height - text.height, width, height, extend="white")
    ink = lines.boolean(text, "and")
    blue = (ink.cast("float") * 0.9 + 25).cast("uchar")
    return ink.bandjoin([ink, blue]).copy(interpretation="srgb")


def corpus_image(index: int, scale: float = 1.0) -> pyvips.Image:
    """Original ``index`` of the corpus; ``scale`` < 1 makes a small one (for the tests)."""
    width, height = (3000, 4000) if index % PORTRAIT_EVERY == PORTRAIT_EVERY - 1 else (4000, 3000)
    width, height = max(64, round(width * scale)), max(64, round(height * scale))
    make = _line_art if index % LINE_ART_EVERY == LINE_ART_EVERY - 1 else _photo
    return make(width, height, index)


def ensure_corpus(work: Path, count: int = CORPUS) -> list[Path]:
    """The corpus as Q90 JPEGs under ``bench/.work/images/corpus-v*``, made once."""
    folder = work / "images" / f"corpus-v{CORPUS_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"original-{index:02d}.jpg"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(corpus_image(index).jpegsave_buffer(Q=90))
            tmp.replace(path)
        paths.append(path)
    return paths


# --- Small helpers ----------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: of 24 values, p50 is the 12th and p99 the slowest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def metric_total(text: str, name: str) -> float | None:
    """The sum of a metric's samples (over labels and workers) in Prometheus text, or None."""
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{[^}}]*\}})?\s+(\S+)", re.MULTILINE)
    found = pattern.findall(text)
    return sum(float(value) for value in found) if found else None


def derivation_pending(base: str) -> float | None:
    """The hook for derivation: originals still waiting for their multi-resolution copy, as
    the server reports it, or None if it reports no such thing (no copies are derived)."""
    done = httpx.get(
        base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30
    )
    done.raise_for_status()
    return metric_total(done.text, DERIVATION_PENDING)


def wait_for_derivation(base: str, limit: float) -> float | None:
    """Seconds until nothing waits for derivation (at most ``limit``), or None if not
    reported. Called right after the last upload is acknowledged."""
    started = time.perf_counter()
    while True:
        pending = derivation_pending(base)
        if pending is None:
            return None
        if pending <= 0 or time.perf_counter() - started > limit:
            return time.perf_counter() - started
        time.sleep(0.05)


def _image_info(response: httpx.Response) -> tuple[str, int]:
    if response.status_code != 200:
        raise RuntimeError(f"{response.url}: {response.status_code} {response.text[:300]}")
    kind = response.headers.get("content-type", "").split(";")[0]
    if not kind.startswith("image/"):
        raise RuntimeError(f"{response.url}: content-type {kind}")
    return kind.removeprefix("image/"), pyvips.Image.new_from_buffer(response.content, "").width


@dataclass
class Store:
    """The imagegate side: a data directory with the corpus as private images."""

    data_dir: Path
    account: servers.Account
    image_ids: list[str]
    upload_ms: list[float] = field(default_factory=list)
    derivation_s: float | None = None

    def path(self, image_id: str, width: int, client: str) -> str:
        return servers.signed_path(self.account, image_id, variant_name(width, client))


def variant_name(width: int, client: str) -> str:
    return f"v{width}{client}"  # variant names are letters and digits only


def variant_options(width: int, client: str) -> dict[str, object]:
    """``width`` wide, in a box tall enough for a 3:4 portrait, so that the output's longest
    side (what decides AVIF, see ``avif_max_side``) is the real one. One variant per client,
    the height one pixel apart, which changes no output: a first view for one client is never
    served from the cache by another client's render of the same format."""
    height = math.ceil(width * 4 / 3) + 1 + list(CLIENTS).index(client)
    return {"fit": "scale-down", "width": width, "height": height, "metadata": "none"}


def thumbor_path(width: int, client: str, original: Path) -> str:
    """thumbor's URL giving what imagegate negotiates for that client, by its format filter
    (its AUTO_WEBP, checked before AUTO_AVIF, would answer WebP to Chrome)."""
    fmt = {"chrome": "avif" if width <= AVIF_MAX_SIDE else "webp", "webp": "webp"}.get(client)
    filters = f"filters:format({fmt})/" if fmt else ""
    return f"/unsafe/{width}x0/{filters}{original.name}"


def _start(ctx: Context, data_dir: Path, label: str, env: dict[str, str]) -> Server:
    env = {"IMAGEGATE_METRICS_TOKEN": METRICS_TOKEN, **env}
    return servers.start_imagegate(ctx.work, data_dir, workers=ctx.workers, env=env, label=label)


def prepare_store(ctx: Context, corpus: list[Path], log: Log) -> Store:
    """A fresh store: the variants first, then each original uploaded one at a time, timed
    until acknowledged; then, if the server reports it, until the copies are derived."""
    data_dir = ctx.work / "visitors-data"
    account = servers.imagegate_init(data_dir)
    store = Store(data_dir, account, [f"visitor-{i:02d}" for i in range(len(corpus))])
    with _start(ctx, data_dir, "visitors-upload", {}) as gate:
        for width in (*SIZES, *_memory_widths()):
            for client in CLIENTS:
                options = variant_options(width, client)
                servers.create_variant(gate.base, account, variant_name(width, client), options)
        for image_id, original in zip(store.image_ids, corpus, strict=True):
            started = time.perf_counter()
            servers.upload_private(gate.base, account, original, image_id)
            store.upload_ms.append((time.perf_counter() - started) * 1e3)
        store.derivation_s = wait_for_derivation(gate.base, limit=120)
    log(
        f"  {len(corpus)} uploads: p50 {percentile(store.upload_ms, 0.5):.0f} ms, "
        f"p99 {percentile(store.upload_ms, 0.99):.0f} ms"
    )
    return store


def _memory_widths() -> list[int]:
    return [800 - 10 * i for i in range(1, MEMORY_WIDTHS - len(SIZES) + 1)]


# --- Cold throughput --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    width: int
    client: str

    @property
    def label(self) -> str:
        return f"{self.width} px, {self.client}"


CASES = (Case(800, "jpeg"), Case(200, "jpeg"), Case(1600, "jpeg"), Case(800, "chrome"))
CASES += (Case(800, "webp"),)


def _direct(corpus: list[Path], width: int, threads: int, seconds: float) -> Run:
    """pyvips ``thumbnail_buffer`` + ``jpegsave_buffer`` in one process over the corpus."""
    argv = [sys.executable, str(DIRECT), *map(str, corpus), f"--threads={threads}"]
    argv += [f"--seconds={seconds:g}", f"--width={width}", "--encoder=plain"]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
        env={**os.environ, "MALLOC_ARENA_MAX": "2"},
    )
    found = json.loads(done.stdout)
    return Run(float(found["rps"]), int(found["calls"]), float(found["cpu_seconds"]))


def _check(name: str, base: str, path: str, case: Case, formats: dict[str, set[str]]) -> None:
    response = httpx.get(base + path, headers={"Accept": CLIENTS[case.client]}, timeout=60)
    kind, width = _image_info(response)
    if width != case.width:
        raise RuntimeError(f"{name} answered {width} px wide for {case.label}")
    formats[f"{name}, {case.label}"].add(kind)


def cold_throughput(
    ctx: Context, store: Store, corpus: list[Path], thumbor: Server, log: Log
) -> tuple[dict[Case, dict[str, Series]], dict[str, set[str]], list[str]]:
    plan = ctx.plan
    conc = plan.cold_concurrency
    results: dict[Case, dict[str, Series]] = {}
    formats: dict[str, set[str]] = defaultdict(set)
    notes: list[str] = []
    with _start(ctx, store.data_dir, "visitors-cold", CACHES_OFF) as gate:

        def paths(name: str, case: Case) -> list[str]:
            if name == "imagegate":
                ids = store.image_ids
                return [store.path(image_id, case.width, case.client) for image_id in ids]
            return [thumbor_path(case.width, case.client, original) for original in corpus]

        def http(name: str, server: Server, case: Case, seconds: float) -> Run:
            result = loadgen.wrk(
                server.base,
                paths(name, case),
                connections=conc,
                seconds=seconds,
                headers={"Accept": CLIENTS[case.client], "Connection": "close"},
                timeout=30,
            )
            if result.non_2xx or result.socket_errors:
                notes.append(
                    f"{name}, {case.label}: {result.non_2xx} non-2xx and "
                    f"{result.socket_errors} socket errors in one run (not counted in its rate)"
                )
            return Run(result.ok_rps, result.requests)

        def measured(name: str, server: Server, case: Case) -> Run:
            seconds = max(plan.seconds, MIN_RUN_SECONDS)
            run = http(name, server, case, seconds)
            if run.count == 0:
                raise RuntimeError(f"{name} answered no request for {case.label} in {seconds:g} s")
            return run

        sides = {"imagegate": gate, "thumbor": thumbor}
        for case in CASES:
            for name, server in sides.items():
                # The first views check every original's answer; here one per case will do.
                _check(name, server.base, paths(name, case)[0], case, formats)
                http(name, server, case, plan.warmup)
            log(f"  cold {case.label}, {conc} at a time")
            results[case] = _alternate(
                plan.cold_rounds,
                {
                    name: Side(
                        lambda name=name, server=server, case=case: measured(name, server, case),
                        server.pid,
                    )
                    for name, server in sides.items()
                },
                [gate.pid, thumbor.pid],
                log,
            )
        log("  pyvips thumbnail in one process, 800 px over the corpus")
        direct = _alternate(
            plan.cold_rounds,
            {"pyvips direct": Side(lambda: _direct(corpus, 800, conc, plan.seconds))},
            [gate.pid, thumbor.pid],
            log,
        )
        results[CASES[0]].update(direct)
    return results, formats, notes


# --- First views, one at a time ---------------------------------------------------------------


def first_views(
    ctx: Context,
    store: Store,
    corpus: list[Path],
    thumbor: Server,
    formats: dict[str, set[str]],
    log: Log,
) -> dict[tuple[str, Case], list[float]]:
    """Every (original, size, client) once per server, one request at a time, in a rotating
    order of sizes and clients; imagegate with its default caches, so each answer is a render
    that is then kept, as a first visitor's is."""
    combos = [Case(width, client) for width in SIZES for client in CLIENTS]
    times: dict[tuple[str, Case], list[float]] = defaultdict(list)
    budget = min(FIRST_VIEW_SECONDS, 30 * ctx.plan.seconds)
    deadline = time.monotonic() + budget
    log(f"  first views: {len(corpus)} originals x {len(combos)} sizes and clients, each server")
    with _start(ctx, store.data_dir, "visitors-first", {}) as gate, httpx.Client() as client:
        for index, (image_id, original) in enumerate(zip(store.image_ids, corpus, strict=True)):
            turn = combos[index % len(combos) :] + combos[: index % len(combos)]
            for case in turn:
                accept = {"Accept": CLIENTS[case.client]}
                for name, url in (
                    ("imagegate", gate.base + store.path(image_id, case.width, case.client)),
                    ("thumbor", thumbor.base + thumbor_path(case.width, case.client, original)),
                ):
                    started = time.perf_counter()
                    response = client.get(url, headers=accept, timeout=60)
                    times[(name, case)].append((time.perf_counter() - started) * 1e3)
                    kind, width = _image_info(response)
                    if width != case.width:
                        raise RuntimeError(f"{name} answered {width} px wide for {case.label}")
                    formats[f"{name}, {case.label}"].add(kind)
            if time.monotonic() > deadline:
                log(f"  first views stopped after {index + 1} originals: {budget:g} s")
                break
    return times


# --- Memory under 8 and 200 concurrent cold renders, uploads going on -------------------------


class Uploader(threading.Thread):
    """Uploads originals one after the other in the background until told to finish."""

    def __init__(self, base: str, account: servers.Account, originals: list[Path], prefix: str):
        super().__init__(daemon=True)
        self.base, self.account, self.originals, self.prefix = base, account, originals, prefix
        self.outcomes: list[int] = []  # 200, or 0 for a failed upload
        self._stop_now = threading.Event()

    def run(self) -> None:
        for i, original in enumerate(self.originals):
            if self._stop_now.is_set():
                return
            try:
                servers.upload_private(self.base, self.account, original, f"{self.prefix}-{i}")
                self.outcomes.append(200)
            except (RuntimeError, httpx.HTTPError):
                self.outcomes.append(0)

    def finish(self) -> list[int]:
        self._stop_now.set()
        self.join(timeout=120)
        return self.outcomes


def memory_with_uploads(ctx: Context, store: Store, corpus: list[Path], log: Log) -> list[Memory]:
    plan = ctx.plan
    widths = [*SIZES, *_memory_widths()]
    targets = [
        store.path(image_id, width, "chrome") for width in widths for image_id in store.image_ids
    ]
    headers = {"Accept": CHROME_ACCEPT}
    rows: list[Memory] = []
    for level in plan.memory_levels:
        with _start(ctx, store.data_dir, f"visitors-memory-{level}", CACHES_OFF) as gate:
            httpx.get(gate.base + targets[0], headers=headers, timeout=60).raise_for_status()
            idle = tree_rss_mb(gate.pid)
            uploader = Uploader(gate.base, store.account, corpus[:MEMORY_UPLOADS], f"m{level}")
            with RssSampler(gate.pid) as sampler, CpuWatch([gate.pid]) as watch:
                uploader.start()
                result = asyncio.run(
                    loadgen.closed_loop(
                        gate.port,
                        targets,
                        concurrency=level,
                        seconds=plan.memory_seconds,
                        max_requests=plan.memory_max_requests,
                        headers=headers,
                    )
                )
                uploads = uploader.finish()
            alive = httpx.get(gate.base + "/healthz", timeout=30).status_code == 200
        other = {str(k): v for k, v in result.statuses.items() if k not in (200, 503)}
        other.update(result.errors)
        clean = not other and not result.retry_after_missing and alive and result.statuses[200]
        rows.append(
            Memory(
                f"visitors: {level} concurrent cold renders, Chrome Accept, uploads going on",
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
                [
                    f"closed loop over {len(targets)} distinct renders ({len(corpus)} originals x"
                    f" {len(widths)} widths), {plan.memory_seconds:g}s; "
                    f"{uploads.count(200)} of {len(uploads)} uploads acknowledged meanwhile; "
                    f"200 latency p50 {result.p(0.5) * 1e3:.0f} ms, p99 "
                    f"{result.p(0.99) * 1e3:.0f} ms; other processes used "
                    f"{watch.foreign_cores:.2f} cores"
                    + ("" if alive else "; /healthz failed afterwards")
                ],
            )
        )
        log(
            f"  {level:>4} concurrent: {result.statuses[200]} x 200, {result.statuses[503]} x 503,"
            f" peak {sampler.peak_mb:.0f} MB, {uploads.count(200)} uploads"
        )
    if len(rows) > 1:
        low, high = rows[0], rows[-1]
        limit = 1.5 * low.peak_mb
        high.notes.append(
            f"bounded if its peak <= 1.5x the {low.concurrency}-concurrent peak ({limit:.0f} MB)"
            " and the excess gets 503"
        )
        if high.peak_mb > limit or high.busy == 0:
            high.verdict = "FAIL"
    return rows


# --- The scenario -----------------------------------------------------------------------------


def _ms(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):.0f} / p99 {percentile(values, 0.99):.0f} ms"


def visitors(ctx: Context, log: Log) -> Outcome:
    corpus = ensure_corpus(ctx.work)
    log(f"  corpus: {len(corpus)} distinct originals under {corpus[0].parent}")
    store = prepare_store(ctx, corpus, log)
    with servers.start_thumbor(
        ctx.thumbor,
        ctx.work,
        corpus[0].parent,
        processes=ctx.cpus,
    ) as thumbor:
        cold, formats, notes = cold_throughput(ctx, store, corpus, thumbor, log)
        views = first_views(ctx, store, corpus, thumbor, formats, log)
    memory = memory_with_uploads(ctx, store, corpus, log)

    plan = ctx.plan
    conc = plan.cold_concurrency
    load = (
        f"wrk -t{conc} -c{conc} -d{plan.seconds:g}s (+{plan.warmup:g}s warm-up), Connection: "
        f"close, each connection cycling through its share of {len(corpus)} distinct 12 MP "
        f"originals (photos and line art, a third portrait), {plan.cold_rounds} rotating rounds,"
        f" median; imagegate --workers {ctx.workers} with both variant caches off, thumbor "
        f"--processes {ctx.cpus} given imagegate's choice of format by its format filter "
        f"(AVIF for Chrome up to {AVIF_MAX_SIDE} px, else WebP; WebP for the WebP client)"
    )
    answered = "; ".join(f"{k}: {'/'.join(sorted(v))}" for k, v in sorted(formats.items()))
    rows: list[Ratio] = []
    targets = {Case(800, "jpeg"): 3.0, Case(200, "jpeg"): 6.0}
    for case, series in cold.items():
        extra = [
            "runs " + ", ".join(f"{name} {s.spread()}" for name, s in series.items()) + " req/s",
            "CPU per cold render (server process tree, or the pyvips process): "
            + ", ".join(f"{name} {s.cpu()}" for name, s in series.items()),
            _noise_note(series),
        ]
        rows.append(
            Ratio(
                f"Visitors: cold 12 MP -> {case.label} vs thumbor",
                series["imagegate"].median,
                series["thumbor"].median,
                f"thumbor, {ctx.cpus} processes",
                targets.get(case),
                f"Accept: {CLIENTS[case.client]}; {load}",
                extra,
            )
        )
    rows[0].notes += notes
    jpeg800 = cold[Case(800, "jpeg")]
    rows.append(
        Ratio(
            "Visitors: cold 800 px JPEG vs pyvips.thumbnail of the original in one process",
            jpeg800["imagegate"].median,
            jpeg800["pyvips direct"].median,
            f"pyvips, {conc} threads",
            2.0,
            f"thumbnail_buffer(original, 800, height=12000) + jpegsave_buffer(Q=85) in {conc} "
            "threads of one process over the same corpus, the JPEGs already in memory",
        )
    )
    chrome = views[("imagegate", Case(800, "chrome"))]
    jpeg = views[("imagegate", Case(800, "jpeg"))]
    rows.append(
        Ratio(
            "Visitors: first view 800 px, Chrome Accept vs JPEG-only (1/p50)",
            1e3 / percentile(chrome, 0.5),
            1e3 / percentile(jpeg, 0.5),
            "imagegate, JPEG client",
            0.83,  # Chrome p50 <= 1.2x the JPEG p50
            "one request at a time, each for a variant never asked for before, imagegate with "
            "its default caches; the ratio is the JPEG client's p50 over Chrome's, so >= 0.83x "
            "is Chrome's p50 <= 1.2x the JPEG one; p99 is nearest rank (of "
            f"{len(chrome)}: the slowest)",
            [
                "first views, p50 / p99: "
                + "; ".join(
                    f"{name} {case.label} {_ms(values)}"
                    for (name, case), values in sorted(
                        views.items(), key=lambda item: (item[0][1].width, item[0][1].client)
                    )
                ),
                f"formats answered: {answered}",
            ],
        )
    )
    thumbor_jpeg = views[("thumbor", Case(800, "jpeg"))]
    rows.append(
        Ratio(
            "Visitors: first view 800 px JPEG vs thumbor (1/p50)",
            1e3 / percentile(jpeg, 0.5),
            1e3 / percentile(thumbor_jpeg, 0.5),
            "thumbor, JPEG client",
            None,
            "as above; thumbor keeps no results, so each of its answers is a render",
        )
    )
    derivation = (
        "not reported by this imagegate (no multi-resolution copies)"
        if store.derivation_s is None
        else f"{store.derivation_s:.1f} s after the last upload until none was pending"
    )
    rows.append(
        Ratio(
            "Visitors: upload of a 12 MP original, acknowledged (1/p50)",
            1e3 / percentile(store.upload_ms, 0.5),
            None,
            "none",
            None,
            f"{len(store.upload_ms)} uploads one at a time, private, {_ms(store.upload_ms)} "
            f"until acknowledged; derivation of the copies: {derivation}",
        )
    )
    return rows, memory
