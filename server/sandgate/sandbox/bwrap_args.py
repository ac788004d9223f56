"""Pure builder of the bubblewrap command line (tested by exact equality)."""

from __future__ import annotations

import os

from sandgate.sandbox import egress, protocol
from sandgate.sandbox.runtime import Runtime

SANDBOX_UID = 65534
SCRATCH_BYTES = 16 * 1024 * 1024


def bwrap_argv(
    runtime: Runtime,
    etc_dir: str,
    workspace: str | None,
    bwrap: str = "bwrap",
    python_argv: list[str] | None = None,
    egress_dir: str | None = None,
) -> list[str]:
    """`egress_dir`: the host directory holding the run's egress proxy socket (docs/network.md),
    bound read-only at `egress.INSIDE_DIR`, with the proxy variables set; None: no way out."""
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
    if egress_dir:
        env.update(egress.environment())
    for key, value in sorted(env.items()):
        argv += ["--setenv", key, value]
    argv += [
        "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
        "--cap-drop", "ALL",
        "--disable-userns",
        "--hostname", "sandbox",
        # The runtime only: the interpreter, its stdlib, the shared libraries they load.
        "--ro-bind", runtime.python, runtime.python,
        "--symlink", os.path.basename(runtime.python), protocol.PYTHON,
        "--ro-bind", runtime.stdlib, runtime.stdlib,
    ]
    for inside, host in runtime.libs:
        argv += ["--ro-bind", host, inside]
    argv += ["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin"]
    for name in ("passwd", "group", "nsswitch.conf", "hosts"):
        argv += ["--ro-bind", f"{etc_dir}/{name}", f"/etc/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    # Scratch: a small tmpfs, the only writable place.
    argv += ["--size", str(SCRATCH_BYTES), "--perms", "1777", "--tmpfs", protocol.SCRATCH]
    if workspace:
        argv += ["--ro-bind", workspace, protocol.WORKSPACE]
    else:
        argv += ["--dir", protocol.WORKSPACE]
    if egress_dir:
        # The network namespace stays empty (only lo): the proxy's socket is the one way out.
        argv += ["--ro-bind", egress_dir, egress.INSIDE_DIR]
    # The root tmpfs bwrap builds last: read-only, so nothing outside scratch is writable.
    argv += ["--remount-ro", "/", "--chdir", protocol.WORKSPACE if workspace else protocol.SCRATCH, "--"]
    argv += python_argv if python_argv is not None else protocol.python_argv()
    return argv
