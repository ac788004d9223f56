#!/usr/bin/env bash
# The benchmarks, one command: installs what they need (as scripts/install.sh does, plus the
# plotting library), then runs every section and writes docs/benchmarks.md and its plots.
# Usage: scripts/bench.sh [--quick] [python -m bench options]
#   --quick   a few iterations each, written to build/bench-quick/ (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${SANDGATE_BENCH_NO_INSTALL:-}" ]]; then
    scripts/install.sh --with-bench-deps
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/python -m bench "$@"
