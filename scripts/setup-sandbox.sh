#!/usr/bin/env bash
# Prepare this machine for Sandgate's sandboxes: Docker engine + bubblewrap + the sandbox image.
# Idempotent; runs as root on a fresh Debian 12 machine. Usage: setup-sandbox.sh [PYTHON]
# PYTHON is the venv interpreter that has sandgate installed (default: $SANDGATE_PYTHON, then python3).
set -euo pipefail

PY="${1:-${SANDGATE_PYTHON:-python3}}"
LOG="${SANDGATE_DOCKERD_LOG:-/var/log/sandgate-dockerd.log}"

log() { echo "setup-sandbox: $*" >&2; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
fi

# A daemon may already answer (systemd, a remote DOCKER_HOST, an earlier run of this script).
if docker info >/dev/null 2>&1; then
    log "docker engine answers"
else
    log "starting dockerd (log: $LOG)"
    # setsid: the daemon must not die with this script's session.
    setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    if ! docker info >/dev/null 2>&1; then
        log "dockerd did not answer within 60 s; last lines of $LOG:"
        tail -n 20 "$LOG" >&2 || true
        exit 1
    fi
    log "docker engine answers"
fi

# `sandgate sandbox init` builds the image from this machine's Python (there is no registry).
# Run the module directly so a half-built CLI elsewhere in the tree cannot stop the set-up.
"$PY" -m sandgate.cli.sandbox init
