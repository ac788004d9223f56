"""Pure builder of the hardened `containers.create` keyword arguments (tested by exact equality)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandgate.policy.model import SandboxLimits
from sandgate.sandbox import protocol, proxy_wiring, runtime
from sandgate.sandbox.cpu_limit import cpu_rlimit

SANDBOX_USER = "65534:65534"
SCRATCH_TMPFS = "rw,nosuid,nodev,noexec,size=16m,mode=1777"
# The sandbox's home: the run's honeytokens only (honeytokens.py).
HOME_TMPFS = "rw,nosuid,nodev,noexec,size=1m,mode=1777"
# A remote engine cannot bind our paths: the workspace is unpacked into this (root-owned, so the
# sandbox user can read but not write it) by a root exec before the run.
WORKSPACE_TMPFS = "rw,nosuid,nodev,noexec,size=64m,mode=755"
LABEL = "sandgate"
# Where the supervisor's socket appears inside (a host directory of the container's own).
CONTROL_INSIDE = "/run/sandgate-ctl"
CONTROL_SOCKET = "ctl.sock"
CONTROL_ADDRESS = f"unix:{CONTROL_INSIDE}/{CONTROL_SOCKET}"
# The compiled bootstrap (protocol.bootstrap_pyc), put in the same folder: a short command.
BOOTSTRAP_FILE = "bootstrap.pyc"
# init + the bootstrap itself on top of the program's budget.
PIDS_OVERHEAD = 2


@dataclass(frozen=True)
class ContainerSpec:
    """What a pooled container is made for; runs can only take a container of their own spec."""

    image: str
    limits: SandboxLimits
    workspace: str | None = None  # host path bound read-only (local engine only)
    workspace_tmpfs: bool = False  # remote engine: the workspace travels as a tar
    # The policy allows hosts: the container carries a directory of its own for the run's egress
    # proxy socket (bound read-only at proxy_wiring.INSIDE_DIR) and the proxy variables. Still no
    # network of its own (network_mode "none"): the socket is the one way out.
    egress: bool = False
    # files.exclude: workspace files never shown (covered in a bind, left out of a copy).
    exclude: tuple[str, ...] = ()
    # The engine can bind this machine's paths: the supervisor's control socket goes in.
    supervised: bool = True
    # The OCI runtime (None: the engine's default, runc). Chosen once per backend (runtime_choice.py).
    runtime: str | None = None
    # Honeytokens are planted when the container is made (honeytokens.py): such containers serve
    # only runs that want them.
    honey: bool = False
    # Which runtime the container parks (protocol.RUNTIMES): Node's needs the image's node binary.
    program_runtime: str = "python"
    # The cgroup the container is made under (None: the engine's own): the vets' low-weight group
    # on a local engine that can put it there (DockerBackend.cgroup_parent).
    cgroup_parent: str | None = None


def covers(hidden: list[tuple[str, bool]], etc_dir: str) -> list[tuple[str, str]]:
    """(path inside, host cover) for each hidden workspace path: the empty file or folder of the
    sandbox's /etc folder (runtime.etc_dir)."""
    return [
        (f"{protocol.WORKSPACE}/{rel}", f"{etc_dir}/{runtime.EMPTY_DIR if is_dir else runtime.EMPTY_FILE}")
        for rel, is_dir in hidden
    ]


def _confined(
    spec: ContainerSpec, labels: dict[str, str], *, memory_mb: int, pids: int, security_opt: list[str], ulimits: list
) -> dict[str, Any]:
    """What every container of Sandgate's is made with, whatever runs in it: the sandbox user, no
    network, a read-only root, no capabilities, no new privileges, no IPC, docker-init, the
    memory (no swap), pids and CPU limits, no logs, and the backend's runtime and cgroup parent."""
    from docker.types import LogConfig

    kwargs: dict[str, Any] = {
        "image": spec.image,
        "user": SANDBOX_USER,
        "hostname": "sandbox",
        "labels": {LABEL: "1", **labels},
        "network_mode": "none",
        # No network at all, so the engine adds no libnetwork hook: without this the runtime runs
        # the whole dockerd binary once per container as a prestart hook (`libnetwork-setkey`),
        # half of a container's engine CPU. The container still gets a namespace of its own
        # holding only `lo` (tests/sandbox/test_adversarial.py).
        "network_disabled": True,
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": security_opt,
        "ipc_mode": "none",
        # docker-init as PID 1 forwards signals and reaps; when the program exits, the container
        # stops and the kernel kills everything left in its pid namespace.
        "init": True,
        "pids_limit": pids,
        "mem_limit": f"{memory_mb}m",
        "memswap_limit": f"{memory_mb}m",  # equal: no swap
        "nano_cpus": 1_000_000_000,
        "ulimits": ulimits,
        # Output comes over the attach stream; nothing needs to be kept on the daemon's disk.
        "log_config": LogConfig(type="none"),
    }
    if spec.runtime:
        kwargs["runtime"] = spec.runtime
    if spec.cgroup_parent:
        kwargs["cgroup_parent"] = spec.cgroup_parent
    return kwargs


