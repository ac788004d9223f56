#!/usr/bin/env bash
# Install everything the tests need and run the whole suite: the Python tests (real bandit,
# real Docker engine, real bubblewrap, real language-server client) and the extension's
# end-to-end tests in real VS Code (code-server in headless Chromium), and the benchmarks in
# their quick mode.
# As root on Debian it installs Debian packages and starts the Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."

# The bench extra holds the test extra and the plotting library: the quick benchmark runs below.
scripts/install.sh --with-bench-deps
export SANDGATE_PYTHON="$PWD/.venv/bin/python"

status=0
echo "== lint, format and types (ruff, mypy; configured in pyproject.toml) =="
.venv/bin/ruff check server tests bench || status=$?
.venv/bin/ruff format --check server tests bench || status=$?
.venv/bin/mypy || status=$?

echo "== python tests =="
# tests/editors needs Vim and coc.nvim from scripts/setup-editor-tests.sh: scripts/test-editor.sh runs it below.
.venv/bin/python -m pytest -p no:cacheprovider --ignore=tests/editors "$@" || status=$?

if [[ -z "${SANDGATE_SKIP_BENCH:-}" ]]; then
    # Not a test: a few iterations of every benchmark, so the benchmarks keep working.
    echo "== benchmarks, quick mode (build/bench-quick/) =="
    SANDGATE_BENCH_NO_INSTALL=1 scripts/bench.sh --quick || status=$?
fi

if [[ -x scripts/setup-editor-tests.sh && -x scripts/test-editor.sh && -z "${SANDGATE_SKIP_EDITOR_TESTS:-}" ]]; then
    echo "== editor extension tests (code-server) =="
    scripts/setup-editor-tests.sh "$SANDGATE_PYTHON"
    scripts/test-editor.sh "$SANDGATE_PYTHON" || status=$?
fi
exit "$status"
