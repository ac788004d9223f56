"""What every benchmark section shares: timing series, targets, the section record, plots.

Figures are judged as ratios to a baseline measured in the same run (these machines are noisy),
or against an absolute budget where the issue sets one; a target records both the figure and
the limit so the report can say how far off it is.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Context:
    quick: bool
    out_dir: Path  # where plots go (PNG), next to the markdown
    backends: list[str]  # sandbox backends that answered their probe, in report order
    log: Callable[[str], None] = print

    def n(self, full: int, quick: int) -> int:
        """Iterations: the full count, or a handful in quick mode (CI: the code keeps working)."""
        return quick if self.quick else full


@dataclass
class Series:
    """Samples of one thing, in milliseconds."""

    label: str
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 95)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples_ms)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "n": len(self.samples_ms),
            "p50_ms": round(self.p50, 3),
            "p95_ms": round(self.p95, 3),
            "samples_ms": [round(x, 3) for x in self.samples_ms],
        }


@dataclass
class Target:
    """One promise of the issue: `what` measured `value` (in `unit`); met when within `limit`.

    `higher_is_better` flips the comparison (e.g. "≥ 30× faster than the CLI")."""

    what: str
    value: float
    limit: float
    unit: str
    higher_is_better: bool = False

    @property
    def met(self) -> bool:
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def describe(self) -> tuple[str, str, str]:
        sign = "≥" if self.higher_is_better else "≤"
        return (self.what, f"{fmt(self.value)} {self.unit}".strip(), f"{sign} {fmt(self.limit)} {self.unit}".strip())


@dataclass
class Section:
    key: str  # file-name friendly: "static", "sandbox", ...
    title: str
    header: list[str]
    rows: list[list[str]]
    targets: list[Target] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)  # PNG file names in Context.out_dir
    notes: list[str] = field(default_factory=list)  # what the figures mean, what bounds them
    raw: dict[str, Any] = field(default_factory=dict)  # everything measured, for results.json


def opened_backend(name: str, policy: Any) -> Any:
    """The shared sandbox backend `name` (`sandbox.select.open_backend`) for `policy`; a benchmark
    without it measures nothing, so its absence is an error that names why."""
    from sandgate.sandbox.select import open_backend

    backend, probes = open_backend(name, policy)
    if backend is None:
        raise RuntimeError(f"{name} unavailable: {probes}")
    return backend


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) CPU seconds the whole machine has spent since boot, from /proc/stat; None
    where there is none. Busy: user, nice, system, irq, softirq — not idle, iowait, nor steal
    (another guest's); guest time is already inside user."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:3]) + sum(fields[5:7])) / tick, sum(fields) / tick


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is a sample that happened)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def fmt(x: float) -> str:
    if x != x:  # NaN
        return "–"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def time_calls(fn: Callable[[], Any], n: int, warmup: int = 2) -> list[float]:
    """Wall time of `n` calls of `fn` after `warmup` unmeasured ones, in ms (GC off while timing,
    so a collection triggered by earlier work does not land on one sample)."""
    for _ in range(warmup):
        fn()
    out = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000)
    finally:
        if enabled:
            gc.enable()
    return out


def interleaved(fns: dict[str, Callable[[], Any]], n: int, warmup: int = 2) -> dict[str, Series]:
    """Time several contenders round-robin, so drift in the machine's speed (other tenants,
    thermal) lands on all of them alike — the basis of a fair ratio."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(n):
        for label, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[label].append((time.perf_counter() - t0) * 1000)
    return {k: Series(k, v) for k, v in samples.items()}


def bar_plot(
    path: Path, title: str, series: list[Series], ylabel: str = "ms", log: bool = False, baseline: str | None = None
) -> None:
    """p50 bars with a p95 whisker; the baseline bar (if named) drawn grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6), dpi=110)
    labels = [s.label for s in series]
    p50 = [s.p50 for s in series]
    up = [max(s.p95 - s.p50, 0) for s in series]
    colours = ["#9e9e9e" if s.label == baseline else "#3b6ea8" for s in series]
    ax.bar(range(len(series)), p50, yerr=[[0] * len(series), up], color=colours, capsize=4)
    ax.set_xticks(range(len(series)), labels, rotation=15, ha="right", fontsize=8)
    for i, v in enumerate(p50):
        ax.annotate(fmt(v), (i, v), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8)
    ax.set_ylabel(ylabel + (" (log)" if log else ""))
    if log:
        ax.set_yscale("log")
    ax.set_title(title + "  (bar p50, whisker p95)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def line_plot(path: Path, title: str, xs: list[float], ys: dict[str, list[float]], xlabel: str, ylabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6), dpi=110)
    for label, values in ys.items():
        ax.plot(xs[: len(values)], values, label=label, linewidth=1.4)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
