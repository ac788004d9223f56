"""Why the Docker engine does not answer, and what fixes that.

The SDK says only "Error while fetching server API version: (… PermissionError(13, …))". A socket
this user may not open, an engine that is not running and Docker not installed at all take three
different fixes; the OS error under the SDK's tells them apart.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import shutil
import stat
from dataclasses import dataclass

DEFAULT_SOCKET = "/var/run/docker.sock"
_GROUP_RW = stat.S_IRGRP | stat.S_IWGRP
_BWRAP = "or use bubblewrap (--backend bwrap)"
_ROOTLESS = (
    "rootless Docker (dockerd-rootless-setuptool.sh install, then DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock)"
)
# The SDK's message, where no exception object carries the OS error (its text is all that is left).
_NAMED = {
    "PermissionError(": errno.EACCES,
    "FileNotFoundError(": errno.ENOENT,
    "ConnectionRefusedError(": errno.ECONNREFUSED,
}


@dataclass(frozen=True)
class EngineTrouble:
    """What is wrong (`detail`) and what a person should do (`remedy`)."""

    detail: str
    remedy: str


def diagnose(exc: BaseException, docker_host: str | None = None) -> EngineTrouble:
    """Why the engine `DOCKER_HOST` (default: the environment's) names did not answer `exc`."""
    host = os.environ.get("DOCKER_HOST", "") if docker_host is None else docker_host
    said = _first_line(exc)
    if host and not host.startswith("unix://"):
        return EngineTrouble(
            f"the Docker engine at DOCKER_HOST={host} does not answer: {said}",
            f"start that engine or correct DOCKER_HOST (unset it for this machine's engine), {_BWRAP}",
        )
    socket = host[len("unix://") :] if host else DEFAULT_SOCKET
    code = _errno(exc)
    if code in (errno.EACCES, errno.EPERM):
        return EngineTrouble(
            f"the Docker engine's socket {socket} is there, but this user ({_user()}) may not use it: {said}",
            f"{_access_fix(socket)}, {_BWRAP}",
        )
    if code == errno.ENOENT and not (shutil.which("dockerd") or shutil.which("docker")):
        return EngineTrouble(
            f"Docker is not installed here (no {socket}, no dockerd or docker on PATH)",
            f"install the Docker engine (scripts/setup-sandbox.sh does), {_BWRAP}",
        )
    if code in (errno.ENOENT, errno.ECONNREFUSED):
        why = "no socket" if code == errno.ENOENT else "its socket is left but nothing listens on it"
        return EngineTrouble(
            f"the Docker engine is not running ({why}: {socket})",
            f"start the engine (`sudo systemctl start docker`, scripts/setup-sandbox.sh, or `dockerd &`), {_BWRAP}",
        )
    return EngineTrouble(
        f"no Docker engine answers: {said}",
        f"start the engine (scripts/setup-sandbox.sh, or `dockerd &`), or set DOCKER_HOST, {_BWRAP}",
    )


def _access_fix(socket: str) -> str:
    """How this user gets at `socket`: through the group that owns it, where that group may use it."""
    user = _user()
    try:
        info = os.stat(socket)
    except OSError:  # a folder on the way this user may not enter: say what usually fixes it
        return f"add {user} to the `docker` group (`sudo usermod -aG docker {user}`, then log in again), or use {_ROOTLESS}"
    group = _group(info.st_gid)
    if info.st_gid != 0 and info.st_mode & _GROUP_RW == _GROUP_RW:
        return (
            f"add {user} to the group `{group}` that owns it (`sudo usermod -aG {group} {user}`, then log in "
            f"again; that group can act as root through the engine), or use {_ROOTLESS}"
        )
    mode = stat.S_IMODE(info.st_mode)
    return (
        f"it is for {_owner(info.st_uid)}:{group} alone (mode {mode:04o}): run the engine with a socket group "
        f"(`dockerd --group docker`, the Debian package's default) and add {user} to it, or use {_ROOTLESS}"
    )


def _errno(exc: BaseException) -> int | None:
    """The errno of the first OS error under `exc`: the SDK wraps it in requests' and urllib3's
    errors, as a cause or as an argument; failing that, the one its message names."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen or len(seen) > 20:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            return int(current.errno)
        todo += [e for e in (current.__cause__, current.__context__, *current.args) if isinstance(e, BaseException)]
    text = str(exc)
    return next((code for name, code in _NAMED.items() if name in text), None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
