"""A sandbox run of a JavaScript or TypeScript suggestion (the Node runtime) beside Python's.

Round by round, on warm pools as the server runs them (the pools hold Python and Node sandboxes
at once, keyed by runtime; each sample waits, untimed, for both to be refilled):

* bare `python3 suggestion.py` (the baseline, as in sandbox_runs) and bare `node suggestion.js`;
* bubblewrap: the Python program, the same program in JavaScript (CommonJS) and in TypeScript;
* Docker, warm pool: the same three;
* on each backend, then, the JavaScript run with the exercise on and off in pairs (the exercise on:
  its `report` function called with stand-in arguments after the module body, lines reached by
  V8's block coverage, as the pipeline runs a suggestion that is that function's body).

Every run is checked (exit 0, the expected stdout, no backend error).
"""

from __future__ import annotations

import subprocess
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import Context, Section, Series, fmt, opened_backend
from bench.sandbox_runs import POOL_WAIT_S, _measure, background_settled, benign_suggestion, check_run

BARE = "bare python3"
BARE_NODE = "bare node (the project's)"
EXERCISED = "JavaScript, exercised"

JS = textwrap.dedent("""\
    function wordCounts(text) {
      const counts = new Map();
      for (const raw of text.split(/\\s+/)) {
        const w = raw.replace(/[.,;:!?]/g, '').toLowerCase();
        if (w) counts.set(w, (counts.get(w) || 0) + 1);
      }
      return counts;
    }

    function report(text, top = 3) {
      const counts = wordCounts(text);
      const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
      return { id: 0, words: [...counts.values()].reduce((a, b) => a + b, 0), top: sorted };
    }

    console.log(JSON.stringify(report('The quick brown fox jumps over the lazy dog; the dog sleeps, the fox runs 0.')));
    """)
TS = JS.replace("function wordCounts(text) {", "function wordCounts(text: string): Map<string, number> {").replace(
    "function report(text, top = 3) {", "function report(text: string, top: number = 3): object {"
)
EXPECTED = '{"id":0,"words":16,"top":[["the",4],["fox",2],["dog",2]]}\n'


def _both_pools_full(backend: Any, keys: int = 2) -> bool:
    pool = getattr(backend, "pool", None)
    if pool is None or not getattr(pool, "size", 0):
        return True
    deadline = time.monotonic() + POOL_WAIT_S
    while time.monotonic() < deadline:
        if len(pool.idle()) >= pool.size * keys and pool.making() == 0:
            return True
        time.sleep(0.01)
    return False


