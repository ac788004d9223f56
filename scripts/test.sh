#!/usr/bin/env bash
# Install everything the tests need and run the whole suite: the Python tests (real bandit,
# real Docker engine, real bubblewrap, real language-server client) and the extension's
# end-to-end tests in real VS Code (code-server in headless Chromium).
# As root on Debian it installs Debian packages and starts the Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install.sh --with-test-deps
export SANDGATE_PYTHON="$PWD/.venv/bin/python"

status=0
echo "== python tests =="
.venv/bin/python -m pytest -p no:cacheprovider "$@" || status=$?

if [[ -x scripts/setup-editor-tests.sh && -x scripts/test-editor.sh && -z "${SANDGATE_SKIP_EDITOR_TESTS:-}" ]]; then
    echo "== editor extension tests (code-server) =="
    scripts/setup-editor-tests.sh "$SANDGATE_PYTHON"
    scripts/test-editor.sh "$SANDGATE_PYTHON" || status=$?
fi
exit "$status"
