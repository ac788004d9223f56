"""The host's end of a nested sandbox host's agent (agent.py): one connection per container, used
by one run or one pool filler at a time (a container holds one sandbox at a time, so its cgroup's
limits are that sandbox's)."""

from __future__ import annotations

import json
import os
import select
import socket
import time
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE = 1 << 20


class AgentGone(RuntimeError):
    """The agent closed its end, or answered what it should not: its container is finished."""


@dataclass(frozen=True)
class Spawned:
    pid: int  # in the container's pid namespace
    numbers: dict[str, int]  # descriptor name -> its number in the command


@dataclass(frozen=True)
class Exited:
    status: int  # a wait status
    maxrss_kb: int
    oom_kills: int | None  # None: the container's cgroup does not say


def listen(path: str) -> socket.socket:
    """The socket the agent connects to, in the container's own control folder."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.bind(path)
        # The agent is another uid (the container's user); the folder is the container's alone.
        os.chmod(path, 0o666)
        sock.listen(1)
    except BaseException:
        sock.close()
        raise
    return sock


class AgentLink:
    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self._held: list[dict[str, Any]] = []  # replies read while waiting for another

    @classmethod
    def accept(cls, listening: socket.socket, timeout: float) -> AgentLink:
        """The agent's one connection; the socket stops listening then, so nothing else in the
        container can connect after it."""
        listening.settimeout(timeout)
        try:
            conn, _ = listening.accept()
        except TimeoutError as exc:
            raise AgentGone(f"the agent did not connect within {timeout:.0f} s") from exc
        finally:
            listening.close()
        conn.settimeout(None)
        return cls(conn)

    def spawn(
        self,
        ident: str,
        argv: list[str],
        fds: dict[str, int],
        opened: dict[str, str] | None = None,
        rlimits: dict[str, tuple[int, int]] | None = None,
        timeout: float = 5.0,
    ) -> Spawned:
        """Start `argv` in the container with `fds` (name -> our descriptor, sent as copies) and
        `opened` (name -> a folder of the container's, opened there); `rlimits` by resource name."""
        names = list(fds)
        request = {
            "op": "spawn",
            "id": ident,
            "argv": argv,
            "fds": names,
            "open": opened or {},
            "rlimits": rlimits or {},
        }
        message = json.dumps(request).encode()
        try:
            socket.send_fds(self.conn, [message], [fds[n] for n in names])
        except OSError as exc:
            raise AgentGone(f"the agent's connection is closed ({exc})") from exc
        reply = self._reply(ident, ("spawned", "error"), time.monotonic() + timeout)
        if reply["op"] == "error":
            raise RuntimeError(f"the agent could not start the sandbox: {reply.get('message')}")
        numbers = reply.get("numbers")
        if not isinstance(numbers, dict):
            raise AgentGone("the agent did not say where the descriptors are")
        return Spawned(int(reply["pid"]), {str(k): int(v) for k, v in numbers.items()})

    def kill(self, ident: str) -> None:
        try:
            self.conn.send(json.dumps({"op": "kill", "id": ident}).encode())
        except OSError:
            pass  # the agent is gone, and with it everything it started

    def wait_exit(self, ident: str, timeout: float) -> Exited | None:
        """The sandbox's exit, or None when it has not exited within `timeout`."""
        try:
            reply = self._reply(ident, ("exited",), time.monotonic() + timeout)
        except TimeoutError:
            return None
        kills = reply.get("oom_kills")
        return Exited(int(reply["status"]), int(reply.get("maxrss_kb") or 0), kills if isinstance(kills, int) else None)

    def close(self) -> None:
        self.conn.close()

    def hung_up(self) -> bool:
        """Whether the agent is gone (its end closed: its container stopped), without waiting."""
        try:
            ready, _, _ = select.select([self.conn], [], [], 0)
            return bool(ready) and self.conn.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _reply(self, ident: str, ops: tuple[str, ...], deadline: float) -> dict[str, Any]:
        for i, held in enumerate(self._held):
            if held.get("id") == ident and held.get("op") in ops:
                return self._held.pop(i)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(ident)
            ready, _, _ = select.select([self.conn], [], [], left)
            if not ready:
                continue
            try:
                data = self.conn.recv(MAX_MESSAGE)
            except OSError as exc:
                raise AgentGone(f"the agent's connection failed ({exc})") from exc
            if not data:
                raise AgentGone("the agent closed its connection")
            try:
                message = json.loads(data)
            except ValueError as exc:
                raise AgentGone("the agent sent something that is not JSON") from exc
            if not isinstance(message, dict):
                raise AgentGone("the agent sent something that is not a message")
            if message.get("id") == ident and message.get("op") in ops:
                return message
            self._held.append(message)
