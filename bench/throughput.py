"""Throughput: vets per second on this machine, per sandbox backend, through the real pipeline.

`Vetter.vet` on distinct suggestions (nothing repeats, so nothing can be served from a cache),
4 in flight (issue 20's "4 concurrent vets"), admitted as the language server admits them: at most
`vet_concurrency()` at once (its vet slots, lsp/vet_slots.py: cores - 1), the rest waiting their
turn, for a fixed wall-clock budget per backend. The workspace is a
trusted folder with a file in it, so a run gets the workspace bound in as the server's would.
Static-only vets (the policy allows no sandbox backend, and does not require one) give the
ceiling: everything but the sandbox run.

Every vet is checked: allowed, the sandbox (where there is one) ran the program to its expected
output. The backend's warm pool is counted: how many runs found a sandbox waiting.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import Context, Section, Series, Target, fmt, machine_cpu
from bench.sandbox_runs import TakeCounter, background_settled, benign_suggestion, pool_full

STATIC = "static only (no sandbox)"
# Issue 20's promises for Docker at the vet pool's concurrency.
DOCKER_CPU_MS = 150.0
DOCKER_POOL_SHARE = 80.0
# Docker with a container made for every run (SANDGATE_DOCKER_NESTED=0), beside the sandboxes made
# in long-lived containers (docker_nested.py): what an image without bubblewrap gets.
DOCKER_PER_RUN = "docker, a container per run"


IN_FLIGHT = 4  # vets asked for at once


def server_slots() -> int:
    """How many of them run at once: the language server's vet slots (lsp/vet_slots.py)."""
    from sandgate.sandbox.pool import vet_concurrency

    return vet_concurrency()


@dataclasses.dataclass
class Outcome:
    label: str
    workers: int
    vets: int
    elapsed_s: float
    latency: Series
    served: str = ""
    warm: int = 0
    pool_size: int = 0
    fillers: int = 0
    cpu_s: float = float("nan")  # the machine's busy CPU seconds meanwhile (every process)

    @property
    def cpu_ms_per_vet(self) -> float:
        return 1000 * self.cpu_s / self.vets if self.vets else float("nan")

    @property
    def rate(self) -> float:
        return self.vets / self.elapsed_s if self.elapsed_s else 0.0


def _drive(
    vetter: Any,
    label: str,
    budget_s: float,
    workers: int,
    seeds: itertools.count,
    with_sandbox: bool,
    cpu_s: list[float] | None = None,
    slots: int | None = None,
) -> tuple[int, float, list[float]]:
    """Vet distinct suggestions from `workers` threads, at most `slots` at once (all, when None),
    until `budget_s` has passed; every thread finishes the vet it is in. Returns (vets, elapsed
    seconds, their latencies in ms, a slot's wait included); any vet that did not go as expected
    raises. `cpu_s[0]` gets the machine's busy CPU seconds over the run."""
    from sandgate.findings import Verdict
    from sandgate.suggestion import Suggestion

    lock = threading.Lock()
    turns = threading.BoundedSemaphore(slots or workers)
    latencies: list[float] = []
    failures: list[str] = []
    cpu_s = cpu_s if cpu_s is not None else [0.0]

    def check(result: Any, expected: str) -> str | None:
        if result.verdict is not Verdict.ALLOW:
            return f"decision {result.verdict}: {[r.text for r in result.reasons if r.verdict > Verdict.ALLOW]}"
        if with_sandbox:
            run = result.sandbox
            if run is None:
                return f"no sandbox run: {result.sandbox_skipped}"
            if run.error or run.exit_code != 0 or run.stdout != expected:
                return f"sandbox run: exit {run.exit_code}, error {run.error}, stdout {run.stdout[:120]!r}"
        elif result.sandbox is not None:
            return "a sandbox ran in a static-only vet"
        return None

    cpu0 = machine_cpu()
    start = time.perf_counter()
    deadline = start + budget_s

    def worker() -> None:
        while time.perf_counter() < deadline and not failures:
            with lock:
                seed = next(seeds)
            code, expected = benign_suggestion(seed)
            t0 = time.perf_counter()
            try:
                with turns:
                    result = vetter.vet(Suggestion(code, path=f"bench/suggestion_{seed}.py"))
                problem = check(result, expected)
            except Exception as exc:  # noqa: BLE001 - judged below
                problem = f"{type(exc).__name__}: {exc}"
            took = (time.perf_counter() - t0) * 1000
            with lock:
                if problem:
                    failures.append(problem)
                else:
                    latencies.append(took)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bench-vet") as pool:
        for f in [pool.submit(worker) for _ in range(workers)]:
            f.result()
    elapsed = time.perf_counter() - start
    cpu1 = machine_cpu()
    cpu_s[0] = cpu1[0] - cpu0[0] if cpu0 is not None and cpu1 is not None else float("nan")
    if failures:
        raise RuntimeError(f"{label}: a vet did not go as expected: {failures[0]}")
    return len(latencies), elapsed, latencies


