"""The seccomp filters every sandbox runs under, as data, and their BPF programs (via libseccomp).

Two programs come from one table:

- the **confinement** filter refuses (EPERM) what sandboxed code never needs: mounts, ptrace,
  keyrings, bpf, perf, userfaultfd, kexec, modules, new namespaces, io_uring (which would do
  I/O no later filter sees), TIOCSTI… bubblewrap loads it before the interpreter starts;
- the **monitor** filter is the confinement filter plus `SCMP_ACT_NOTIFY` on the calls whose
  record decides a suggestion (connections, process execution, opens, file-system changes,
  looks at a path by name, exit), and refuses `seccomp` itself, so nothing loaded later can add a listener of its own.
  The sandbox's bootstrap loads it (Docker and bubblewrap alike) and hands the listener to
  the supervisor outside (`supervise.py`), which the code under test cannot reach.

Seccomp's precedence (KILL > TRAP > ERRNO > NOTIFY > ALLOW) means a filter the program adds
later can refuse a call, never hide one from the listener.
"""

from __future__ import annotations

import errno
import tempfile
from dataclasses import dataclass
from functools import lru_cache

# Refused with EPERM in every sandbox.
DENIED = (
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "unshare",
    "setns",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_by_handle_at",
    "name_to_handle_at",
    "swapon",
    "swapoff",
    "reboot",
    "syslog",
    "acct",
    "quotactl",
    "quotactl_fd",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "iopl",
    "ioperm",
    "lookup_dcookie",
    "vhangup",
    "fanotify_init",
    "nfsservctl",
    "uselib",
    "_sysctl",
)
# clone(2) with any of these: a new namespace (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME).
CLONE_NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080)
# ioctl requests that push input into a terminal or take over a console.
DENIED_IOCTLS = (0x5412, 0x541C)  # TIOCSTI, TIOCLINUX
# clone3 takes its flags in memory, where a filter cannot read them: ENOSYS makes glibc use clone.
ENOSYS_CALLS = ("clone3",)

# Reported to the supervisor, then carried on as asked (the record; enforcement is elsewhere).
NOTIFIED = (
    "connect",
    "sendmsg",
    "sendmmsg",
    "execve",
    "execveat",
    "open",
    "openat",
    "openat2",
    "creat",
    "mkdir",
    "mkdirat",
    "unlink",
    "unlinkat",
    "rmdir",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "truncate",
    "chmod",
    "fchmodat",
    "chown",
    "lchown",
    "fchownat",
    # New descriptors: the supervisor counts them against the open-files limit.
    "socket",
    "socketpair",
    "pipe",
    "pipe2",
    "dup",
    "dup2",
    "dup3",
    "exit_group",
)
# sendto(2) is reported only with a destination (argument 4): a connected socket's data is not.
NOTIFIED_WITH_ADDRESS = ("sendto",)
# Looks at a path without opening it (os.stat, os.path.exists, Path.is_file, os.access): a probe
# for secrets has no other trace. Each is reported with the index of its flags argument, where
# AT_EMPTY_PATH marks a look at an open descriptor (fstat, most of these calls), which is not:
# the filter leaves those alone. None: the call has no flags (the supervisor reads the path).
NOTIFIED_LOOKUPS = (
    ("newfstatat", 3),
    ("statx", 2),
    ("stat", None),
    ("lstat", None),
    ("access", None),
    ("faccessat", None),
    ("faccessat2", None),
)
AT_EMPTY_PATH = 0x1000


@dataclass(frozen=True)
class Programs:
    confinement: bytes  # classic BPF, for bubblewrap's --seccomp
    monitor: bytes  # the same plus NOTIFY rules, loaded by the bootstrap with a listener
    seccomp_nr: int  # seccomp(2)'s number on this architecture (the bootstrap calls it by number)
    names: dict[int, str]  # syscall number -> name, for the notified calls (the supervisor's table)


def _add(flt, seccomp, action: int, name: str, *args) -> bool:
    try:
        flt.add_rule(action, name, *args)
        return True
    except (OSError, ValueError, RuntimeError):
        return False  # not a call of this architecture (e.g. `open` on arm64)


def _base(seccomp):
    flt = seccomp.SyscallFilter(seccomp.ALLOW)
    eperm = seccomp.ERRNO(errno.EPERM)
    for name in DENIED:
        _add(flt, seccomp, eperm, name)
    for flag in CLONE_NAMESPACE_FLAGS:
        _add(flt, seccomp, eperm, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    for request in DENIED_IOCTLS:
        _add(flt, seccomp, eperm, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, request))
    for name in ENOSYS_CALLS:
        _add(flt, seccomp, seccomp.ERRNO(errno.ENOSYS), name)
    return flt


def _export(flt) -> bytes:
    with tempfile.TemporaryFile() as f:
        flt.export_bpf(f)
        f.seek(0)
        return f.read()


@lru_cache(maxsize=1)
def programs() -> Programs:
    """Both programs for this machine's architecture. Raises `FilterUnavailable` when libseccomp
    is missing: the backends then refuse to run (fail closed)."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError) as exc:  # OSError: libseccomp.so.2 itself is missing
        raise FilterUnavailable(f"libseccomp is not available ({exc}); install libseccomp2") from exc
    confinement = _export(_base(seccomp))
    monitor = _base(seccomp)
    for name in NOTIFIED:
        _add(monitor, seccomp, seccomp.NOTIFY, name)
    for name in NOTIFIED_WITH_ADDRESS:
        _add(monitor, seccomp, seccomp.NOTIFY, name, seccomp.Arg(4, seccomp.NE, 0))
    for name, flags in NOTIFIED_LOOKUPS:
        if flags is None:
            _add(monitor, seccomp, seccomp.NOTIFY, name)
        else:
            _add(monitor, seccomp, seccomp.NOTIFY, name, seccomp.Arg(flags, seccomp.MASKED_EQ, AT_EMPTY_PATH, 0))
    _add(monitor, seccomp, seccomp.ERRNO(errno.EPERM), "seccomp")
    arch = seccomp.system_arch()
    names: dict[int, str] = {}
    for name in NOTIFIED + NOTIFIED_WITH_ADDRESS + tuple(n for n, _ in NOTIFIED_LOOKUPS):
        try:
            number = seccomp.resolve_syscall(arch, name)
        except (OSError, ValueError, RuntimeError):
            continue
        if isinstance(number, int) and number >= 0:
            names[number] = name
    return Programs(confinement, _export(monitor), int(seccomp.resolve_syscall(arch, "seccomp")), names)


class FilterUnavailable(RuntimeError):
    pass
