"""A sandbox run of one suggestion: bare `python3`, bubblewrap, Docker warm and Docker cold.

The same small benign program (it computes something and prints it) runs each way, round by
round so the machine's drift lands on every contender alike:

* `python3 -I -S -c pass`: the interpreter's own start, for reference;
* bare `python3 suggestion.py`: the baseline, a plain Python start on the same file;
* bubblewrap: `BwrapBackend.run` (namespaces, limits, the monitoring bootstrap);
* Docker, warm pool: `DockerBackend.run` taking a pooled sandbox (a bubblewrap sandbox parked in a
  long-lived container, docker_nested.py, its Python waiting on stdin); before every sample the
  pool is let refill (not timed), and the samples that really got a pooled sandbox are counted;
* Docker, cold: a hardened container made for the run (a backend with `pool_size=0` and no nested
  containers, whose pool never fills: `run` creates, starts, runs and removes it).

Every run is checked (exit 0, the expected output, no backend error); a failing run stops the
benchmark rather than measure the wrong path.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import REPO, Context, Section, Series, Target, bar_plot, fmt, opened_backend

TARGET_BWRAP_RATIO = 2.0
TARGET_WARM_RATIO = 1 / 3
POOL_WAIT_S = 30.0
BARE = "bare python3"
BWRAP = "bubblewrap"  # as the server runs it (from its warm pool, when it has one)
BWRAP_COLD = "bubblewrap, made per run (no pool)"
DOCKER_WARM = "Docker, warm pool"
DOCKER_COLD = "Docker, cold hardened run"
COLD = (BWRAP_COLD, DOCKER_COLD)
EXERCISED = ", exercised"  # the same backend with micro-execution and honeytokens (issue 14)
HONEY_ONLY = ", honeytokens only"  # … with the honeytokens planted but nothing called


def benign_suggestion(seed: int = 0) -> tuple[str, str]:
    """A small realistic program that runs and prints, and the stdout it must produce."""
    code = textwrap.dedent(f'''\
        import json
        from collections import Counter


        def word_counts(text):
            """The words of a text, lower-cased, without punctuation, counted."""
            words = (w.strip(".,;:!?").lower() for w in text.split())
            return Counter(w for w in words if w)


        def report(text, top=3):
            counts = word_counts(text)
            return {{"id": {seed}, "words": sum(counts.values()), "top": counts.most_common(top)}}


        if __name__ == "__main__":
            sample = "The quick brown fox jumps over the lazy dog; the dog sleeps, the fox runs {seed}."
            print(json.dumps(report(sample)))
        ''')
    out = io.StringIO()
    # Its own `print` (not redirect_stdout, which swaps sys.stdout for every thread).
    exec(
        compile(code, "suggestion.py", "exec"),  # noqa: S102 - our own code
        {"__name__": "__main__", "print": lambda *a: print(*a, file=out)},
    )
    return code, out.getvalue()


def check_run(result: Any, expected: str, what: str) -> None:
    """Fail loudly unless a sandbox run completed as a plain run of the program would."""
    problems = []
    if result.error:
        problems.append(f"backend error: {result.error}")
    if result.exit_code != 0:
        problems.append(f"exit {result.exit_code}")
    if result.timed_out or result.killed:
        problems.append(f"stopped: {result.killed or 'time'}")
    if result.stdout != expected:
        problems.append(f"stdout {result.stdout[:200]!r} (expected {expected!r})")
    if problems:
        raise RuntimeError(f"{what} run failed: {'; '.join(problems)}; stderr: {result.stderr[-500:]!r}")


def pool_full(backend: Any, timeout: float = POOL_WAIT_S) -> bool:
    """Wait (untimed) until a pooled backend's pool holds all it wants; True when it does.

    Backends without a `pool` (or with `pool.size == 0`) are full at once."""
    pool = getattr(backend, "pool", None)
    size = getattr(pool, "size", 0) if pool is not None else 0
    if not size or not hasattr(pool, "idle"):
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(pool.idle()) >= size:
            return True
        time.sleep(0.01)
    return False


def background_settled(timeout: float = POOL_WAIT_S) -> bool:
    """Wait (untimed) for a backend's one-off background work (e.g. removing a used container)
    to end, so it lands on the sample that caused it, not on the next contender's. Threads named
    `sandgate-*`, except the long-lived ones: the pool fillers (`*-pool`) and the supervisor's reader."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [
            t
            for t in threading.enumerate()
            if t.name.startswith("sandgate-")
            and not t.name.endswith("-pool")
            and t.name != "sandgate-supervision"
            and t.is_alive()
        ]
        if not busy:
            return True
        busy[0].join(timeout=max(deadline - time.monotonic(), 0))
    return False


