"""What the supervisor costs: the same work, timed inside the program, bare and in each sandbox.

Every notified call (a connection, an exec, an open, a file-system change, a new descriptor,
the exit) stops the calling process until the supervisor, a process outside the sandbox, has
read its arguments and let it go on. Two programs time themselves from the inside (so sandbox
start-up is not counted):

* 1,000 opens of a folder (`openat` is notified, `close` is not; the supervisor reads the path
  and finds it not worth recording) — the price of one notified call, against the same loop in
  a bare `python3` (no filter);
* importing 12 standard-library modules, each import opening its files: what a realistic
  suggestion's start pays. The supervisor's record says how many calls were notified.

The rounds interleave the contenders (bare, then each backend) so drift lands on all alike.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from typing import Any

from bench.common import Context, Section, Series, Target, bar_plot, fmt, opened_backend

CALLS = 1000
# The notified-call price a user would notice only in a program that makes thousands of them.
TARGET_PER_CALL_US = 100.0
DUP_LOOP = textwrap.dedent(f"""
    import os, time
    t = time.perf_counter()
    for _ in range({CALLS}):
        os.close(os.open("/usr", os.O_RDONLY | os.O_DIRECTORY))
    print((time.perf_counter() - t) * 1000)
""")
IMPORTS = textwrap.dedent("""
    import time
    t = time.perf_counter()
    import json, csv, decimal, email.message, http.client, urllib.request, logging, dataclasses, \\
        statistics, tempfile, pathlib, argparse
    print((time.perf_counter() - t) * 1000)
""")


def _inner_ms(stdout: str, what: str) -> float:
    try:
        return float(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(f"{what}: no timing on stdout: {stdout[-300:]!r}") from None


def run(ctx: Context) -> list[Section]:
    from sandgate.policy.model import SandboxPolicy
    from sandgate.sandbox import protocol
    from sandgate.sandbox.base import RunRequest
    from sandgate.sandbox.select import close_all

    n = ctx.n(30, 3)
    policy = SandboxPolicy()
    programs = {"1,000 notified calls": DUP_LOOP, "12 stdlib imports": IMPORTS}
    notified: dict[str, list[int]] = {}

    def bare(code: str) -> Callable[[], float]:
        def call() -> float:
            done = subprocess.run(
                [protocol.PYTHON, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60, check=True
            )
            return _inner_ms(done.stdout, "bare")

        return call

    def sandboxed(backend: Any, code: str, label: str) -> Callable[[], float]:
        def call() -> float:
            result = backend.run(RunRequest(code=code, limits=policy.limits))
            if result.error or result.exit_code != 0 or result.outside is None or not result.outside.armed:
                raise RuntimeError(
                    f"{label}: the run failed or was not supervised: {result.error or result.stderr[-300:]}"
                )
            notified.setdefault(label, []).append(result.outside.notifications)
            return _inner_ms(result.stdout, label)

        return call

    contenders: dict[str, Callable[[], float]] = {}
    try:
        for what, code in programs.items():
            contenders[f"{what}, bare python3"] = bare(code)
            for name in ctx.backends:
                backend = opened_backend(name, policy)
                backend.warm(RunRequest(code="", limits=policy.limits))
                label = f"{what}, {name} (supervised)"
                contenders[label] = sandboxed(backend, code, label)
        ctx.log(f"supervisor: {len(contenders)} contenders, {n} rounds")
        for fn in contenders.values():  # warm-up
            fn()
        notified.clear()
        samples: dict[str, list[float]] = {k: [] for k in contenders}
        for _ in range(n):
            for label, fn in contenders.items():
                samples[label].append(fn())
    finally:
        close_all()

    series = {k: Series(k, v) for k, v in samples.items()}
    rows, targets = [], []
    for what in programs:
        base = series[f"{what}, bare python3"]
        for label, s in series.items():
            if not label.startswith(what):
                continue
            calls = notified.get(label, [])
            mean_calls = sum(calls) / len(calls) if calls else 0
            extra_us = (s.p50 - base.p50) * 1000
            per_call = extra_us / mean_calls if mean_calls else float("nan")
            rows.append(
                [
                    label,
                    fmt(s.p50),
                    fmt(s.p95),
                    f"{fmt(s.p50 / base.p50)}×",
                    f"{mean_calls:.0f}" if calls else "–",
                    fmt(per_call) if calls else "–",
                ]
            )
            if calls and what.startswith("1,000"):
                targets.append(
                    Target(f"one notified call, {label.split(', ')[1]} (µs, p50)", per_call, TARGET_PER_CALL_US, " µs")
                )
    png = "supervisor.png"
    bar_plot(
        ctx.out_dir / png,
        "The same work timed inside the program",
        list(series.values()),
        baseline=f"{next(iter(programs))}, bare python3",
    )
    notes = [
        f"{n} interleaved rounds after one warm-up; each figure is the program's own timing of its work (sandbox "
        "start-up excluded). “notified” is the supervisor's count of the run's notified calls (the program's and "
        "the bootstrap's: arming, reading the program, the exit); “µs per call” is the extra time over bare "
        "python3 divided by it. The sandboxed rows include everything else a sandbox adds to the same work "
        "(cgroup and rlimits, audit hooks), so they bound the supervisor's share from above.",
    ]
    return [
        Section(
            key="supervisor",
            title="What the supervisor costs",
            header=["work", "p50 (ms)", "p95 (ms)", "× bare (p50)", "notified calls", "µs per call (p50)"],
            rows=rows,
            targets=targets,
            plots=[png],
            notes=notes,
            raw={"rounds": n, "series": {s.label: s.to_json() for s in series.values()}, "notified": notified},
        )
    ]
