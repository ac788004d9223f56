"""The supervisor: a process outside every sandbox that records what the code under test does.

Each sandbox's bootstrap loads the monitor filter (`syscall_filter.py`) before the program runs
and hands its seccomp listener here. From then on every notified call of every process in that
sandbox (connections, `execve`, opens, file-system changes, looks at a path by name,
`exit_group`) stops until this
process has read its arguments from the caller's memory and let it go on. The record lives
here, in a process the sandboxed code cannot signal, trace or write to (other pid namespace or
container, other uid, no ptrace), so blinding the in-process hooks hides nothing from it.

One supervisor serves every sandbox of a Sandgate process (stdlib only, one thread, poll).
It talks to Sandgate over a SOCK_SEQPACKET pair (JSON messages, descriptors by SCM_RIGHTS) and
exits when that closes; the sandboxes it watched then lose their lifeline and exit too.

Run as `python -m sandgate.sandbox.supervisor FD`.
"""

from __future__ import annotations

import fcntl
import json
import os
import posixpath
import re
import select
import signal
import socket
import struct
import sys
import time

from sandgate.sandbox import syscall_filter

# ioctl requests: _IOWR('!', 0, struct seccomp_notif), _IOWR('!', 1, struct seccomp_notif_resp),
# _IOW('!', 2, __u64). The struct sizes are the kernel's ABI (80 and 24 bytes).
_NOTIF_SIZE = 80
_RESP_SIZE = 24


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord("!") << 8) | nr