def run(ctx: Context) -> list[Section]:
    from sandgate.pipeline import Vetter
    from sandgate.policy.load import load_effective
    from sandgate.sandbox.select import close_all

    budget = ctx.n(15, 3)
    static_budget = ctx.n(6, 2)
    workers, slots = IN_FLIGHT, server_slots()
    seeds = itertools.count(1)

    workspace = Path(tempfile.mkdtemp(prefix="sandgate-bench-ws-"))
    os.chmod(workspace, 0o755)  # readable by the sandbox user: Docker binds it, as for a usual project
    (workspace / "helpers.py").write_text("def double(x):\n    return 2 * x\n", encoding="utf-8")
    loaded = load_effective(workspace, preset="balanced")
    if loaded.errors:
        raise RuntimeError(f"policy: {loaded.errors}")

    outcomes: list[Outcome] = []
    try:
        no_sandbox = dataclasses.replace(
            loaded,
            policy=dataclasses.replace(
                loaded.policy, sandbox=dataclasses.replace(loaded.policy.sandbox, backends=(), required=False)
            ),
        )
        static_vetter = Vetter(no_sandbox, backend="auto", workspace=workspace)
        _drive(static_vetter, STATIC, min(1.0, static_budget), workers, seeds, with_sandbox=False)  # warm-up
        ctx.log(f"throughput: {STATIC}, {static_budget} s, {workers} in flight, {slots} at once")
        cpu = [0.0]
        n, elapsed, lat = _drive(
            static_vetter, STATIC, static_budget, workers, seeds, with_sandbox=False, cpu_s=cpu, slots=slots
        )
        outcomes.append(Outcome(STATIC, workers, n, elapsed, Series(STATIC, lat), cpu_s=cpu[0]))

        contenders = list(ctx.backends)
        if "docker" in contenders:
            from sandgate.sandbox.docker_backend import DockerBackend

            contenders.insert(contenders.index("docker") + 1, DOCKER_PER_RUN)
        extra: list[Any] = []
        for name in contenders:
            vetter = Vetter(loaded, backend="docker" if name == DOCKER_PER_RUN else name, workspace=workspace)
            if name == DOCKER_PER_RUN:
                from sandgate.sandbox.base import Probe
                from sandgate.sandbox.docker_backend import DockerBackend

                # A backend of its own (the shared one nests): handed to this vetter directly.
                per_run = DockerBackend(nested=False)
                extra.append(per_run)
                vetter._backend, vetter._probes = per_run, [Probe("docker", True, "a container per run")]
            backend, probes = vetter.backend()
            if backend is None:
                raise RuntimeError(f"{name}: no backend: {probes}")
            vetter.warm()
            # Warm-up: imports, the first runs, the pool filled for this workspace's spec.
            _drive(vetter, name, 0.5, 1, seeds, with_sandbox=True)
            background_settled()  # the previous backend's too
            pool_full(backend)
            counter = TakeCounter(backend)
            try:
                ctx.log(f"throughput: {name}, {budget} s, {workers} in flight, {slots} at once")
                cpu = [0.0]
                n, elapsed, lat = _drive(
                    vetter, name, budget, workers, seeds, with_sandbox=True, cpu_s=cpu, slots=slots
                )
            finally:
                counter.restore()
            size = getattr(getattr(backend, "pool", None), "size", 0)
            fillers = getattr(getattr(backend, "pool", None), "fillers", 1)
            served = f"{counter.warm}/{n} from the pool (pool of {size}, {fillers} filling)" if size else ""
            outcomes.append(
                Outcome(name, workers, n, elapsed, Series(name, lat), served, counter.warm, size, fillers, cpu[0])
            )
            # Not vetter.close(): the backend is shared per process (sandbox.select).
    finally:
        for own in extra:
            own.close()
        close_all()  # every shared backend: pools emptied, containers and sandboxes gone
        shutil.rmtree(workspace, ignore_errors=True)

    rows = [
        [
            o.label,
            f"{o.workers} / {slots}",
            str(o.vets),
            f"{o.elapsed_s:.1f}",
            fmt(o.rate),
            fmt(o.latency.p50),
            fmt(o.latency.p95),
            fmt(o.cpu_ms_per_vet),
            o.served,
        ]
        for o in outcomes
    ]
    png = "throughput.png"
    _plot(ctx.out_dir / png, outcomes)

    ceiling = outcomes[0]
    notes = [
        f"Vets of distinct {benign_suggestion(0)[0].count(chr(10))}-line suggestions (benign: each runs and prints; "
        f"the balanced preset allows them) through `Vetter.vet`, {workers} in flight and at most {slots} running at "
        f"once — the language server's vet slots on this {os.cpu_count()}-core machine (cores - 1, lsp/vet_slots.py) — "
        f"for {budget} s per backend ({static_budget} s static-only), after a short warm-up. Latency is one vet's wall "
        "time from its ask: the wait for a slot and for the cores included.",
        f"The static-only row is the ceiling: parsing, secrets, code rules and bandit in-process, then the decision — "
        f"pure Python, so one core's worth whatever the slot count (the GIL), {fmt(ceiling.rate)} vets/s here.",
    ]
    cores = os.cpu_count() or 1
    notes.append(
        "Machine CPU per vet: the whole machine's busy CPU time over the run (this process, the container engine, "
        "the sandboxes — and anything else running) divided by the vets; on "
        f"{cores} cores it caps the rate at {cores} × 1000 ÷ that: "
        + ", ".join(
            f"{o.label} {fmt(cores * 1000 / o.cpu_ms_per_vet)} vets/s"
            for o in outcomes
            if o.cpu_ms_per_vet == o.cpu_ms_per_vet and o.cpu_ms_per_vet > 0
        )
        + ". A cap close to the measured rate means the cores were saturated: CPU, not waiting, bounds it."
    )
    for o in outcomes[1:]:
        if o.pool_size:
            share = o.warm / o.vets if o.vets else 0.0
            text = (
                f"{o.label}: {o.warm} of {o.vets} runs ({share:.0%}) found a sandbox waiting in the pool of "
                f"{o.pool_size}; the pool is refilled as soon as one is taken, by up to {o.fillers} "
                f"thread{'s' if o.fillers > 1 else ''} at once, and a run "
                + (
                    "that finds it empty waits up to a second for a container being made, else makes its own."
                    if o.label.startswith("docker")
                    else "that finds it empty makes its own (the cold path) while competing with that refill."
                )
            )
            if o.label == DOCKER_PER_RUN:
                text += (
                    " Every vet costs a container's create, start, exit and removal in the engine (dockerd, "
                    "containerd, its shim and the runtime Sandgate chose (crun when registered)), pooled or not: "
                    f"{fmt(o.cpu_ms_per_vet)} ms of the machine's CPU per vet here."
                )
            elif o.label.startswith("docker"):
                text += (
                    " Each vet's sandbox is a bubblewrap sandbox made inside a long-lived container "
                    "(docker_nested.py), so no vet costs the engine anything: "
                    f"{fmt(o.cpu_ms_per_vet)} ms of the machine's CPU per vet here."
                )
            else:
                text += (
                    " Each vet is a Python start in a sandbox (made ahead or in the run) plus the static checks "
                    "under the GIL: the two cores bound the rate."
                )
            notes.append(text)
    raw = {
        "workers": workers,
        "slots": slots,
        "budget_s": budget,
        "static_budget_s": static_budget,
        "outcomes": [
            {
                "label": o.label,
                "vets": o.vets,
                "elapsed_s": round(o.elapsed_s, 3),
                "vets_per_s": round(o.rate, 3),
                "served": o.served,
                "machine_cpu_s": round(o.cpu_s, 3),
                "latency": o.latency.to_json(),
            }
            for o in outcomes
        ],
    }
    targets = [
        t
        for o in outcomes
        if o.label == "docker" and o.vets
        for t in (
            Target(f"machine CPU per Docker vet, {o.workers} in flight", o.cpu_ms_per_vet, DOCKER_CPU_MS, "ms"),
            Target(
                f"Docker runs served from the warm pool, {o.workers} in flight",
                100 * o.warm / o.vets,
                DOCKER_POOL_SHARE,
                "%",
                higher_is_better=True,
            ),
        )
    ]
    return [
        Section(
            key="throughput",
            title=f"Throughput: vets per second on {os.cpu_count()} cores",
            header=[
                "backend",
                "in flight / at once",
                "vets",
                "seconds",
                "vets/s",
                "latency p50 (ms)",
                "latency p95 (ms)",
                "machine CPU per vet (ms)",
                "served",
            ],
            rows=rows,
            targets=targets,
            plots=[png],
            notes=notes,
            raw=raw,
        )
    ]


def _plot(path: Path, outcomes: list[Outcome]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.4), dpi=110)
    labels = [o.label for o in outcomes]
    rates = [o.rate for o in outcomes]
    colours = ["#9e9e9e" if o.label == STATIC else "#3b6ea8" for o in outcomes]
    ax.bar(range(len(outcomes)), rates, color=colours)
    for i, v in enumerate(rates):
        ax.annotate(fmt(v), (i, v), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8)
    ax.set_xticks(range(len(outcomes)), labels, fontsize=8)
    ax.set_yscale("log")
    if rates and min(rates) > 0:
        ax.set_ylim(min(rates) / 2, max(rates) * 2)
    ax.set_ylabel("vets per second (log)")
    workers = outcomes[0].workers if outcomes else 0
    ax.set_title(f"Vets per second, {workers} concurrent vets (grey: static checks only, the ceiling)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
