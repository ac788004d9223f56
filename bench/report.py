"""docs/benchmarks.md from the sections of one run."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

from bench.common import Context, Section


def write_report(path: Path, ctx: Context, sections: list[Section], failed: list[str]) -> None:
    plots_rel = path.stem  # plots live in a folder named like the report, beside it
    lines = [
        "# Benchmarks",
        "",
        "What Sandgate costs in the typing loop, measured side by side with its baselines in one run",
        "(`scripts/bench.sh`; figures are this machine's, so read the ratios, not the milliseconds).",
        "",
        f"Run: {time.strftime('%Y-%m-%d %H:%M %Z')}{' — **quick mode**: a few iterations, not for reading' if ctx.quick else ''}.",
        f"Machine: {_machine()}.",
        f"Sandbox backends measured: {', '.join(ctx.backends) or 'none'}.",
        "",
    ]
    if failed:
        lines += [f"**Sections that failed to run:** {', '.join(failed)} (see the run's log).", ""]
    targets = [(s, t) for s in sections for t in s.targets]
    if targets:
        lines += ["## Targets", "", "| target | measured | limit | |", "|---|---|---|---|"]
        for _, t in targets:
            what, measured, limit = t.describe()
            lines.append(f"| {what} | {measured} | {limit} | {'met' if t.met else '**missed**'} |")
        lines.append("")
    for s in sections:
        lines += [f"## {s.title}", ""]
        lines.append("| " + " | ".join(s.header) + " |")
        lines.append("|" + "---|" * len(s.header))
        for row in s.rows:
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        for png in s.plots:
            lines += [f"![{s.title}]({plots_rel}/{png})", ""]
        for note in s.notes:
            lines += [note, ""]
    lines += ["Raw samples: " + f"[`{plots_rel}/results.json`]({plots_rel}/results.json).", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def _machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    docker = _out(["docker", "version", "--format", "{{.Server.Version}}"])
    bwrap = _out(["bwrap", "--version"])
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB, Linux {platform.release()}, "
        f"Python {platform.python_version()}, Docker engine {docker or 'absent'}, {bwrap or 'no bubblewrap'}"
    )


def _out(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