NOTIF_RECV = _ioc(3, 0, _NOTIF_SIZE)
NOTIF_SEND = _ioc(3, 1, _RESP_SIZE)
NOTIF_ID_VALID = _ioc(1, 2, 8)
NOTIF_SET_FLAGS = _ioc(1, 4, 8)
# Linux 6.6+: the kernel hands a notification over on the same CPU, waking us at once (and the
# caller when we answer) instead of through the scheduler: most of a notified call's price.
USER_NOTIF_FD_SYNC_WAKE_UP = 1
FLAG_CONTINUE = 1
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
O_ACCMODE, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND = 0o3, 0o1, 0o2, 0o100, 0o1000, 0o2000
FAMILIES = {1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET"}

# Distinct events kept per sandbox; one more distinct event marks the record truncated (a
# finding of its own: a flood is never a way to push the decisive event out).
MAX_EVENTS = 2000
MAX_ARGV = 64
# When the containers of a Sandgate that died are looked for again: a create it had asked for
# may still be under way in the engine (well under a second).
OWNED_SWEEPS_S = (0.5, 1.0, 1.5)
MAX_STR = 4096

# What each notified call's arguments are: the path arguments (index of dirfd or None, index of
# the path pointer), and the event kind it records.
_PATH_CALLS = {
    "mkdir": ("mkdir", ((None, 0),)),
    "mkdirat": ("mkdir", ((0, 1),)),
    "unlink": ("unlink", ((None, 0),)),
    "unlinkat": ("unlink", ((0, 1),)),
    "rmdir": ("rmdir", ((None, 0),)),
    "rename": ("rename", ((None, 0), (None, 1))),
    "renameat": ("rename", ((0, 1), (2, 3))),
    "renameat2": ("rename", ((0, 1), (2, 3))),
    "link": ("link", ((None, 1),)),
    "linkat": ("link", ((2, 3),)),
    "symlink": ("symlink", ((None, 1),)),
    "symlinkat": ("symlink", ((1, 2),)),
    "truncate": ("truncate", ((None, 0),)),
    "chmod": ("chmod", ((None, 0),)),
    "fchmodat": ("chmod", ((0, 1),)),
    "chown": ("chown", ((None, 0),)),
    "lchown": ("chown", ((None, 0),)),
    "fchownat": ("chown", ((0, 1),)),
}
# Looks at a path by name (syscall_filter.NOTIFIED_LOOKUPS): (index of dirfd or None, index of the
# path), and the word the record uses. Recorded only where the watch's `probes` pattern matches
# (where secrets live): most of these are the interpreter finding its modules.
_LOOKUP_CALLS = {
    "newfstatat": ("stat", 0, 1),
    "statx": ("stat", 0, 1),
    "stat": ("stat", None, 0),
    "lstat": ("stat", None, 0),
    "access": ("access", None, 0),
    "faccessat": ("access", 0, 1),
    "faccessat2": ("access", 0, 1),
}
_NEW_FDS = {"socket": 1, "socketpair": 2, "pipe": 2, "pipe2": 2, "dup": 1, "dup2": 1, "dup3": 1}


def _under(path: str, roots) -> bool:
    return any(path == r.rstrip("/") or path.startswith(r if r.endswith("/") else r + "/") for r in roots)


class Memory:
    """Reads a stopped task's memory (`/proc/TID/mem`), one descriptor per task, kept while the
    task lives. Every answer is checked against the notification afterwards (ID_VALID), so a
    recycled tid can never lend us another process's memory."""

    def __init__(self) -> None:
        self._fds: dict[int, int] = {}

    def fd(self, tid: int) -> int | None:
        fd = self._fds.get(tid)
        if fd is None:
            try:
                fd = os.open(f"/proc/{tid}/mem", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
            if len(self._fds) > 256:
                self.forget_all()
            self._fds[tid] = fd
        return fd

    def read(self, tid: int, addr: int, size: int) -> bytes | None:
        if addr == 0 or size <= 0:
            return None
        for _ in range(2):
            fd = self.fd(tid)
            if fd is None:
                return None
            try:
                return os.pread(fd, size, addr)
            except OSError:
                # A descriptor opened before the task exec'd reads the old image: open anew once.
                self.forget(tid)
        return None

    def cstr(self, tid: int, addr: int, limit: int = MAX_STR) -> str | None:
        if not addr:
            return None
        out = b""
        while len(out) < limit:
            # Up to the page boundary first: the next page may not be mapped.
            chunk = min(4096 - (addr % 4096), limit - len(out))
            data = self.read(tid, addr, chunk)
            if not data:
                break
            end = data.find(b"\0")
            if end >= 0:
                return (out + data[:end]).decode("utf-8", "surrogateescape")
            out += data
            addr += len(data)
        return out.decode("utf-8", "surrogateescape") if out else None

    def forget(self, tid: int) -> None:
        fd = self._fds.pop(tid, None)
        if fd is not None:
            os.close(fd)

    def forget_all(self) -> None:
        for tid in list(self._fds):
            self.forget(tid)


def sockaddr(data: bytes | None) -> dict | None:
    if not data or len(data) < 2:
        return None
    family = struct.unpack_from("H", data)[0]
    name = FAMILIES.get(family, f"AF_{family}")
    if family == 2 and len(data) >= 8:
        port = struct.unpack_from(">H", data, 2)[0]
        return {"family": name, "host": socket.inet_ntop(socket.AF_INET, data[4:8]), "port": port}
    if family == 10 and len(data) >= 24:
        port = struct.unpack_from(">H", data, 2)[0]
        return {"family": name, "host": socket.inet_ntop(socket.AF_INET6, data[8:24]), "port": port}
    if family == 1:
        raw = data[2:]
        if raw[:1] == b"\0":  # abstract: keep the name readable
            path = "@" + raw[1:].split(b"\0")[0].decode("utf-8", "replace")
        else:
            path = raw.split(b"\0")[0].decode("utf-8", "replace")
        return {"family": name, "host": path, "port": None}
    return {"family": name, "host": "", "port": None}


class Watch:
    """One sandbox: its bootstrap's connection, then its listener, and what it did."""

    def __init__(self, sid: str, conn: socket.socket, config: dict, listening: bool) -> None:
        self.sid = sid
        self.conn = conn
        self.listening = listening
        self.config = config
        self.listener: int | None = None
        self.armed = False
        self.launched = False  # the runtime's launch (config "launch") is behind us
        self.hangup = False
        self.main: int | None = None
        self.main_exit: int | None = None
        self.events: dict[str, dict] = {}
        self.truncated = False
        self.notifications = 0
        self.cgroup: str | None = None
        self.limits: set[str] = set()
        self.finish_at: float | None = None  # a pending finish: reply at hangup or then
        self.greeted = False
        self.error: str | None = None
        self.container: str | None = None  # a Docker container to remove if Sandgate dies
        pattern = config.get("probes")
        self.probes: re.Pattern[str] | None = _compiled(pattern) if pattern else None

    # -- the record -------------------------------------------------------------------------
    def add(self, event: dict) -> None:
        key = json.dumps(event, sort_keys=True)
        seen = self.events.get(key)
        if seen is not None:
            seen["count"] += 1
            return
        if len(self.events) >= MAX_EVENTS:
            self.truncated = True
            return
        self.events[key] = {**event, "count": 1}

    def record(self) -> dict:
        limits = set(self.limits)
        if self.cgroup and _counter(os.path.join(self.cgroup, "pids.events"), "max") > 0:
            limits.add("processes")
        return {
            "op": "record",
            "id": self.sid,
            "armed": self.armed,
            "hangup": self.hangup,
            "main_exit": self.main_exit,
            "exited": self.main_exit is not None,
            "truncated": self.truncated,
            "notifications": self.notifications,
            "limits": sorted(limits),
            "events": list(self.events.values()),
            "error": self.error,
        }


class Supervisor:
    def __init__(self, channel: socket.socket) -> None:
        self.channel = channel
        self.poll = select.poll()
        self.watches: dict[str, Watch] = {}
        self.by_fd: dict[int, tuple[str, Watch]] = {}
        # The label filters ("sandgate.owner=…") of the containers made for the watches so far.
        self.owners: set[str] = set()
        self.memory = Memory()
        self.poll.register(channel.fileno(), select.POLLIN)
        programs = syscall_filter.programs()
        self.names = programs.names
        # What every bootstrap is sent first: the filter to load and seccomp(2)'s number (and the
        # sandbox's honeytokens, when it is made with them: `hello_for`).
        self.hello_fields = {"bpf": programs.monitor.hex(), "nr": programs.seccomp_nr}
        self.hello = (json.dumps(self.hello_fields) + "\n").encode()

    def hello_for(self, watch: Watch) -> bytes:
        honey = watch.config.get("honey")
        if not honey:
            return self.hello
        return (json.dumps({**self.hello_fields, "honey": honey}) + "\n").encode()

    # -- messages from Sandgate ----------------------------------------------------------------
    def send(self, message: dict) -> None:
        try:
            self.channel.send(json.dumps(message).encode())
        except OSError:
            pass

    def on_channel(self) -> bool:
        try:
            data, fds, _, _ = socket.recv_fds(self.channel, 1 << 20, 4)
        except OSError:
            return False
        if not data:
            for fd in fds:
                os.close(fd)
            return False
        try:
            message = json.loads(data)
        except ValueError:
            for fd in fds:
                os.close(fd)
            return True
        op = message.get("op")
        if op == "watch" and fds:
            conn = socket.socket(fileno=fds[0])
            for extra in fds[1:]:
                os.close(extra)
            self.unwatch(message["id"])
            new = Watch(message["id"], conn, message.get("config", {}), bool(message.get("listening")))
            self.watches[new.sid] = new
            if new.config.get("owner"):
                self.owners.add(str(new.config["owner"]))
            self.track(conn.fileno(), "conn", new)
            if not new.listening:
                self.greet(new)
        elif op == "finish":
            watch = self.watches.get(message["id"])
            if watch is None:
                self.send(
                    {
                        "op": "record",
                        "id": message["id"],
                        "armed": False,
                        "hangup": False,
                        "events": [],
                        "error": "unknown sandbox",
                    }
                )
            else:
                watch.finish_at = time.monotonic() + float(message.get("wait", 0))
                self.maybe_reply(watch)
        elif op == "forget":
            self.unwatch(message["id"])
        elif op == "done":
            self.owners.clear()  # Sandgate ends in order and removes its containers itself
        elif op == "adopt":
            watch = self.watches.get(message["id"])
            if watch is not None:
                watch.container = str(message.get("container") or "") or None
        for fd in fds if op != "watch" else ():
            os.close(fd)
        return True

    def track(self, fd: int, role: str, watch: Watch) -> None:
        self.by_fd[fd] = (role, watch)
        self.poll.register(fd, select.POLLIN)

    def untrack(self, fd: int) -> None:
        if self.by_fd.pop(fd, None) is not None:
            try:
                self.poll.unregister(fd)
            except KeyError:
                pass

    def unwatch(self, sid: str) -> None:
        watch = self.watches.pop(sid, None)
        if watch is None:
            return
        self.untrack(watch.conn.fileno())
        watch.conn.close()
        if watch.listener is not None:
            self.untrack(watch.listener)
            os.close(watch.listener)
            watch.listener = None

    def maybe_reply(self, watch: Watch) -> None:
        if watch.finish_at is None:
            return
        if watch.hangup or not watch.armed or time.monotonic() >= watch.finish_at:
            watch.finish_at = None
            self.send(watch.record())
            if watch.hangup or not watch.armed:
                self.unwatch(watch.sid)  # complete: nothing more will be asked of it

    # -- the sandbox's side ---------------------------------------------------------------------
    def greet(self, watch: Watch) -> None:
        """Send the bootstrap its filter; it answers with the listener."""
        try:
            watch.conn.sendall(self.hello_for(watch))
            watch.greeted = True
        except OSError as exc:
            watch.error = f"could not reach the sandbox: {exc}"

    def on_conn(self, watch: Watch) -> None:
        if watch.listening:
            try:
                conn, _ = watch.conn.accept()
            except OSError:
                return
            self.untrack(watch.conn.fileno())
            watch.conn.close()
            watch.conn, watch.listening = conn, False
            self.track(conn.fileno(), "conn", watch)
            self.greet(watch)
            return
        try:
            data, fds, _, _ = socket.recv_fds(watch.conn, 64, 1)
        except OSError:
            data, fds = b"", []
        if watch.armed or not fds:
            for fd in fds:
                os.close(fd)
            if not data or watch.armed:
                # The bootstrap is done with us (or gone): nothing more is read from it. The
                # program may write here; it is not listened to.
                self.untrack(watch.conn.fileno())
            return
        watch.listener, watch.armed = fds[0], True
        try:
            fcntl.ioctl(watch.listener, NOTIF_SET_FLAGS, struct.pack("Q", USER_NOTIF_FD_SYNC_WAKE_UP))
        except OSError:
            pass  # an older kernel: the same record, a little slower
        self.track(watch.listener, "listener", watch)

    def on_listener(self, watch: Watch, revents: int) -> None:
        if revents & select.POLLIN:
            self.notification(watch)
            return
        if revents & (select.POLLHUP | select.POLLERR):
            # No task uses the filter any more: the sandbox is gone, the record is complete.
            watch.hangup = True
            if watch.listener is not None:
                self.untrack(watch.listener)
                os.close(watch.listener)
                watch.listener = None
            self.maybe_reply(watch)

    def notification(self, watch: Watch) -> None:
        listener = watch.listener
        if listener is None:
            return  # hung up already
        buf = bytearray(_NOTIF_SIZE)
        try:
            fcntl.ioctl(listener, NOTIF_RECV, buf, True)
        except OSError:
            return  # the task died meanwhile
        nid, tid, _flags, nr, _arch, _ip = struct.unpack_from("QIIiIQ", buf, 0)
        args = struct.unpack_from("6Q", buf, 32)
        watch.notifications += 1
        if watch.main is None:
            watch.main = tid  # the bootstrap's own first call: the sandbox's main process
            watch.cgroup = _pids_cgroup(tid)
        try:
            event = self.decode(watch, self.names.get(nr, str(nr)), tid, args)
            # The arguments were read from a task that may have gone and been replaced: keep
            # the reading only if the notification is still the one we asked about.
            fcntl.ioctl(listener, NOTIF_ID_VALID, struct.pack("Q", nid))
            if event is not None:
                watch.add(event)
        except OSError:
            self.memory.forget(tid)
        except Exception as exc:  # noqa: BLE001 - a decoding bug must not stop the sandbox
            watch.add({"kind": "undecoded", "call": self.names.get(nr, str(nr)), "error": type(exc).__name__})
        try:
            fcntl.ioctl(listener, NOTIF_SEND, struct.pack("QqiI", nid, 0, 0, FLAG_CONTINUE))
        except OSError:
            pass

    # -- decoding -----------------------------------------------------------------------------------
    def path(self, tid: int, dirfd: int | None, addr: int, empty_ok: bool = False) -> str | None:
        raw = self.memory.cstr(tid, addr)
        if raw is None:
            return None
        if raw == "" and empty_ok and dirfd is not None:
            return _readlink(f"/proc/{tid}/fd/{dirfd}")
        if raw.startswith("/"):
            return posixpath.normpath(raw)
        fd = _signed32(dirfd) if dirfd is not None else AT_FDCWD
        base = _readlink(f"/proc/{tid}/cwd") if fd == AT_FDCWD else _readlink(f"/proc/{tid}/fd/{fd}")
        return posixpath.normpath(posixpath.join(base or "/", raw))

    def decode(self, watch: Watch, name: str, tid: int, args: tuple) -> dict | None:
        cfg = watch.config
        if name in ("connect", "sendto", "sendmsg", "sendmmsg"):
            return self.address(tid, name, args)
        if name in ("execve", "execveat"):
            if name == "execve":
                path = self.path(tid, None, args[0])
                argv = self.argv(tid, args[1])
            else:
                path = self.path(tid, args[0], args[1], empty_ok=bool(args[4] & AT_EMPTY_PATH))
                argv = self.argv(tid, args[2])
            # After the exec the task has a new memory image: our descriptor would read the old one.
            self.memory.forget(tid)
            launch = cfg.get("launch")
            if launch and not watch.launched and tid == watch.main and path == launch:
                # The bootstrap starting the sandbox's runtime (Node), once, before any program:
                # the first exec of the main task, so nothing the program does can pass for it.
                watch.launched = True
                return None
            watch.launched = True
            return {"kind": "execve", "path": path or "?", "argv": argv}
        if name in ("open", "openat", "openat2", "creat"):
            self.count_fds(watch, tid, 1)
            if name == "open":
                path, flags = self.path(tid, None, args[0]), args[1]
            elif name == "creat":
                path, flags = self.path(tid, None, args[0]), O_WRONLY | O_CREAT | O_TRUNC
            elif name == "openat":
                path, flags = self.path(tid, args[0], args[1]), args[2]
            else:
                how = self.memory.read(tid, args[2], 8)
                path, flags = self.path(tid, args[0], args[1]), struct.unpack("Q", how)[0] if how else 0
            if path is None:
                return None
            writing = (flags & O_ACCMODE) in (O_WRONLY, O_RDWR) or bool(flags & (O_CREAT | O_TRUNC | O_APPEND))
            if writing:
                if _under(path, cfg.get("scratch", ())) or path in cfg.get("harmless_writes", ()):
                    return None
                return {"kind": "open-write", "path": path, "in_scratch": False}
            if _under(path, cfg.get("quiet_reads", ())):
                return None
            if flags & os.O_DIRECTORY and watch.probes is not None and watch.probes.search(path):
                return {"kind": "open-read", "path": path, "dir": True}  # a listing where secrets live
            return {"kind": "open-read", "path": path}
        if name in _LOOKUP_CALLS:
            if watch.probes is None:
                return None
            word, dirfd_index, addr_index = _LOOKUP_CALLS[name]
            raw = self.memory.cstr(tid, args[addr_index])
            if not raw:
                return None
            # Absolute (most are: the interpreter's own look-ups): tested without another system call.
            looked = (
                posixpath.normpath(raw)
                if raw.startswith("/")
                else self.path(tid, args[dirfd_index] if dirfd_index is not None else None, args[addr_index])
            )
            if looked is None or not watch.probes.search(looked):
                return None
            return {"kind": "probe", "how": word, "path": looked}
        if name in _PATH_CALLS:
            op, paths = _PATH_CALLS[name]
            for dirfd_index, addr_index in paths:
                dirfd = args[dirfd_index] if dirfd_index is not None else None
                path = self.path(tid, dirfd, args[addr_index])
                if path is not None and not _under(path, cfg.get("scratch", ())):
                    return {"kind": "fs-change", "op": op, "path": path}
            return None
        if name in _NEW_FDS:
            self.count_fds(watch, tid, _NEW_FDS[name])
            return None
        if name == "exit_group":
            if tid == watch.main:
                watch.main_exit = _signed32(args[0]) & 0xFF
                self.scratch_full(watch, tid)
            self.memory.forget(tid)
            return None
        return None

    def address(self, tid: int, name: str, args: tuple) -> dict | None:
        if name == "connect":
            found = sockaddr(self.memory.read(tid, args[1], min(args[2], 128)))
        elif name == "sendto":
            found = sockaddr(self.memory.read(tid, args[4], min(args[5], 128)))
        else:
            header = self.memory.read(tid, args[1], 16)  # msghdr: name pointer, name length
            if not header:
                return None
            ptr, size = struct.unpack_from("QI", header)
            found = sockaddr(self.memory.read(tid, ptr, min(size, 128))) if ptr else None
        if found is None:
            return None
        return {"kind": "connect", **found, "via": name}

    def argv(self, tid: int, addr: int) -> list[str]:
        out: list[str] = []
        raw = self.memory.read(tid, addr, 8 * MAX_ARGV) if addr else None
        if not raw:
            return out
        for (ptr,) in struct.iter_unpack("Q", raw[: len(raw) - len(raw) % 8]):
            if not ptr:
                break
            out.append((self.memory.cstr(tid, ptr, 1024) or "")[:1024])
        return out

    def count_fds(self, watch: Watch, tid: int, need: int) -> None:
        limit = watch.config.get("open_files")
        if not limit:
            return
        try:
            open_now = os.stat(f"/proc/{tid}/fd").st_size  # Linux ≥ 6.2: the number of descriptors
        except OSError:
            return
        if open_now + need > int(limit):
            watch.limits.add("open-files")

    def scratch_full(self, watch: Watch, tid: int) -> None:
        """At the main process's exit, while its mounts still exist: is scratch full, or a file
        there as large as the file-size limit allows? (Both errors are easy to catch inside.)"""
        file_size = int(watch.config.get("file_size") or 0)
        for root in watch.config.get("scratch", ()):
            base = f"/proc/{tid}/root{root}"
            try:
                st = os.statvfs(base)
            except OSError:
                continue
            if st.f_blocks and st.f_bavail * st.f_frsize < 64 * 1024:
                watch.limits.add("scratch")
            if file_size and _largest_file(base, 256) >= file_size:
                watch.limits.add("file-size")

    # -- the end ------------------------------------------------------------------------------------
    def shut_down(self) -> None:
        """Sandgate is gone (or done): every sandbox loses its line (a parked bootstrap exits on
        that), and the containers it left are removed (a SIGKILLed Sandgate cleans nothing up):
        those adopted, and any labelled as its own, which finds one the engine was still creating
        (not adopted yet) when Sandgate died, looked for until none turns up."""
        containers = {w.container for w in self.watches.values() if w.container}
        for sid in list(self.watches):
            self.unwatch(sid)
        if not containers and not self.owners:
            return
        try:
            import docker

            api = docker.from_env(timeout=15).api
        except Exception:  # noqa: BLE001 - no engine: the next Sandgate's reaper removes them
            return
        removed: set[str] = set()
        # Looked for again only when Sandgate died (owners left): an orderly end waits for nothing.
        for pause in (0.0, *OWNED_SWEEPS_S) if self.owners else (0.0,):
            time.sleep(pause)
            try:
                containers |= {c["Id"] for f in self.owners for c in api.containers(all=True, filters={"label": f})}
            except Exception:  # noqa: BLE001 - the engine went: the next Sandgate's reaper
                pass
            for cid in containers - removed:
                try:
                    api.remove_container(cid, force=True, v=True)
                except Exception:  # noqa: BLE001 - gone already
                    pass
            removed |= containers

    # -- the loop -----------------------------------------------------------------------------------
    def run(self) -> None:
        while True:
            timeout = None
            pending = [w.finish_at for w in self.watches.values() if w.finish_at is not None]
            if pending:
                timeout = max(0, int((min(pending) - time.monotonic()) * 1000) + 1)
            try:
                ready = self.poll.poll(timeout)
            except InterruptedError:
                continue
            for fd, revents in ready:
                if fd == self.channel.fileno():
                    if not self.on_channel():
                        self.shut_down()
                        return
                    continue
                entry = self.by_fd.get(fd)
                if entry is None:
                    continue
                role, watch = entry
                if role == "conn":
                    self.on_conn(watch)
                else:
                    self.on_listener(watch, revents)
            for watch in list(self.watches.values()):
                self.maybe_reply(watch)


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    found = _PATTERNS.get(pattern)
    if found is None:
        found = _PATTERNS[pattern] = re.compile(pattern)
    return found


def _largest_file(root: str, budget: int) -> int:
    largest = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            budget -= 1
            if budget < 0:
                return largest
            try:
                largest = max(largest, os.lstat(os.path.join(dirpath, name)).st_size)
            except OSError:
                pass
    return largest


def _readlink(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _pids_cgroup(tid: int) -> str | None:
    try:
        with open(f"/proc/{tid}/cgroup") as f:
            for line in f:
                parts = line.rstrip("\n").split(":", 2)
                if len(parts) == 3 and "pids" in parts[1].split(","):
                    path = os.path.join("/sys/fs/cgroup/pids", parts[2].lstrip("/"))
                    return path if os.path.isdir(path) else None
    except OSError:
        pass
    return None


def _counter(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
                    return int(parts[1])
    except OSError:
        pass
    return 0


def main(argv: list[str]) -> int:
    # Terminal signals are Sandgate's to handle; this process goes when its channel closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = socket.socket(fileno=int(argv[1]))
    Supervisor(channel).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