def create_kwargs(
    spec: ContainerSpec,
    labels: dict[str, str],
    python: str = protocol.PYTHON,
    egress_dir: str | None = None,
    control_dir: str | None = None,
    hidden: list[tuple[str, str]] | tuple = (),
    node_flags: list[str] | tuple = (),
    bootstrap_file: bool = False,
) -> dict[str, Any]:
    """`egress_dir`: the host directory for the egress proxy's socket (required when `spec.egress`).
    `control_dir`: the host directory holding the supervisor's socket (required when
    `spec.supervised`). `hidden`: (path inside, host file or folder to cover it with). `node_flags`:
    what the image's Node needs to run TypeScript (`NodeRuntime.strip_types_flags`).
    `bootstrap_file`: `control_dir` holds `BOOTSTRAP_FILE`, which the command runs."""
    from docker.types import Mount, Ulimit

    if spec.egress and not egress_dir:
        raise ValueError("an egress container needs a directory for the proxy socket")
    if spec.supervised and not control_dir:
        raise ValueError("a supervised container needs a directory for the supervisor's socket")

    control = CONTROL_ADDRESS if spec.supervised else None
    script = f"{CONTROL_INSIDE}/{BOOTSTRAP_FILE}" if bootstrap_file and spec.supervised else None
    lim = spec.limits
    cpu_soft, cpu_hard = cpu_rlimit(lim)
    tmpfs = {protocol.SCRATCH: SCRATCH_TMPFS, protocol.HOME: HOME_TMPFS}
    if spec.workspace_tmpfs:
        tmpfs[protocol.WORKSPACE] = WORKSPACE_TMPFS
    kwargs = _confined(
        spec,
        labels,
        memory_mb=lim.memory_mb,
        pids=lim.processes + PIDS_OVERHEAD,
        security_opt=["no-new-privileges:true"],
        ulimits=[
            Ulimit(name="nofile", soft=lim.open_files, hard=lim.open_files),
            Ulimit(name="fsize", soft=lim.file_size_mb * 1024 * 1024, hard=lim.file_size_mb * 1024 * 1024),
            Ulimit(name="cpu", soft=cpu_soft, hard=cpu_hard),
            Ulimit(name="core", soft=0, hard=0),
        ],
    )
    kwargs.update(
        command=(
            protocol.node_argv(list(node_flags), control, python, script=script)
            if spec.program_runtime == "node"
            else protocol.python_argv(python, control=control, script=script)
        ),
        environment={**protocol.ENV, **(proxy_wiring.environment() if spec.egress else {})},
        working_dir=protocol.SCRATCH,
        # The program arrives on stdin: a warm container waits in the bootstrap's read.
        stdin_open=True,
        tty=False,
        tmpfs=tmpfs,
    )
    volumes: dict[str, dict[str, str]] = {}
    if spec.workspace:
        volumes[spec.workspace] = {"bind": protocol.WORKSPACE, "mode": "ro"}
    if spec.egress and egress_dir:
        # Connecting to a socket on a read-only bind works (sockets are exempt from EROFS).
        volumes[egress_dir] = {"bind": proxy_wiring.INSIDE_DIR, "mode": "ro"}
    if spec.supervised and control_dir:
        volumes[control_dir] = {"bind": CONTROL_INSIDE, "mode": "ro"}
    if volumes:
        kwargs["volumes"] = volumes
    if hidden:
        # Mounts, not volumes: many covers share one host file.
        kwargs["mounts"] = [Mount(target=inside, source=cover, type="bind", read_only=True) for inside, cover in hidden]
    return kwargs


# A nested host (docker_nested.py) runs docker-init, the agent and one sandbox (bubblewrap's two
# processes, then the program's): on top of the program's budget.
NESTED_PIDS_OVERHEAD = 4
# The agent's Python, resident for the container's life, within the container's memory limit.
NESTED_MEMORY_OVERHEAD_MB = 24


def nested_kwargs(
    spec: ContainerSpec,
    labels: dict[str, str],
    *,
    agent_source: str,
    agent_socket: str,
    control_dir: str,
    egress_dir: str | None,
    egress_inside: str,
    etc_dir: str,
    seccomp: str,
    hidden: list[tuple[str, str]] | tuple = (),
    python: str = protocol.PYTHON,
) -> dict[str, Any]:
    """The create arguments of a nested host: a long-lived container whose agent starts one
    bubblewrap sandbox at a time. What differs from `create_kwargs`: the command (the agent), the
    seccomp profile (`seccomp`, outer_profile.py), no tmpfs of its own (each sandbox makes its
    own), the host's /etc folder for bubblewrap's binds, no CPU-time limit on the container (the
    agent lives on; each sandbox gets it from the agent). The caller empties the masked and
    read-only /proc paths (no option of the SDK does). `hidden`: as for `create_kwargs`, the covers
    of the workspace's secrets when the container is made (each sandbox covers them afresh too)."""
    from docker.types import Mount, Ulimit

    lim = spec.limits
    memory = lim.memory_mb + NESTED_MEMORY_OVERHEAD_MB
    kwargs = _confined(
        spec,
        labels,
        memory_mb=memory,
        pids=lim.processes + NESTED_PIDS_OVERHEAD,
        security_opt=["no-new-privileges:true", seccomp],
        ulimits=[
            Ulimit(name="fsize", soft=lim.file_size_mb * 1024 * 1024, hard=lim.file_size_mb * 1024 * 1024),
            Ulimit(name="core", soft=0, hard=0),
        ],
    )
    kwargs.update(
        command=[python, "-I", "-S", "-B", "-c", agent_source, agent_socket],
        environment=dict(protocol.ENV),
        working_dir="/",
    )
    volumes: dict[str, dict[str, str]] = {
        control_dir: {"bind": CONTROL_INSIDE, "mode": "ro"},
        etc_dir: {"bind": etc_dir, "mode": "ro"},
    }
    if spec.workspace:
        volumes[spec.workspace] = {"bind": protocol.WORKSPACE, "mode": "ro"}
    if egress_dir:
        volumes[egress_dir] = {"bind": egress_inside, "mode": "ro"}
    kwargs["volumes"] = volumes
    if hidden:
        kwargs["mounts"] = [Mount(target=inside, source=cover, type="bind", read_only=True) for inside, cover in hidden]
    return kwargs
