"""imagegate benchmarks. Every figure is a ratio against a reference measured in the same
run, on the same machine: absolute times on shared machines are noise.

    make bench            # or: .venv/bin/python bench/run.py [--only cold,memory] [--quick]

It sets up what it compares with by itself (nginx and wrk from apt, thumbor in its own venv
under bench/.work, a generated 12 MP JPEG), runs every comparison on loopback, bounded in
time, prints the tables and writes them as Markdown to bench/.work/latest.md (and the raw
figures to latest.json) for docs/benchmarks.md.

Scenarios:
  verify  signature verification, in process, against HMAC-SHA256 alone
  cached  a cached variant of a private image (signed URL) vs nginx serving the same bytes,
          and vs a do-nothing ASGI app on granian (the floor of any ASGI server here)
  cold    a cold resize of a 12 MP JPEG to 800 px vs thumbor and vs pyvips in one process
  memory  peak RSS and status codes under 8 and 200 concurrent cold resizes
  s3      cold renders and uploads with blobs on SeaweedFS (loopback) vs the local disk
  nodes   two nodes against one behind nginx, on PostgreSQL and SeaweedFS (and nginx's cost)
  visitors  as visitors make them (visitors.py): 24 distinct originals at 200, 800, 1600 px,
          Chrome's, WebP and JPEG Accept, first views, uploads, memory, each vs thumbor

Besides requests per second, each run reports the CPU time its server spent per answer and
the CPU that other processes on the machine used meanwhile: on a shared machine the first is
the steadier figure, and the second says whether to trust the run.

Options: --quick (short single runs: checks the harness, not the figures), --only LIST,
--seconds N (one throughput run), --strict (exit 1 when a target is missed).
BENCH_ARGS passes them through make: make bench BENCH_ARGS=--quick
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import many_nodes
import object_store
import prepare
import procs
import report
import scenarios
import signing_micro
import visitors

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
SCENARIOS = ("verify", "cached", "cold", "memory", "s3", "nodes", "visitors")
HARD_LIMIT_SECONDS = 25 * 60  # the whole run, whatever happens


def _log(line: str) -> None:
    print(line, flush=True)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError(f"the benchmark ran past its {HARD_LIMIT_SECONDS} s limit")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run (default: all of {','.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="short runs, one round: checks the harness only"
    )
    parser.add_argument("--seconds", type=float, help="length of one measured throughput run")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return args


def make_plan(args: argparse.Namespace) -> scenarios.Plan:
    plan = scenarios.Plan()
    if args.quick:
        plan = scenarios.Plan(seconds=3, warmup=1, cached_rounds=1, cold_rounds=1, memory_seconds=4)
    if args.seconds:
        plan.seconds = args.seconds
    return plan


def _standalone(
    name: str, result: report.Report, run: Callable[[], tuple[list[report.Ratio], object]]
) -> None:
    """Run a scenario that starts its own servers: its ratios go in ``result``; a failure is
    recorded there and does not stop the others."""
    try:
        ratios, _ = run()
        result.ratios.extend(ratios)
    except Exception as exc:
        result.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        traceback.print_exc()
    finally:
        procs.stop_all()


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(HARD_LIMIT_SECONDS)
    # The servers' settings come from the harness only, never from the caller's environment.
    leaked = sorted(name for name in os.environ if name.startswith("IMAGEGATE_"))
    for name in leaked:
        del os.environ[name]

    started = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(WORK / "logs", ignore_errors=True)  # the servers' logs of this run only
    setup: list[str] = [f"ignored from the environment: {', '.join(leaked)}"] if leaked else []
    tools: dict[str, str] = {}
    needs_servers = bool({"cached", "cold", "memory", "visitors"} & set(args.only))
    ctx = None
    if needs_servers:
        _log("setting up (nginx and wrk from apt, thumbor venv, test image)...")
        paths = prepare.ensure_apt_tools(setup)
        tools = prepare.tool_versions(paths)
        thumbor = prepare.ensure_thumbor(WORK, setup)
        tools["thumbor"] = prepare.thumbor_version(thumbor)
        plan = make_plan(args)
        photos = prepare.ensure_photos(WORK, plan.copies)
        cpus = len(os.sched_getaffinity(0))
        ctx = scenarios.Context(WORK, paths["nginx"], thumbor, photos, cpus, plan)

    result = report.Report(report.command_line(), report.machine(ROOT, tools), setup=setup)
    if args.quick:
        result.setup.append("--quick: short single runs, figures not comparable")
    try:
        if "verify" in args.only:
            _log("signature verification...")
            result.micro = signing_micro.bench_verify(10_000 if args.quick else 50_000)
        if ctx is not None:
            _log("imagegate store: copies of the 12 MP photo, private, and their variants...")
            scenarios.prepare_store(ctx)
        plan = make_plan(args)
        cpus = len(os.sched_getaffinity(0))
        if "s3" in args.only:
            _log("s3: blobs on SeaweedFS against the local disk...")
            _standalone(
                "s3",
                result,
                lambda: object_store.s3_vs_local(
                    WORK,
                    prepare.ensure_photos(WORK, plan.copies),
                    workers=cpus,
                    seconds=plan.seconds,
                    rounds=plan.cold_rounds,
                    concurrency=plan.cold_concurrency,
                    log=_log,
                ),
            )
        if "nodes" in args.only:
            _log("nodes: two nodes against one behind nginx, on PostgreSQL and SeaweedFS...")
            nginx = prepare.ensure_apt_tools(setup)["nginx"]
            _standalone(
                "nodes",
                result,
                lambda: many_nodes.nodes_vs_one(
                    WORK,
                    nginx,
                    prepare.ensure_photos(WORK, plan.copies),
                    cpus=cpus,
                    seconds=plan.seconds,
                    rounds=plan.cold_rounds,
                    connections=plan.cached_connections,
                    concurrency=plan.cold_concurrency,
                    log=_log,
                ),
            )
        for name, fn in (
            ("cached", scenarios.cached_vs_nginx),
            ("cold", scenarios.cold_resize),
            ("memory", scenarios.memory_under_load),
            ("visitors", visitors.visitors),
        ):
            if name not in args.only or ctx is None:
                continue
            _log(f"{name}...")
            try:
                produced = fn(ctx, _log)
            except Exception as exc:  # one failed scenario doesn't stop the others
                result.errors.append(f"{name}: {type(exc).__name__}: {exc}")
                traceback.print_exc()
                if isinstance(exc, TimeoutError):
                    break
                continue
            finally:
                procs.stop_all()
            ratios, memory = produced
            result.ratios.extend(ratios)
            result.memory.extend(memory)
    finally:
        procs.stop_all()
        signal.alarm(0)

    result.setup.append(f"whole run {time.monotonic() - started:.0f} s")
    text = report.render_text(result)
    print("\n" + text)
    (WORK / "latest.md").write_text(report.render_markdown(result))
    (WORK / "latest.json").write_text(json.dumps(dataclasses.asdict(result), indent=2) + "\n")
    _log(f"\nMarkdown for docs/benchmarks.md: {WORK / 'latest.md'}")
    missed = [row for row in [*result.ratios, *result.memory] if row.verdict == "FAIL"]
    if result.errors:
        return 1
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
