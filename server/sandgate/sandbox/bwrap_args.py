"""Pure builder of the bubblewrap command line (tested by exact equality)."""

from __future__ import annotations

import os

from sandgate.sandbox import protocol, proxy_wiring
from sandgate.sandbox import runtime as runtime_mod
from sandgate.sandbox.node_runtime import NodeRuntime
from sandgate.sandbox.runtime import PythonRuntime

SANDBOX_UID = 65534
SCRATCH_BYTES = 16 * 1024 * 1024


def bwrap_argv(
    runtime: PythonRuntime,
    etc_dir: str,
    workspace_fd: int | str | None,
    bwrap: str = "bwrap",
    python_argv: list[str] | None = None,
    egress_fd: int | str | None = None,
    seccomp_fd: int | str | None = None,
    hidden: list[tuple[str, bool]] | tuple = (),
    node: NodeRuntime | None = None,
) -> list[str]:
    """The bwrap command line.

    `workspace_fd`: an open (O_PATH) descriptor of the folder shown read-only at /workspace —
    by descriptor, so the sandbox user needs no right to the folders above it, and nothing can
    swap a link into the path in between; None: an empty /workspace. `hidden`: paths under it
    covered by an empty file or folder (`workspace_view.py`). A descriptor may be given as text:
    a placeholder the one who starts bwrap fills in (the nested Docker agent, agent.py). `egress_fd`: the folder holding the
    run's egress proxy socket (docs/network.md), shown at `proxy_wiring.INSIDE_DIR` with the proxy
    variables set; None: no way out. `seccomp_fd`: the confinement filter (`syscall_filter.py`).
    `node`: a Node sandbox: its binary at `protocol.NODE` and the libraries it needs besides
    Python's (whose bootstrap arms the monitor before it execs Node)."""
    argv = [
        bwrap,
        # Every namespace, network included: only `lo` exists inside.
        "--unshare-all",
        "--unshare-user",
        # Killing bwrap kills its pid namespace, and with it every process started inside.
        "--die-with-parent",
        # A new session: the program cannot reach our terminal (TIOCSTI).
        "--new-session",
        "--clearenv",
    ]
    env = dict(protocol.ENV)
    if egress_fd is not None:
        env.update(proxy_wiring.environment())
    for key, value in sorted(env.items()):
        argv += ["--setenv", key, value]
    argv += [
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--cap-drop",
        "ALL",
        "--disable-userns",
        "--hostname",
        "sandbox",
    ]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    argv += [
        # The runtime only: the interpreter, its stdlib, the shared libraries they load.
        "--ro-bind",
        runtime.python,
        runtime.python,
        "--symlink",
        os.path.basename(runtime.python),
        protocol.PYTHON,
        "--ro-bind",
        runtime.stdlib,
        runtime.stdlib,
    ]
    libs = dict(runtime.libs)
    if node is not None:
        argv += ["--ro-bind", node.node, protocol.NODE]
        libs.update((inside, host) for inside, host in node.libs if inside not in libs)
    for inside, host in sorted(libs.items()) if node is not None else runtime.libs:
        argv += ["--ro-bind", host, inside]
    argv += ["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin"]
    for name in ("passwd", "group", "nsswitch.conf", "hosts"):
        argv += ["--ro-bind", f"{etc_dir}/{name}", f"/etc/{name}"]
    # /proc read-only as a whole: no sysctl, no sysrq, nothing of the kernel's to write.
    argv += ["--proc", "/proc", "--remount-ro", "/proc", "--dev", "/dev"]
    # Scratch: a small tmpfs, the only writable place.
    argv += ["--size", str(SCRATCH_BYTES), "--perms", "1777", "--tmpfs", protocol.SCRATCH]
    # A home of its own, empty but for the run's honeytokens; writes there are outside scratch.
    argv += ["--size", str(protocol.HOME_BYTES), "--perms", "1777", "--tmpfs", protocol.HOME]
    if workspace_fd is not None:
        argv += ["--ro-bind-fd", str(workspace_fd), protocol.WORKSPACE]
        for rel, is_dir in hidden:
            cover = f"{etc_dir}/{runtime_mod.EMPTY_DIR if is_dir else runtime_mod.EMPTY_FILE}"
            argv += ["--ro-bind", cover, f"{protocol.WORKSPACE}/{rel}"]
    else:
        argv += ["--dir", protocol.WORKSPACE]
    if egress_fd is not None:
        # The network namespace stays empty (only lo): the proxy's socket is the one way out.
        argv += ["--ro-bind-fd", str(egress_fd), proxy_wiring.INSIDE_DIR]
    # The root tmpfs bwrap builds last: read-only, so nothing outside scratch is writable.
    argv += ["--remount-ro", "/", "--chdir", protocol.WORKSPACE if workspace_fd is not None else protocol.SCRATCH, "--"]
    argv += python_argv if python_argv is not None else protocol.python_argv()
    return argv
