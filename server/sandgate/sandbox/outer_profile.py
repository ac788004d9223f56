"""The seccomp profile of a nested sandbox host's container (Docker's JSON format), from the same
table as the confinement filter (syscall_filter.py). Pure.

Docker's default profile refuses what bubblewrap needs inside a container (new user namespaces,
mounts in them), so a nested host gets this one instead: everything the confinement filter
refuses, except the calls bubblewrap makes to build each run's sandbox. The code under test never
has those: bubblewrap runs it under the confinement filter itself, with --disable-userns.
"""

from __future__ import annotations

import errno
import json

from sandgate.sandbox import syscall_filter

# What bubblewrap calls to make a sandbox (namespaces, its root, the binds), allowed to it here.
BWRAP_NEEDS = frozenset({"mount", "umount2", "pivot_root", "chroot", "unshare", "setns"})


def profile() -> dict:
    denied = sorted(set(syscall_filter.DENIED) - BWRAP_NEEDS)
    rules: list[dict] = [{"names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM}]
    rules += [
        {
            "names": ["ioctl"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.EPERM,
            "args": [{"index": 1, "value": request, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
        }
        for request in syscall_filter.DENIED_IOCTLS
    ]
    rules.append({"names": sorted(syscall_filter.ENOSYS_CALLS), "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS})
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}


def security_opt() -> str:
    return "seccomp=" + json.dumps(profile(), separators=(",", ":"))
