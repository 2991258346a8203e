"""Result rows, and the same tables printed as text and written as Markdown."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyvips


@dataclass
class Ratio:
    """imagegate against a reference, measured in the same run; ``target`` None: information."""

    scenario: str
    imagegate: float | None
    reference: float | None
    reference_name: str
    target: float | None
    settings: str
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.imagegate is None or not self.reference:
            return None
        return self.imagegate / self.reference

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if self.target is None:
            return "info"
        ratio = self.ratio
        return "?" if ratio is None else ("pass" if ratio >= self.target else "FAIL")


@dataclass
class Memory:
    scenario: str
    concurrency: int
    seconds: float
    idle_mb: float
    peak_mb: float
    ok: int
    busy: int  # 503
    busy_without_retry_after: int
    other: str  # other statuses and client errors, "-" if none
    rps: float
    verdict: str  # pass / FAIL / info / ERROR
    notes: list[str] = field(default_factory=list)


@dataclass
class Micro:
    case: str
    micros: float
    times_hmac: float


@dataclass
class Report:
    command: str
    machine: dict[str, str]
    ratios: list[Ratio] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    micro: list[Micro] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "?"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else "?"


def _mem_total() -> str:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return "?"
    match = re.search(r"^MemTotal:\s*(\d+) kB", text, re.MULTILINE)
    return f"{int(match.group(1)) / 1024**2:.1f} GiB" if match else "?"


def _git_revision(root: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return done.stdout.strip() or "?"


def machine(root: Path, tools: dict[str, str]) -> dict[str, str]:
    return {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": f"{len(os.sched_getaffinity(0))} x {_cpu_model()}",
        "memory": _mem_total(),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
        "libvips": ".".join(str(pyvips.version(i)) for i in range(3)),
        "imagegate": _git_revision(root),
        **tools,
    }


def command_line() -> str:
    argv = " ".join(sys.argv[1:])
    direct = f"{Path(sys.executable).name} bench/run.py{' ' + argv if argv else ''}"
    return f"make bench ({direct})" if os.environ.get("MAKELEVEL") and not argv else direct


# --- Rendering --------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _ratio_cells(row: Ratio) -> list[str]:
    ratio = row.ratio
    return [
        row.scenario,
        _num(row.imagegate, 1 if (row.imagegate or 0) < 100 else 0),
        f"{_num(row.reference, 1 if (row.reference or 0) < 100 else 0)} ({row.reference_name})",
        "-" if ratio is None else f"{ratio:.2f}x",
        "-" if row.target is None else f">= {row.target:g}x",
        row.verdict,
    ]


_RATIO_HEAD = ["Scenario", "imagegate req/s", "Reference req/s", "Ratio", "Target", "Result"]
_MEMORY_HEAD = [
    "Scenario",
    "Concurrency",
    "Seconds",
    "200",
    "503",
    "503 w/o Retry-After",
    "Other",
    "OK req/s",
    "Idle RSS MB",
    "Peak RSS MB",
    "Result",
]
_MICRO_HEAD = ["Case", "us/call", "x HMAC"]
_MEMORY_NOTE = (
    "RSS summed over the server's process tree; idle: after the check requests, before the load"
)


def _memory_cells(row: Memory) -> list[str]:
    return [
        row.scenario,
        str(row.concurrency),
        f"{row.seconds:.1f}",
        str(row.ok),
        str(row.busy),
        str(row.busy_without_retry_after),
        row.other,
        f"{row.rps:.1f}",
        f"{row.idle_mb:.0f}",
        f"{row.peak_mb:.0f}",
        row.verdict,
    ]


def _micro_cells(row: Micro) -> list[str]:
    return [row.case, f"{row.micros:.2f}", f"{row.times_hmac:.2f}"]


def _text_table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(head, *rows, strict=True)]
    lines = []
    for i, cells in enumerate([head, *rows]):
        lines.append(
            "  ".join(
                cell.ljust(width) if j == 0 else cell.rjust(width)
                for j, (cell, width) in enumerate(zip(cells, widths, strict=True))
            )
        )
        if i == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _notes(report: Report) -> list[str]:
    notes = []
    for row in report.ratios:
        notes.append(f"{row.scenario}: {row.settings}")
        notes += [f"{row.scenario}: {note}" for note in row.notes]
        if row.error:
            notes.append(f"{row.scenario}: ERROR {row.error}")
    for mem in report.memory:
        notes += [f"{mem.scenario}: {note}" for note in mem.notes]
    return notes


def render_text(report: Report) -> str:
    out = [f"imagegate benchmarks -- {report.command}"]
    out += [f"  {key:10} {value}" for key, value in report.machine.items()]
    out += [f"  setup: {line}" for line in report.setup]
    if report.ratios:
        out += ["", "Throughput, as ratios (medians of alternating runs)"]
        out.append(_text_table(_RATIO_HEAD, [_ratio_cells(r) for r in report.ratios]))
    if report.memory:
        out += ["", f"Memory and overload ({_MEMORY_NOTE})"]
        out.append(_text_table(_MEMORY_HEAD, [_memory_cells(m) for m in report.memory]))
    if report.micro:
        out += ["", "Signature verification (pure, in process)"]
        out.append(_text_table(_MICRO_HEAD, [_micro_cells(m) for m in report.micro]))
    notes = _notes(report)
    if notes:
        out += ["", "Settings and notes"] + [f"  - {note}" for note in notes]
    if report.errors:
        out += ["", "Errors"] + [f"  ! {error}" for error in report.errors]
    return "\n".join(out)


def render_markdown(report: Report) -> str:
    info = report.machine
    out = [
        f"## Results of {info['date']}",
        "",
        f"Machine: {info['cpus']}, {info['memory']}, {info['os']}. Python {info['python']}, "
        f"libvips {info['libvips']}, imagegate {info['imagegate']}; "
        f"nginx {info.get('nginx', '?')}, wrk {info.get('wrk', '?')}, "
        f"thumbor {info.get('thumbor', '?')}.",
        "",
        f"Command: `{report.command}`",
    ]
    if report.ratios:
        out += ["", "### Throughput", ""]
        out.append(_md_table(_RATIO_HEAD, [_ratio_cells(r) for r in report.ratios]))
    if report.memory:
        out += [
            "",
            "### Memory and overload",
            "",
            _MEMORY_NOTE[0].upper() + _MEMORY_NOTE[1:] + ".",
            "",
        ]
        out.append(_md_table(_MEMORY_HEAD, [_memory_cells(m) for m in report.memory]))
    if report.micro:
        out += ["", "### Signature verification", ""]
        out.append(_md_table(_MICRO_HEAD, [_micro_cells(m) for m in report.micro]))
    notes = _notes(report)
    if notes:
        out += ["", "### Settings and notes", ""] + [f"- {note}" for note in notes]
    if report.errors:
        out += ["", "### Errors", ""] + [f"- {error}" for error in report.errors]
    return "\n".join(out) + "\n"
