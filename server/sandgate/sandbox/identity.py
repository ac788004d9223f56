"""Who a bubblewrap sandbox runs as on the host: never root.

bubblewrap maps the sandbox's user to the host user that starts it. Started by root, that is
host root, and the kernel then lets the sandbox write `/proc/sys` (a `core_pattern` that runs a
command as root on the host, for one). So when Sandgate runs as root, bubblewrap is started as
an unprivileged user: the one `scripts/setup-sandbox.sh` creates (`sandgate-sandbox`), or one
the policy names (`sandbox.user`), else `nobody`. Run as anyone else, Sandgate starts it as
itself, which is not root either.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

DEDICATED_USER = "sandgate-sandbox"
FALLBACK_USER = "nobody"


@dataclass(frozen=True)
class HostIdentity:
    uid: int
    gid: int
    name: str
    # Whether Sandgate drops to it (it runs as root), or simply is it.
    dropped: bool


class UnsafeIdentity(RuntimeError):
    pass


def _lookup(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, ValueError):
        return None


def sandbox_identity(configured: str | None = None) -> HostIdentity:
    """The host user bubblewrap runs as. Raises `UnsafeIdentity` for root (fail closed)."""
    if os.geteuid() != 0:
        return HostIdentity(
            os.geteuid(),
            os.getegid(),
            pwd.getpwuid(os.geteuid()).pw_name if _lookup(str(os.geteuid())) else str(os.geteuid()),
            dropped=False,
        )
    names = [configured] if configured else [DEDICATED_USER, FALLBACK_USER]
    for name in names:
        entry = _lookup(name)
        if entry is None:
            continue
        if entry.pw_uid == 0 or entry.pw_gid == 0:
            raise UnsafeIdentity(
                f"the sandbox user {name!r} is root (uid {entry.pw_uid}, gid {entry.pw_gid}); "
                "a sandbox never runs as host root"
            )
        return HostIdentity(entry.pw_uid, entry.pw_gid, entry.pw_name, dropped=True)
    raise UnsafeIdentity(
        f"no sandbox user: {', '.join(repr(n) for n in names)} not found "
        "(run scripts/setup-sandbox.sh, or name a user in sandbox.user)"
    )


def drop_args(identity: HostIdentity, setpriv: str = "setpriv") -> list[str]:
    """The command prefix that becomes `identity` (empty when Sandgate already is it). Pure."""
    if not identity.dropped:
        return []
    return [setpriv, f"--reuid={identity.uid}", f"--regid={identity.gid}", "--clear-groups", "--"]
