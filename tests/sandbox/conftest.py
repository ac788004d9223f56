"""Shared fixtures for the sandbox tests: real Docker engine, real bubblewrap, never skipped."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import replace

import pytest

from sandgate.findings import Verdict
from sandgate.policy.model import SandboxLimits, SandboxPolicy
from sandgate.sandbox.base import RunRequest, RunResult
from sandgate.sandbox.run_findings import findings_from_run
from sandgate.sandbox.select import open_backend

CANARY_ENV = "SANDGATE_CANARY_SECRET"
CANARY_VALUE = "canary-" + uuid.uuid4().hex
CANARY_FILE_TEXT = "canary-file-" + uuid.uuid4().hex
FAST = SandboxLimits(wall_time_s=2.0, cpu_time_s=2.0)


@pytest.fixture(scope="session", autouse=True)
def canary_env():
    os.environ[CANARY_ENV] = CANARY_VALUE
    yield
    os.environ.pop(CANARY_ENV, None)


@pytest.fixture(scope="session", params=["docker", "bwrap"])
def backend(request):
    b, probes = open_backend(request.param, SandboxPolicy())
    # Never skip: a missing engine is a failure here (run scripts/setup-sandbox.sh first).
    assert b is not None, f"{request.param} backend unavailable: {probes}"
    if request.param == "docker":
        b.warm(RunRequest(code="", limits=FAST))
        b.warm(RunRequest(code=""))
    return b


@pytest.fixture(scope="session")
def balanced():
    from sandgate.policy.load import load_effective

    return load_effective(None, preset="balanced").policy


def warm_vetter(backend: str, loaded=None):
    """A vetter on `backend` (balanced unless `loaded` says otherwise), checked to be that backend and
    warmed: one for a whole corpus, so its vets stay fast."""
    from sandgate.pipeline import Vetter
    from sandgate.policy.load import load_effective

    v = Vetter(loaded or load_effective(None, preset="balanced"), backend=backend)
    opened, probes = v.backend()
    assert opened is not None and opened.name == backend, probes
    v.warm()
    return v


def decision(policy, findings) -> Verdict:
    from sandgate.policy.evaluate import decide

    return decide(policy, findings).verdict


def run(backend, code: str, limits: SandboxLimits = FAST, **kw) -> tuple[RunResult, list, set[str]]:
    req = RunRequest(code=code, limits=limits, **kw)
    result = backend.run(req)
    findings = findings_from_run(result, req)
    return result, findings, {f.rule for f in findings}


def with_limits(**kw) -> SandboxLimits:
    return replace(FAST, **kw)


def procs_with(token: str) -> list[int]:
    """Processes (anywhere on this host, containers included) whose command line holds `token`."""
    me = str(os.getpid())
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if token.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def stray_containers(backend) -> list[str]:
    """Containers this process made that no live run or pool holds (other processes may run
    sandboxes at the same time: only ours count)."""
    from sandgate.sandbox import lifecycle
    from sandgate.sandbox.docker_backend import LABEL_OWNER

    if backend.name != "docker":
        return []
    # The pool may be between creating a container and recording it: give it a moment.
    deadline = time.monotonic() + 10
    while True:
        # Low-level: the SDK's `containers.list` inspects each, racing the background removals.
        ours = backend.client.api.containers(all=True, filters={"label": f"{LABEL_OWNER}={backend._owner}"})
        stray = [c["Id"] for c in ours if not lifecycle.is_live(f"docker:{c['Id']}")]
        if not stray or time.monotonic() > deadline:
            return stray
        time.sleep(0.1)


def assert_host_clean(backend, token: str | None = None) -> None:
    from sandgate.sandbox import cgroup

    if token:
        assert procs_with(token) == [], "a sandboxed process outlived the run"
    assert stray_containers(backend) == [], "a used container outlived the run"
    if backend.name == "bwrap":
        # Only the sandboxes waiting in the warm pool (not yet given a program) may hold one.
        # The pool may be making one right now: give it a moment to finish.
        deadline = time.monotonic() + 10
        while not cgroup.live_names <= (idle := backend.idle_cgroups()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cgroup.live_names <= idle, "a run's cgroup outlived it"
        on_disk = set(os.listdir("/sys/fs/cgroup/pids/sandgate"))
        assert not (on_disk & (cgroup.made_names - idle)), "a run's cgroup is still in /sys/fs/cgroup"


def current_image() -> str:
    """The image `sandbox init` builds from this tree (with the project's Node), by its digest tag:
    `:latest` may be retagged by another checkout's `sandbox init` on a shared engine."""
    import docker

    from sandgate.sandbox.image import ensure_image

    tag, _ = ensure_image(docker.from_env(timeout=120))
    return tag
