#!/usr/bin/env bash
# Runs the extension's unit tests (test/unit), then the editor end-to-end tests: the Sandgate .vsix in real VS Code (code-server) driven by headless Chromium,
# then Vim 9 with coc.nvim against `sandgate serve` (tests/editors, pytest with PYTHON).
#
#   scripts/test-editor.sh [PYTHON]
#
# PYTHON (or $SANDGATE_PYTHON; default .venv/bin/python) must have sandgate installed (PYTHONPATH is not
# passed on to the editor). Run
# scripts/setup-editor-tests.sh first, and scripts/setup-sandbox.sh (scripts/install.sh runs it): the TypeScript
# tests run suggestions in the Node sandbox, on the Node it installs. Screenshots and logs go to artifacts/e2e/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${1:-${SANDGATE_PYTHON:-$ROOT/.venv/bin/python}}
CACHE=${SANDGATE_E2E_CACHE:-/opt/sandgate-e2e}

[[ -x $CACHE/bin/code-server ]] || { echo "code-server missing in $CACHE: run scripts/setup-editor-tests.sh" >&2; exit 2; }
PYTHON=$(command -v "$PYTHON") || { echo "python not found: ${1:-${SANDGATE_PYTHON:-}}" >&2; exit 2; }
# Without PYTHONPATH, as the extension runs it (the harness drops it): the tests run the sandgate installed there.
where=$(env -u PYTHONPATH "$PYTHON" -c "import sandgate; print(sandgate.__file__)") || { echo "sandgate is not installed in $PYTHON" >&2; exit 2; }
echo "[test-editor] sandgate from $where" >&2

cd "$ROOT/editor-client"
[[ -d node_modules ]] || npm ci --no-audit --no-fund
SANDGATE_BUNDLE_PYTHON=$PYTHON npm run package >/dev/null
export SANDGATE_PYTHON=$PYTHON SANDGATE_E2E_CACHE=$CACHE
status=0
echo "[test-editor] the extension's unit tests" >&2
npm test || status=$?
node --test --test-concurrency=1 --test-reporter=spec test/e2e/editor.test.mjs || status=$?
echo "[test-editor] Vim 9 + coc.nvim (tests/editors)" >&2
cd "$ROOT"
"$PYTHON" -m pytest -p no:cacheprovider tests/editors || status=$?
exit "$status"
