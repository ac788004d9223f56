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
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
# The sandboxes' seccomp filters are built with libseccomp.
ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2 ' || missing+=(libseccomp2)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
fi

# bubblewrap started by root would map its sandbox to host root: Sandgate starts it as this
# unprivileged system user instead (no home, no shell, no groups).
if ! getent passwd sandgate-sandbox >/dev/null; then
    log "creating the sandbox user sandgate-sandbox"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        --user-group sandgate-sandbox
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
