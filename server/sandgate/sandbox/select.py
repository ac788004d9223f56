"""Choosing a backend: `open_backend("auto" | "docker" | "bwrap", policy)`.

Backends are long-lived and shared per process (the Docker pool is worth keeping), and safe to
call `run` on from several threads.
"""

from __future__ import annotations

import threading
import time

from sandgate.policy.model import BACKENDS, SandboxPolicy
from sandgate.sandbox.base import Backend, Probe

CHOICES = ("auto", *BACKENDS)
# A working backend is re-probed after this long; a failing one on every call (so a daemon
# started later is picked up).
PROBE_TTL_S = 30.0

_lock = threading.Lock()
_backends: dict[tuple, Backend] = {}
_good_probe: dict[tuple, tuple[float, Probe]] = {}


def _key(name: str, policy: SandboxPolicy) -> tuple:
    return (name, policy.image) if name == "docker" else (name,)


def get_backend(name: str, policy: SandboxPolicy) -> Backend:
    key = _key(name, policy)
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            if name == "docker":
                from sandgate.sandbox.docker_backend import DockerBackend

                backend = DockerBackend(image=policy.image)
            else:
                from sandgate.sandbox.bwrap_backend import BwrapBackend

                backend = BwrapBackend()
            _backends[key] = backend
        return backend


def _probe(name: str, policy: SandboxPolicy) -> tuple[Backend, Probe]:
    key = _key(name, policy)
    backend = get_backend(name, policy)
    with _lock:
        cached = _good_probe.get(key)
    if cached and time.monotonic() - cached[0] < PROBE_TTL_S:
        return backend, cached[1]
    try:
        probe = backend.probe()
    except Exception as exc:  # noqa: BLE001 - a probe reports, never raises
        probe = Probe(name, False, f"probe failed: {exc}")
    with _lock:
        if probe.available:
            _good_probe[key] = (time.monotonic(), probe)
        else:
            _good_probe.pop(key, None)
    return backend, probe


def open_backend(choice: str, policy: SandboxPolicy) -> tuple[Backend | None, list[Probe]]:
    """The backend to run with, or None and the probes that say why nothing can run."""
    if choice not in CHOICES:
        return None, [Probe(choice, False, f"unknown sandbox backend {choice!r}", f"use one of {', '.join(CHOICES)}")]
    if choice != "auto" and choice not in policy.backends:
        return None, [
            Probe(
                choice,
                False,
                f"the policy does not allow the {choice} backend",
                f"allowed: {', '.join(policy.backends) or 'none'}",
            )
        ]
    # `auto` tries the allowed backends strongest first (BACKENDS order), whatever order the policy
    # lists them in: a policy chooses which backends may run, never a weaker one ahead of a stronger.
    names = [name for name in BACKENDS if name in policy.backends] if choice == "auto" else [choice]
    if not names:
        return None, [Probe("auto", False, "the policy allows no sandbox backend", "list docker or bwrap")]
    probes: list[Probe] = []
    for name in names:
        if name not in BACKENDS:
            probes.append(Probe(name, False, f"unknown sandbox backend {name!r}"))
            continue
        backend, probe = _probe(name, policy)
        probes.append(probe)
        if probe.available:
            return backend, probes
    return None, probes


def close_all() -> None:
    with _lock:
        backends = list(_backends.values())
        _backends.clear()
        _good_probe.clear()
    for backend in backends:
        backend.close()