def run(ctx: Context) -> list[Section]:
    from sandgate.policy.model import SandboxPolicy
    from sandgate.sandbox import js_exercise, node_runtime, protocol
    from sandgate.sandbox.base import RunRequest
    from sandgate.sandbox.select import close_all

    n = ctx.n(40, 3)
    warmup = ctx.n(3, 1)
    policy = SandboxPolicy()
    code, expected = benign_suggestion()
    # The suggestion is report()'s body: the exercise calls report(text) after the module body.
    head = JS.split("\n").index("function report(text, top = 3) {") + 1
    span = (head + 1, head + 3)
    plan = js_exercise.plan(JS, *span)
    requests = {
        "Python": (RunRequest(code=code, limits=policy.limits), expected),
        "JavaScript": (RunRequest(code=JS, relpath="suggestion.js", runtime="node", limits=policy.limits), EXPECTED),
        "TypeScript": (RunRequest(code=TS, relpath="suggestion.ts", runtime="node", limits=policy.limits), EXPECTED),
        EXERCISED: (
            RunRequest(
                code=JS,
                relpath="suggestion.js",
                runtime="node",
                limits=policy.limits,
                span=span,
                exercise=plan.pairs,
                exercise_js=plan,
            ),
            EXPECTED,
        ),
    }
    node = node_runtime.discover().node
    tmp = Path(tempfile.mkdtemp(prefix="sandgate-bench-node-"))
    (tmp / "suggestion.py").write_text(code, encoding="utf-8")
    (tmp / "suggestion.js").write_text(JS, encoding="utf-8")

    def bare(argv: list[str], want: str) -> Callable[[], None]:
        def call() -> None:
            proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp, timeout=30)
            if proc.returncode != 0 or proc.stdout != want:
                raise RuntimeError(f"{argv[0]} failed: exit {proc.returncode}, {proc.stdout!r} {proc.stderr[-300:]!r}")

        return call

    contenders: dict[str, Callable[[], Any]] = {
        BARE: bare([protocol.PYTHON, "suggestion.py"], expected),
        BARE_NODE: bare([node, "suggestion.js"], EXPECTED),
    }
    pooled: list[Any] = []
    try:
        for name in ctx.backends:
            backend = opened_backend(name, policy)
            pooled.append(backend)
            for language, (request, want) in requests.items():
                backend.warm(request)
                if language == EXERCISED:
                    continue  # measured in pairs below

                def call(b: Any = backend, r: RunRequest = request, w: str = want, what: str = f"{name} {language}"):
                    result = b.run(r)
                    check_run(result, w, what)
                    if r.exercise and not any(e.get("kind") == "exercise-done" for e in result.events):
                        raise RuntimeError(f"{what}: the exercise did not finish: {result.events[-3:]}")

                contenders[f"{name}, {language}"] = call

        def before() -> None:
            background_settled()
            for backend in pooled:
                _both_pools_full(backend)

        ctx.log(f"node runs: {len(contenders)} contenders, {n} rounds")
        series: dict[str, Series] = _measure(contenders, n, warmup, before, lambda: None)
        # The exercise's cost: the same JavaScript run with and without it, in pairs whose order
        # alternates (which of two runs in a row finds its sandbox still starting is the pool's
        # business, not the exercise's).
        for backend, name in zip(pooled, ctx.backends, strict=True):
            pair = {label: requests[label][0] for label in ("JavaScript", EXERCISED)}
            samples: dict[str, list[float]] = {label: [] for label in pair}
            for i in range(warmup + n):
                for label in list(pair)[:: 1 if i % 2 else -1]:
                    before()
                    t0 = time.perf_counter()
                    result = backend.run(pair[label])
                    took = (time.perf_counter() - t0) * 1000
                    check_run(result, EXPECTED, f"{name} {label}")
                    if pair[label].exercise and not any(e.get("kind") == "exercise-done" for e in result.events):
                        raise RuntimeError(f"{name}: the exercise did not finish: {result.events[-3:]}")
                    if i >= warmup:
                        samples[label].append(took)
            series[f"{name}, JavaScript (paired)"] = Series(f"{name}, JavaScript (paired)", samples["JavaScript"])
            series[f"{name}, {EXERCISED}"] = Series(f"{name}, {EXERCISED}", samples[EXERCISED])
    finally:
        close_all()
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()

    base = series[BARE]
    rows = [[s.label, fmt(s.p50), fmt(s.p95), f"{fmt(s.p50 / base.p50)}×"] for s in series.values()]
    ratios = [
        f"{name}: JavaScript {fmt(series[f'{name}, JavaScript'].p50 / series[f'{name}, Python'].p50)}×, "
        f"TypeScript {fmt(series[f'{name}, TypeScript'].p50 / series[f'{name}, Python'].p50)}× Python's (p50)"
        for name in ctx.backends
    ]
    exercised = [
        f"{name}: {fmt(series[f'{name}, {EXERCISED}'].p50 / series[f'{name}, JavaScript (paired)'].p50)}× (p50), "
        f"{fmt(series[f'{name}, {EXERCISED}'].p95 / series[f'{name}, JavaScript (paired)'].p95)}× (p95)"
        for name in ctx.backends
    ]
    notes = [
        f"{n} interleaved rounds (after {warmup} warm-up rounds) of the same word-count program in Python, "
        "JavaScript and TypeScript, each from a warm pool; the baseline is a bare `python3 suggestion.py`. "
        "A Node sandbox is armed by Python's bootstrap, which then execs Node (docs/sandbox.md#the-node-runtime): "
        "that start is paid while the sandbox waits in the pool, as is type stripping's compiler.",
        "Node ÷ Python on the same backend: " + "; ".join(ratios) + ".",
        f"The exercise (report() called with stand-ins after the module body, V8's block coverage on for the "
        f"lines reached) ÷ the same JavaScript run without it, {n} pairs in alternating order after the rounds "
        'above (rows "JavaScript (paired)" and "JavaScript, exercised"): ' + "; ".join(exercised) + ".",
    ]
    return [
        Section(
            key="node",
            title="A sandbox run of a JavaScript or TypeScript suggestion",
            header=["run", "p50 (ms)", "p95 (ms)", "× bare python3 (p50)"],
            rows=rows,
            notes=notes,
            raw={s.label: s.samples_ms for s in series.values()},
        )
    ]
