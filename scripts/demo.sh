#!/usr/bin/env bash
# Quickstart: install Sandgate and vet the shipped examples (benign and risky suggestions).
# Exit status is sandgate's: 1 here, because some examples are held or blocked, as they should be.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
echo
echo "== sandgate vet examples/*.py =="
.venv/bin/sandgate vet examples/*.py
