"""`sandgate sandbox init`: build the Docker image from this machine's own Python runtime.

There is no registry here, so the image is `FROM scratch` with a build context holding Debian's
python3, its stdlib, the shared libraries ldd lists and a minimal /etc. The context is a tar sent
over the API, so the same build works with a remote engine. The build's network is off.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from typing import Any

from sandgate.sandbox import node_runtime, protocol, runtime
from sandgate.sandbox.node_runtime import NodeRuntime
from sandgate.sandbox.runtime import PythonRuntime, RuntimeMissing

log = logging.getLogger(__name__)

IMAGE_REPO = "sandgate-sandbox"
DEFAULT_IMAGE = f"{IMAGE_REPO}:latest"
LABEL_RUNTIME = "sandgate.runtime"
DOCKERFILE = "FROM scratch\nCOPY rootfs/ /\nUSER 65534:65534\nWORKDIR /tmp\n"
# bubblewrap in the image: a nested sandbox host makes each run's sandbox with it (docker_nested.py).
BWRAP = "/usr/bin/bwrap"


@dataclass(frozen=True)
class Extra:
    """A binary of this machine copied into the image at the same path, with its libraries."""

    path: str
    libs: tuple[tuple[str, str], ...]


def bwrap_for_image() -> Extra | None:
    """This machine's bubblewrap (None: not installed; the image then holds no nested host, and
    Docker runs make a container each)."""
    found = shutil.which("bwrap")
    if not found:
        return None
    real = os.path.realpath(found)
    return Extra(real, runtime.shared_libs(real))


def runtime_digest(rt: PythonRuntime, node: NodeRuntime | None = None, bwrap: Extra | None = None) -> str:
    """Identifies the image content: same interpreter, stdlib and libraries (and Node, bubblewrap)
    → same digest."""
    h = hashlib.sha256()
    extra = [node.node, *(host for _, host in node.libs)] if node else []
    if bwrap is not None:
        extra += [bwrap.path, *(host for _, host in bwrap.libs)]
    for path in [rt.python, *(host for _, host in rt.libs), *extra]:
        st = os.stat(path)
        h.update(f"{path}:{st.st_size}:{int(st.st_mtime)}\n".encode())
    h.update(rt.stdlib.encode())
    h.update(json.dumps(runtime.etc_files(), sort_keys=True).encode())
    h.update(DOCKERFILE.encode())
    return h.hexdigest()[:16]


def _skip(rel: str) -> bool:
    return any(rel == s or rel.startswith(s + "/") for s in runtime.STDLIB_SKIP)


def node_for_image() -> NodeRuntime | None:
    """The project's Node, copied into the image (None: not installed; the image runs Python only,
    and a Node run in it fails closed: its bootstrap cannot exec Node)."""
    try:
        return node_runtime.discover()
    except RuntimeMissing as exc:
        log.warning("no Node in the sandbox image: %s", exc)
        return None


def build_context(rt: PythonRuntime, fileobj: Any, node: NodeRuntime | None = None, bwrap: Extra | None = None) -> None:
    """Write the build context tar (Dockerfile + rootfs/) to `fileobj`."""
    with tarfile.open(fileobj=fileobj, mode="w") as tar:

        def add_bytes(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        def add_link(name: str, target: str) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)

        def add_file(name: str, host: str) -> None:
            info = tar.gettarinfo(host, arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with open(host, "rb") as f:
                tar.addfile(info, f)

        add_bytes("Dockerfile", DOCKERFILE.encode())
        for d in (
            "rootfs",
            "rootfs/usr",
            "rootfs/usr/bin",
            "rootfs/usr/lib",
            "rootfs/usr/lib64",
            "rootfs/etc",
            "rootfs/workspace",
        ):
            add_dir(d)
        add_dir("rootfs/tmp", 0o1777)
        for name, target in (("lib", "usr/lib"), ("lib64", "usr/lib64"), ("bin", "usr/bin")):
            add_link(f"rootfs/{name}", target)
        add_file("rootfs" + rt.python, rt.python)
        add_link("rootfs/usr/bin/python3", os.path.basename(rt.python))
        made = set()
        libs = dict(rt.libs)
        if node is not None:
            add_dir("rootfs/usr/local")
            add_dir("rootfs/usr/local/bin")
            add_file("rootfs" + protocol.NODE, node.node)
            libs.update((inside, host) for inside, host in node.libs if inside not in libs)
        if bwrap is not None:
            add_file("rootfs" + BWRAP, bwrap.path)
            libs.update((inside, host) for inside, host in bwrap.libs if inside not in libs)
        for inside, host in sorted(libs.items()):
            parent = os.path.dirname(inside)
            parts = parent.strip("/").split("/")
            for i in range(1, len(parts) + 1):
                p = "/".join(parts[:i])
                if p not in made and p not in ("usr", "usr/lib", "usr/lib64", "usr/bin"):
                    add_dir("rootfs/" + p)
                    made.add(p)
            add_file("rootfs" + inside, host)
        base = rt.stdlib.rstrip("/")
        add_dir("rootfs" + base)
        for dirpath, dirnames, filenames in os.walk(base):
            rel_dir = os.path.relpath(dirpath, base)
            dirnames[:] = sorted(d for d in dirnames if not _skip(os.path.normpath(os.path.join(rel_dir, d))))
            for d in dirnames:
                add_dir("rootfs" + os.path.join(dirpath, d))
            for fn in sorted(filenames):
                host = os.path.join(dirpath, fn)
                if os.path.islink(host) or not os.path.isfile(host):
                    continue
                add_file("rootfs" + host, host)
        for rel, text in runtime.etc_files().items():
            add_bytes("rootfs/" + rel, text.encode())


def image_present(client: Any, name: str) -> bool:
    import docker.errors

    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_image(client: Any, force: bool = False) -> tuple[str, bool]:
    """Build `sandgate-sandbox:<digest>` (tagged `latest`) unless it exists. Returns (tag, built)."""
    rt = runtime.discover()
    node = node_for_image()
    bwrap = bwrap_for_image()
    digest = runtime_digest(rt, node, bwrap)
    tag = f"{IMAGE_REPO}:{digest}"
    if not force and image_present(client, tag):
        client.images.get(tag).tag(IMAGE_REPO, "latest")
        return tag, False
    with tempfile.TemporaryFile() as ctx:
        build_context(rt, ctx, node, bwrap)
        ctx.seek(0)
        log.info("building %s (%d MB context)", tag, ctx.seek(0, 2) // (1 << 20))
        ctx.seek(0)
        stream = client.api.build(
            fileobj=ctx,
            custom_context=True,
            tag=tag,
            network_mode="none",
            rm=True,
            forcerm=True,
            decode=True,
            labels={LABEL_RUNTIME: digest},
            pull=False,
        )
        for chunk in stream:
            if "error" in chunk:
                raise RuntimeError(f"image build failed: {chunk['error'].strip()}")
            if "stream" in chunk and chunk["stream"].strip():
                log.debug("build: %s", chunk["stream"].strip())
    client.images.get(tag).tag(IMAGE_REPO, "latest")
    return tag, True