class TakeCounter:
    """Counts how a pooled backend's runs were served: from the pool, or made in the run."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.hits = self.misses = self.cold_starts = 0
        self._lock = threading.Lock()
        self._undo: list[Callable[[], None]] = []
        pool = getattr(backend, "pool", None)
        if pool is not None and hasattr(pool, "take"):
            take = pool.take

            def counted_take(key):  # noqa: ANN001
                item = take(key)
                with self._lock:
                    if item is None:
                        self.misses += 1
                    else:
                        self.hits += 1
                return item

            pool.take = counted_take
            self._undo.append(lambda: pool.__dict__.pop("take", None))
        if hasattr(backend, "_make_pooled"):
            # The pool made its own bound method at construction: only run()'s cold starts
            # (pool empty, or a pooled sandbox found dead) go through the instance attribute.
            start = backend._make_pooled

            def counted_start(spec):  # noqa: ANN001
                with self._lock:
                    self.cold_starts += 1
                return start(spec)

            backend._make_pooled = counted_start
            self._undo.append(lambda: backend.__dict__.pop("_make_pooled", None))

    def reset(self) -> None:
        with self._lock:
            self.hits = self.misses = self.cold_starts = 0

    @property
    def warm(self) -> int:
        """Runs that really used a pooled item (a pooled container found dead ran cold)."""
        return max(self.hits - max(self.cold_starts - self.misses, 0), 0)

    def restore(self) -> None:
        for undo in self._undo:
            undo()
        self._undo.clear()


def _measure(
    contenders: dict[str, Callable[[], Any]],
    n: int,
    warmup: int,
    before: Callable[[], None],
    measuring: Callable[[], None],
) -> dict[str, Series]:
    """Round-robin timing like `bench.common.interleaved`, with an untimed `before()` ahead of
    every call (the warm pools refill there, so no sample competes with a refill it did not
    cause); `measuring()` is called once the warm-up rounds are done."""
    for _ in range(warmup):
        for fn in contenders.values():
            before()
            fn()
    measuring()
    samples: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(n):
        for label, fn in contenders.items():
            before()
            t0 = time.perf_counter()
            fn()
            samples[label].append((time.perf_counter() - t0) * 1000)
    return {k: Series(k, v) for k, v in samples.items()}


_FIRST_RUN = r"""
import json, sys, time
from sandgate.policy.model import SandboxPolicy
from sandgate.sandbox.base import RunRequest
from sandgate.sandbox.select import get_backend
policy = SandboxPolicy()
backend = get_backend(sys.argv[1], policy)
code = sys.stdin.read()
req = RunRequest(code=code, limits=policy.limits)
t1 = time.perf_counter()
first = backend.run(req)
t2 = time.perf_counter()
second = backend.run(req)
t3 = time.perf_counter()
backend.close()
print(json.dumps({"first_ms": (t2 - t1) * 1000, "second_ms": (t3 - t2) * 1000,
                  "first": [first.exit_code, first.stdout, first.error], "second": [second.exit_code, second.stdout, second.error]}))
