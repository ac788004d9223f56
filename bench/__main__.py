"""Run every benchmark section and write the report.

    python -m bench            full run: docs/benchmarks.md and docs/benchmarks/*.png
    python -m bench --quick    a few iterations each, into build/bench-quick/ (CI: keeps it working)

Sections run one after another in this process (nothing else of ours competes for the two
cores); each one measures its contenders side by side, so its ratios hold even on a noisy host.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from bench.common import REPO, Context, Section

# Report order. Each module has `run(ctx) -> list[Section]`.
MODULES = (
    "bench.static_checks",
    "bench.static_recall",
    "bench.sandbox_runs",
    "bench.node_runs",
    "bench.node_modules_view",
    "bench.supervisor",
    "bench.prompt_guard",
    "bench.gateway",
    "bench.throughput",
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few iterations each (CI smoke run)")
    ap.add_argument(
        "--out", type=Path, help="report file (default: docs/benchmarks.md; quick: build/bench-quick/benchmarks.md)"
    )
    ap.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="MODULE",
        help="run only this module (e.g. static_checks); repeatable",
    )
    ap.add_argument("--backends", default="docker,bwrap", help="sandbox backends to measure (default: docker,bwrap)")
    args = ap.parse_args(argv)

    out = args.out or (REPO / "build/bench-quick/benchmarks.md" if args.quick else REPO / "docs/benchmarks.md")
    plots = out.parent / out.stem  # docs/benchmarks/ beside docs/benchmarks.md
    plots.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    ctx = Context(quick=args.quick, out_dir=plots, backends=_working_backends(args.backends.split(","), log), log=log)
    sections: list[Section] = []
    failed: list[str] = []
    for name in MODULES:
        if args.only and name.split(".")[-1] not in args.only:
            continue
        log(f"{name} …")
        started = time.monotonic()
        try:
            sections.extend(importlib.import_module(name).run(ctx))
        except Exception:  # noqa: BLE001 - report which section broke, run the rest
            failed.append(name)
            log(f"{name} failed:\n{traceback.format_exc()}")
        log(f"{name} done in {time.monotonic() - started:.0f} s")

    from bench.report import write_report

    write_report(out, ctx, sections, failed)
    (plots / "results.json").write_text(
        json.dumps(
            {
                "quick": ctx.quick,
                "backends": ctx.backends,
                "failed": failed,
                "sections": [
                    {
                        "key": s.key,
                        "title": s.title,
                        "targets": [t.__dict__ | {"met": t.met} for t in s.targets],
                        "raw": s.raw,
                    }
                    for s in sections
                ],
            },
            indent=1,
            default=str,
        )
    )
    log(f"wrote {out} and {plots}/")
    missed = [t.what for s in sections for t in s.targets if not t.met]
    if missed:
        log("targets missed: " + "; ".join(missed))
    # A section that crashed fails the run (CI catches a broken benchmark); a missed target does not.
    return 1 if failed else 0


def _working_backends(wanted: list[str], log) -> list[str]:
    from sandgate.policy.model import SandboxPolicy
    from sandgate.sandbox.select import open_backend

    found = []
    for name in (w.strip() for w in wanted if w.strip()):
        backend, probes = open_backend(name, SandboxPolicy())
        if backend is None:
            log(f"backend {name} unavailable: {'; '.join(p.detail for p in probes)}")
        else:
            found.append(name)
    return found


if __name__ == "__main__":
    sys.exit(main())
