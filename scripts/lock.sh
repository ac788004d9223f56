#!/usr/bin/env bash
# Rewrite requirements.lock: the exact versions CI and development install (scripts/install.sh),
# resolved from pyproject.toml's ranges with every extra (bench holds test, docker and otel).
# Versions already in the lock are kept where they still fit; `scripts/lock.sh --upgrade` moves
# everything to the newest the ranges allow. Needs uv (`pipx install uv`).
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-uv}"
"$UV" pip compile pyproject.toml --extra bench --python-version 3.11 \
    --python-platform x86_64-manylinux_2_28 --annotation-style line \
    --custom-compile-command scripts/lock.sh -o requirements.lock "$@"
