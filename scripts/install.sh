#!/usr/bin/env bash
# Install Sandgate from this checkout into ./.venv (Python >= 3.11), for development and CI:
# every version as requirements.lock pins it (scripts/lock.sh), with the Docker and OpenTelemetry
# extras. (Users install the package with pipx or uv tool, or get it inside the VS Code extension.)
# As root on Debian it also installs and starts what the sandboxes need (Docker engine,
# bubblewrap) and builds the sandbox image.
# Usage: scripts/install.sh [--with-test-deps | --with-bench-deps]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
extras="[docker,otel]"
case "${1:-}" in
    --with-test-deps) extras="[test]" ;;
    --with-bench-deps) extras="[bench]" ;;
esac

if [[ ! -x .venv/bin/python ]]; then
    "$PYTHON" -m venv .venv
fi
# The lock as constraints: whichever extras are asked for, their versions are the locked ones.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".${extras}"

if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    scripts/setup-sandbox.sh "$PWD/.venv/bin/python"
else
    echo "install: not root: skipping the Docker engine and bubblewrap set-up;" \
         "run 'sudo scripts/setup-sandbox.sh $PWD/.venv/bin/python' or see 'sandgate sandbox doctor'" >&2
fi