"""


def first_runs(backend: str, code: str, expected: str, n: int) -> tuple[Series, Series]:
    """The first and second run of `backend` in a fresh Python process (no probe before it)."""
    first, second = [], []
    for _ in range(n):
        proc = subprocess.run(
            [sys.executable, "-c", _FIRST_RUN, backend],
            input=code,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
            env=_env(),
        )
        if proc.returncode != 0:
            raise RuntimeError(f"first {backend} run in a fresh process failed: {proc.stderr[-800:]}")
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        for key in ("first", "second"):
            exit_code, stdout, error = data[key]
            if exit_code != 0 or stdout != expected or error:
                raise RuntimeError(f"{key} {backend} run in a fresh process failed: {data[key]}")
        first.append(data["first_ms"])
        second.append(data["second_ms"])
    return (
        Series(f"{backend}, first run in a fresh process", first),
        Series(f"{backend}, second run in that process", second),
    )


def _env() -> dict[str, str]:
    import os

    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}


def run(ctx: Context) -> list[Section]:
    from sandgate.policy.model import SandboxPolicy
    from sandgate.sandbox import protocol
    from sandgate.sandbox.base import RunRequest
    from sandgate.sandbox.select import close_all

    n = ctx.n(50, 4)
    warmup = ctx.n(3, 1)
    policy = SandboxPolicy()
    code, expected = benign_suggestion()
    request = RunRequest(code=code, limits=policy.limits)
    python = protocol.PYTHON  # the interpreter the sandboxes run

    tmp = Path(tempfile.mkdtemp(prefix="sandgate-bench-sandbox-"))
    script = tmp / "suggestion.py"
    script.write_text(code, encoding="utf-8")

    def bare() -> None:
        proc = subprocess.run([python, str(script)], capture_output=True, text=True, cwd=tmp, timeout=30)
        if proc.returncode != 0 or proc.stdout != expected:
            raise RuntimeError(f"bare python3 failed: exit {proc.returncode}, {proc.stdout!r} {proc.stderr[-300:]!r}")

    def bare_pass() -> None:
        subprocess.run([python, "-I", "-S", "-c", "pass"], check=True, timeout=30)

    contenders: dict[str, Callable[[], Any]] = {"python3 -I -S -c pass": bare_pass, BARE: bare}
    counters: dict[str, TakeCounter] = {}
    pooled: list[Any] = []
    owned: list[Any] = []  # backends made here, closed here

    def checked(backend: Any, what: str) -> Callable[[], None]:
        def call() -> None:
            check_run(backend.run(request), expected, what)

        return call

    def exercised(backend: Any, what: str, call_functions: bool = True) -> Callable[[], None]:
        """As the pipeline runs a suggestion: honeytokens planted, its functions called after the body
        (`call_functions=False`: the honeytokens alone, to split the cost)."""
        from sandgate.checks.parsing import parse
        from sandgate.sandbox import exercise, honeytokens

        span = (1, code.count("\n"))
        targets = exercise.targets(parse(code), *span) if call_functions else ()

        def call() -> None:
            run = RunRequest(code=code, limits=policy.limits, honey=honeytokens.new(), span=span, exercise=targets)
            check_run(backend.run(run), expected, what)

        return call

    try:
        if "bwrap" in ctx.backends:
            bwrap = opened_backend("bwrap", policy)
            if getattr(getattr(bwrap, "pool", None), "size", 0):
                # Pooled (as the server runs it): also measure it made per run, like Docker cold.
                bwrap.warm(request)
                pooled.append(bwrap)
                counters[BWRAP] = TakeCounter(bwrap)
                contenders[BWRAP] = checked(bwrap, "bubblewrap")
                contenders[BWRAP + EXERCISED] = exercised(bwrap, "bubblewrap exercised")
                contenders[BWRAP + HONEY_ONLY] = exercised(bwrap, "bubblewrap honeytokens", call_functions=False)
                from sandgate.sandbox.bwrap_backend import BwrapBackend

                bwrap_cold = BwrapBackend(pool_size=0)
                owned.append(bwrap_cold)
                counters[BWRAP_COLD] = TakeCounter(bwrap_cold)
                contenders[BWRAP_COLD] = checked(bwrap_cold, "bubblewrap cold")
            else:
                contenders[BWRAP] = checked(bwrap, "bubblewrap")
        if "docker" in ctx.backends:
            from sandgate.sandbox.docker_backend import DockerBackend

            warm = DockerBackend(image=policy.image)
            # A container made for the run, as every run was before nested containers (and still
            # is on a remote engine): what the pool spares a run.
            cold = DockerBackend(image=policy.image, pool_size=0, nested=False)
            owned += [warm, cold]
            warm.warm(request)
            pooled.append(warm)
            counters[DOCKER_WARM] = TakeCounter(warm)
            counters[DOCKER_COLD] = TakeCounter(cold)
            contenders[DOCKER_WARM] = checked(warm, "Docker warm")
            contenders[DOCKER_WARM + EXERCISED] = exercised(warm, "Docker warm exercised")
            contenders[DOCKER_WARM + HONEY_ONLY] = exercised(warm, "Docker honeytokens", call_functions=False)
            contenders[DOCKER_COLD] = checked(cold, "Docker cold")

        not_full = [0]

        def before() -> None:
            settled = background_settled()
            for backend in pooled:
                settled = pool_full(backend) and settled
            if not settled:
                not_full[0] += 1

        ctx.log(f"sandbox runs: {len(contenders)} contenders, {n} rounds")
        series = _measure(contenders, n, warmup, before, lambda: [c.reset() for c in counters.values()])
        calls = n  # the counters count the measured runs only
        warm_share = {label: (c.warm, c.hits, c.misses, c.cold_starts) for label, c in counters.items()}

        extra: list[Series] = []
        if "bwrap" in ctx.backends:
            k = ctx.n(6, 1)
            ctx.log(f"sandbox runs: bubblewrap first runs in {k} fresh processes")
            extra = list(first_runs("bwrap", code, expected, k))
    finally:
        for c in counters.values():
            c.restore()
        for backend in owned:
            backend.close()
        close_all()  # the shared backends too (their idle sandboxes, the bwrap /etc copy)
        script.unlink(missing_ok=True)
        tmp.rmdir()

    base = series[BARE]
    rows = []
    for label, s in series.items():
        served = ""
        if label in warm_share:
            w, hits, misses, cold_starts = warm_share[label]
            takes = calls * (3 if label + EXERCISED in series else 1)  # the exercised rows take from it too
            served = (
                f"{max(misses, cold_starts)}/{calls} made in the run" if label in COLD else f"{w}/{takes} from the pool"
            )
            if takes > calls:
                served += " (with the rows below it)"
        rows.append([label, fmt(s.p50), fmt(s.p95), f"{fmt(s.p50 / base.p50)}×", served])
    for s in extra:
        rows.append(
            [
                s.label,
                fmt(s.p50),
                fmt(s.p95),
                f"{fmt(s.p50 / base.p50)}×",
                f"{len(s.samples_ms)} fresh processes (not interleaved)",
            ]
        )

    targets = []
    ratios = [
        f"{label}: {fmt(series[label + EXERCISED].p50 / series[label].p50)}× (p50), "
        f"{fmt(series[label + EXERCISED].p95 / series[label].p95)}× (p95); the honeytokens alone "
        f"{fmt(series[label + HONEY_ONLY].p50 / series[label].p50)}× (p50)"
        for label in (BWRAP, DOCKER_WARM)
        if label + EXERCISED in series
    ]
    notes = [
        f"{n} interleaved rounds (after {warmup} warm-up rounds); p50 / p95 in ms of one run of the same "
        f"{code.count(chr(10))}-line program ({expected.strip()!r} on stdout, checked every run), under the default "
        f"limits ({policy.limits.wall_time_s:g} s wall, {policy.limits.memory_mb} MB). The baseline is a bare "
        f"`{python} suggestion.py` (a plain Python start with `site`, no isolation, no monitor).",
    ]
    if ratios:
        notes.append(
            "Micro-execution (issue 14): the *exercised* rows run the same program as the pipeline runs a "
            "suggestion — honeytokens planted in the sandbox's home and environment, and the functions it "
            "defines called after the module body (`sandbox/exercise.py`) — interleaved with the plain runs, "
            "on the same warm backend; the *honeytokens only* rows plant them and call nothing. Exercised ÷ plain: "
            + "; ".join(ratios)
            + "."
        )
    if BWRAP in series:
        ratio = series[BWRAP].p50 / base.p50
        pooled_bwrap = BWRAP in warm_share
        targets.append(Target("bubblewrap vet ÷ bare Python start (p50)", ratio, TARGET_BWRAP_RATIO, "×"))
        text = (
            "Bubblewrap: a run made per run pays the sandbox's set-up (prlimit, a cgroup where one is writable "
            "and the shell that joins it, bwrap's namespaces and mounts) and a Python start under the monitoring "
            "bootstrap (audit hooks, the event pipe); `python3 -I -S -c pass` is the interpreter's floor."
        )
        if pooled_bwrap:
            w = warm_share[BWRAP][0]
            calls_bwrap = calls * (3 if BWRAP + EXERCISED in series else 1)
            cold_ratio = series[BWRAP_COLD].p50 / base.p50
            than = "less than" if ratio < 0.95 else "about" if ratio <= 1.05 else "more than"
            text += (
                f" The server's runs come from a warm pool ({w} of {calls_bwrap} here): a pooled sandbox has all that "
                f"done and its Python waiting on stdin, so a run is the program itself plus handing it over and "
                f"tearing the sandbox down — {than} a bare Python start. Made per run it is {fmt(cold_ratio)}× "
                f"a bare start."
            )
        if extra:
            text += (
                " The fresh-process rows import the backend in a new process and run twice, with no probe "
                "before: the first run pays the backend's one-time set-up (finding the host's Python runtime, "
                "writing the sandbox's /etc) and finds the pool empty; the server pays that in its start-up "
                "probe and warms the pool there, before any vet."
            )
        notes.append(text)
    if DOCKER_WARM in series:
        warm, cold = series[DOCKER_WARM], series[DOCKER_COLD]
        targets.append(
            Target(
                "Docker warm-pool vet ÷ cold hardened run (p50)", warm.p50 / cold.p50, round(TARGET_WARM_RATIO, 3), "×"
            )
        )
        w = warm_share[DOCKER_WARM][0]
        calls_docker = calls * (3 if DOCKER_WARM + EXERCISED in series else 1)
        notes.append(
            f"Docker: {w} of the {calls_docker} measured warm-pool runs took a pooled container"
            + (
                f"; the pools or background work had not settled before {not_full[0]} samples (waited {POOL_WAIT_S:g} s)"
                if not_full[0]
                else ""
            )
            + ". A warm run attaches to a container whose Python already waits on stdin, sends the program and "
            "reads its output until the end of the run (the bootstrap's exit event, or the stream's end); removing "
            "the container and refilling the pool happen in the background, and every sample here starts after "
            "they are done. The cold run adds create + start of the hardened container (docker-init, read-only "
            "root, tmpfs, seccomp, no network) and the Python start inside it."
        )
    png = "sandbox.png"
    bar_plot(
        ctx.out_dir / png,
        "One sandboxed run of the same suggestion",
        list(series.values()) + extra,
        log=True,
        baseline=BARE,
    )
    raw = {
        "rounds": n,
        "warmup": warmup,
        "python": python,
        "expected_stdout": expected,
        "served": {
            k: {"warm": v[0], "pool_hits": v[1], "pool_misses": v[2], "cold_starts_in_run": v[3], "calls": calls}
            for k, v in warm_share.items()
        },
        "pool_not_full_before": not_full[0],
        "series": {s.label: s.to_json() for s in list(series.values()) + extra},
    }
    return [
        Section(
            key="sandbox",
            title="A sandbox run of one suggestion",
            header=["run", "p50 (ms)", "p95 (ms)", "× bare python3 (p50)", "served"],
            rows=rows,
            targets=targets,
            plots=[png],
            notes=notes,
            raw=raw,
        )
    ]
