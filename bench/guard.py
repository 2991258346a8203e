"""The benchmark guard CI runs after the tests: in about a minute and a half, the two ratios
that a change to the hot path or the render path would move, each against a reference
measured in the same run on the same machine, checked against ``bench/guard.json``.

    make bench-guard        # or: .venv/bin/python bench/guard.py [--json]

* cached: a cached variant of a private image, signed URL, ``imagegate serve`` against the
  granian floor (``asgi_floor.py``, the same bytes from a do-nothing ASGI app);
* cold: a cold render of a 12 MP JPEG to 800 px (both variant caches off) against
  ``pyvips.thumbnail`` in one process (``direct_pyvips.py``).

Each side is run twice in alternating order and the medians compared; it exits 1 when a
ratio is below its floor in ``guard.json`` (set from repeated runs, well under what they
gave, so that the noise of a shared machine does not trip it), 2 when it could not measure.
It needs wrk (from apt) and uses only loopback ports.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path

import loadgen
import prepare
import procs
import scenarios
import servers

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work" / "guard"
THRESHOLDS = Path(__file__).with_name("guard.json")
HARD_LIMIT_SECONDS = 5 * 60
PLAN = scenarios.Plan(seconds=5, warmup=1, cached_rounds=2, cold_rounds=2, copies=4)


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _on_alarm(signum: int, frame: object) -> None:
    raise TimeoutError(f"the guard ran past its {HARD_LIMIT_SECONDS} s limit")


def cached_ratio(ctx: scenarios.Context) -> dict[str, float]:
    """imagegate against the granian floor on one cached signed URL."""
    target = ctx.signed(ctx.image_ids[0])
    with scenarios._imagegate(ctx, "guard-cached", {}) as gate:
        data, _, _ = servers.fetch_image(gate.base + target, scenarios.ACCEPT_JPEG)
        with servers.start_asgi_floor(ctx.work, data, workers=ctx.workers) as floor:
            sides = {
                "imagegate": (gate.base, target, gate.pid),
                "floor": (floor.base, "/", floor.pid),
            }

            def run(name: str, seconds: float) -> scenarios.Run:
                origin, path, _ = sides[name]
                found = loadgen.wrk(
                    origin,
                    [path],
                    threads=ctx.wrk_threads,
                    connections=PLAN.cached_connections,
                    seconds=seconds,
                    headers=scenarios.ACCEPT_JPEG,
                )
                if found.non_2xx or found.socket_errors:
                    raise RuntimeError(f"{name}: {found.non_2xx} non-2xx answers under load")
                return scenarios.Run(found.ok_rps, found.requests)

            for name in sides:
                run(name, PLAN.warmup)
            series = scenarios._alternate(
                PLAN.cached_rounds,
                {
                    name: scenarios.Side(lambda name=name: run(name, PLAN.seconds), pid)
                    for name, (_, _, pid) in sides.items()
                },
                [gate.pid, floor.pid],
                _log,
            )
    return _figures(series["imagegate"], series["floor"])


def cold_ratio(ctx: scenarios.Context) -> dict[str, float]:
    """Cold renders through the server against pyvips in one process."""
    conc = PLAN.cold_concurrency
    paths = [ctx.signed(image_id) for image_id in ctx.image_ids]
    with scenarios._imagegate(ctx, "guard-cold", scenarios.CACHES_OFF) as gate:

        def run(seconds: float) -> scenarios.Run:
            found = loadgen.wrk(
                gate.base,
                paths,
                connections=conc,
                seconds=seconds,
                headers=scenarios.COLD_HEADERS,
                timeout=30,
            )
            if found.non_2xx:
                raise RuntimeError(f"imagegate: {found.non_2xx} non-2xx cold renders")
            return scenarios.Run(found.ok_rps, found.requests)

        run(PLAN.warmup)
        series = scenarios._alternate(
            PLAN.cold_rounds,
            {
                "imagegate": scenarios.Side(lambda: run(PLAN.seconds), gate.pid),
                "pyvips": scenarios.Side(lambda: scenarios._direct(ctx, conc, PLAN.seconds)),
            },
            [gate.pid],
            _log,
        )
    return _figures(series["imagegate"], series["pyvips"])


def _figures(mine: scenarios.Series, reference: scenarios.Series) -> dict[str, float]:
    figures = {
        "ratio": mine.median / reference.median,
        "rps": mine.median,
        "reference_rps": reference.median,
        "other_cores": max([*mine.foreign, *reference.foreign], default=0.0),
    }
    if mine.cpu_ms and reference.cpu_ms:
        figures["cpu_us"] = statistics.median(mine.cpu_ms) * 1e3
        figures["reference_cpu_us"] = statistics.median(reference.cpu_ms) * 1e3
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(HARD_LIMIT_SECONDS)
    for name in [name for name in os.environ if name.startswith("IMAGEGATE_")]:
        del os.environ[name]  # the servers' settings come from here only
    limits = json.loads(THRESHOLDS.read_text())
    started = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    try:
        paths = prepare.ensure_apt_tools([])
        photos = prepare.ensure_photos(WORK, PLAN.copies)
        cpus = len(os.sched_getaffinity(0))
        ctx = scenarios.Context(WORK, paths["nginx"], Path(), photos, cpus, PLAN)
        _log("guard: a fresh store...")
        scenarios.prepare_store(ctx)
        _log("guard: cached variant vs the granian floor")
        found = {"cached": cached_ratio(ctx)}
        procs.stop_all()
        _log("guard: cold render vs pyvips in one process")
        found["cold"] = cold_ratio(ctx)
    except Exception as exc:
        print(f"bench guard: could not measure: {type(exc).__name__}: {exc}")
        return 2
    finally:
        procs.stop_all()
        signal.alarm(0)

    failed = []
    for name, figures in found.items():
        floor = float(limits[name]["min_ratio"])
        verdict = "ok" if figures["ratio"] >= floor else "BELOW"
        if verdict != "ok":
            failed.append(name)
        cpu = (
            f", CPU/answer {figures['cpu_us']:.0f} us vs {figures['reference_cpu_us']:.0f} us"
            if "cpu_us" in figures
            else ""
        )
        print(
            f"{name:<7} {figures['ratio']:.2f}x ({figures['rps']:,.1f} vs "
            f"{figures['reference_rps']:,.1f} req/s{cpu}; other processes up to "
            f"{figures['other_cores']:.2f} cores)  floor {floor:.2f}x  {verdict}"
        )
    print(f"bench guard: {time.monotonic() - started:.0f} s")
    if args.json:
        print(json.dumps(found))
    if failed:
        print(f"bench guard: below the recorded floor: {', '.join(failed)} (see bench/guard.json)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
