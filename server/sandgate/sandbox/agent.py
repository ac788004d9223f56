"""The agent of a nested Docker sandbox host: it runs inside a long-lived container and starts one
fresh bubblewrap sandbox per run there, on the host's word (docs/sandbox.md, "Docker, nested").

Standard library only: it runs under the image's Python with -I -S, compiled into the container's
control folder like the bootstrap. It owns no policy: the host sends each sandbox's command line
and the descriptors it is to have (pipes, the supervisor's socket, the seccomp program) over a
SOCK_SEQPACKET unix socket (one message, one request, its descriptors attached); the agent puts
them at the numbers the command names, starts the command in a session of its own and reports its
pid, then its exit. The host closing the socket ends every sandbox and the agent with it: the
container stops, and nothing outlives the host's interest in it.

Messages are JSON. Requests: {"op": "spawn", "id", "argv", "fds": [names, in the order attached],
"open": {name: a folder of the container's, opened O_PATH}, "rlimits": {"RLIMIT_…": [soft, hard]}}
and {"op": "kill", "id"}. Replies: {"op": "spawned", "id", "pid", "numbers": {name: descriptor
number in the sandbox's command}}, {"op": "exited", "id",
"status" (a wait status), "maxrss_kb", "oom_kills" (the container's OOM kills during the run)} and
{"op": "error", "id", "message"}. In `argv`, "{fd:NAME}" is the number the descriptor NAME got;
"stdin", "stdout" and "stderr" become 0, 1 and 2.
"""

import json
import os
import re
import resource
import selectors
import signal
import socket
import sys

MAX_MESSAGE = 1 << 20
MAX_FDS = 16
STDIO = {"stdin": 0, "stdout": 1, "stderr": 2}
_PLACEHOLDER = re.compile(r"\{fd:([a-z_]+)\}")
# Where the container's memory cgroup counts OOM kills (v2, then v1).
_OOM_FILES = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")


def oom_kills():
    for path in _OOM_FILES:
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def substitute(argv, numbers):
    """`argv` with each {fd:NAME} replaced by NAME's number; an unknown name is an error."""

    def one(match):
        name = match.group(1)
        if name not in numbers:
            raise ValueError(f"the command names a descriptor it was not given: {name}")
        return str(numbers[name])

    return [_PLACEHOLDER.sub(one, arg) for arg in argv]


class Agent:
    def __init__(self, conn):
        self.conn = conn
        self.children = {}  # id -> (pid, pidfd, oom kills before)
        self.selector = selectors.DefaultSelector()
        self.selector.register(conn, selectors.EVENT_READ, None)

    def send(self, message):
        self.conn.send(json.dumps(message).encode())

    def serve(self):
        try:
            while True:
                for key, _ in self.selector.select():
                    if key.data is None:
                        if not self.request():
                            return
                    else:
                        self.reap(key.data)
        finally:
            self.end_all()

    def request(self):
        try:
            data, fds, _, _ = socket.recv_fds(self.conn, MAX_MESSAGE, MAX_FDS)
        except OSError:
            return False
        if not data:
            for fd in fds:
                os.close(fd)
            return False
        try:
            message = json.loads(data)
            op = message.get("op")
            if op == "spawn":
                self.spawn(message, fds)
            elif op == "kill":
                self.kill(message.get("id"))
            else:
                raise ValueError(f"unknown request {op!r}")
        except Exception as exc:  # the host hears of it; the agent goes on
            self.send({"op": "error", "id": _id_of(data), "message": f"{type(exc).__name__}: {exc}"})
        finally:
            for fd in fds:
                os.close(fd)
        return True

    def spawn(self, message, fds):
        ident, names, argv = message["id"], message["fds"], message["argv"]
        if ident in self.children:
            raise ValueError(f"a sandbox {ident} is running already")
        if len(names) != len(fds) or len(set(names)) != len(names):
            raise ValueError("the descriptors attached do not match their names")
        given = dict(zip(names, fds, strict=True))
        for name, path in (message.get("open") or {}).items():
            if name in given:
                raise ValueError(f"{name} is both attached and to be opened")
            # The container's own folders (the workspace, the egress folder), never through a link.
            given[name] = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            fds.append(given[name])
        limits = [
            (getattr(resource, name), (soft, hard)) for name, (soft, hard) in (message.get("rlimits") or {}).items()
        ]
        numbers = {name: STDIO.get(name, fd) for name, fd in given.items()}
        command = substitute(argv, numbers)
        before = oom_kills()
        pid = os.fork()
        if pid == 0:  # the child: its descriptors and limits in place, then the command
            try:
                os.setsid()
                for name, target in STDIO.items():
                    if name in given:
                        os.dup2(given[name], target, inheritable=True)
                last = 3  # everything else of the agent's is closed
                for fd in sorted(fd for name, fd in given.items() if name not in STDIO):
                    os.set_inheritable(fd, True)
                    os.closerange(last, fd)
                    last = fd + 1
                os.closerange(last, os.sysconf("SC_OPEN_MAX"))
                for which, values in limits:
                    resource.setrlimit(which, values)
                signal.signal(signal.SIGPIPE, signal.SIG_DFL)
                os.execvp(command[0], command)
            finally:
                os._exit(127)
        for fd in fds:
            os.close(fd)
        fds.clear()
        pidfd = os.pidfd_open(pid)
        self.children[ident] = (pid, pidfd, before)
        self.selector.register(pidfd, selectors.EVENT_READ, ident)
        self.send({"op": "spawned", "id": ident, "pid": pid, "numbers": numbers})

    def reap(self, ident):
        pid, pidfd, before = self.children.pop(ident)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status, usage = os.wait4(pid, 0)
        after = oom_kills()
        kills = after - before if before is not None and after is not None else None
        self.send({"op": "exited", "id": ident, "status": status, "maxrss_kb": usage.ru_maxrss, "oom_kills": kills})

    def kill(self, ident):
        child = self.children.get(ident)
        if child is not None:
            try:
                os.killpg(child[0], signal.SIGKILL)
            except ProcessLookupError:
                pass

    def end_all(self):
        for pid, pidfd, _ in self.children.values():
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            os.close(pidfd)
        self.children.clear()


def _id_of(data):
    try:
        return json.loads(data).get("id")
    except Exception:
        return None


def main(argv):
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    conn.connect(argv[1])
    Agent(conn).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
