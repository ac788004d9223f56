"""What crosses the sandbox wall: the launch command, the stdin payload, the event stream.

Both backends run the same bootstrap (`bootstrap.py`, passed as `python3 -c`) the same way, so
the monitor and its report do not depend on the backend.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

WORKSPACE = "/workspace"
SCRATCH = "/tmp"
# A home of the sandbox's own: a small empty tmpfs, nothing of the host's. Each run's honeyfiles
# (honeytokens.py) are put there; writes under ~ are outside scratch, so they are reported.
HOME = "/home/sandbox"
HOME_BYTES = 1024 * 1024
PYTHON = "/usr/bin/python3"
# Where the Node binary is in a Node sandbox (node_runtime.py), on both backends.
NODE = "/usr/local/bin/node"
RUNTIMES = ("python", "node")
# The fixed environment: nothing of the host's enters (keys, tokens, the user's variables).
ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": HOME,
    "LANG": "C.UTF-8",
    "TMPDIR": SCRATCH,
    "PYTHONIOENCODING": "utf-8",
}
RUNTIME_HINTS = ("/usr/lib/python3", "/usr/local/lib/python3")
MAX_EVENTS = 300
MAX_EVENT_LINE = 8192


@lru_cache(maxsize=1)
def bootstrap_source() -> str:
    return resources.files("sandgate.sandbox").joinpath("bootstrap.py").read_text(encoding="utf-8")


def python_argv(python: str = PYTHON, control: str | None = None) -> list[str]:
    """The sandbox's command. `control`: how the bootstrap reaches the supervisor ("fd:N" or
    "unix:PATH", see bootstrap.py); without one the bootstrap refuses to run anything."""
    # -I: no env vars, no user site, no cwd on sys.path; -S: no site (faster, nothing extra on
    # sys.path); -B: no .pyc writes (root is read-only anyway).
    return [python, "-I", "-S", "-B", "-c", bootstrap_source()] + ([control] if control else [])


@lru_cache(maxsize=1)
def node_bootstrap_source() -> str:
    """Node's bootstrap, then the exercise it calls (node_exercise.js): one script, so one `-e`."""
    files = resources.files("sandgate.sandbox")
    return "\n".join(
        files.joinpath(name).read_text(encoding="utf-8") for name in ("node_bootstrap.js", "node_exercise.js")
    )


def node_argv(flags: list[str], control: str | None = None, python: str = PYTHON, node: str = NODE) -> list[str]:
    """The command of a Node sandbox: Python's bootstrap arms the monitor (Node has no way to load a
    seccomp filter), then execs Node with its own bootstrap (node_bootstrap.js), which parks."""
    if control is None:
        return [node, *flags, "-e", node_bootstrap_source()]
    # --disable-warning: type stripping's notice is not the program's output.
    return python_argv(python, control) + [
        node,
        "--disable-warning=ExperimentalWarning",
        *flags,
        "-e",
        node_bootstrap_source(),
    ]


def new_marker() -> str:
    # Per run, so a stray line in the program's own output is unlikely to parse as an event.
    return "\x1esandgate-event:" + secrets.token_hex(6) + ":"


def payload(
    code: str,
    relpath: str,
    events_fd: int,
    marker: str,
    egress: dict[str, Any] | None = None,
    end: bool = False,
    extra: dict[str, Any] | None = None,
) -> bytes:
    header = {
        "relpath": relpath,
        "workspace": WORKSPACE,
        "scratch": SCRATCH,
        "events_fd": events_fd,
        "marker": marker,
        "runtime": list(RUNTIME_HINTS),
    }
    if egress:
        # {"unix", "port", "source"}: the bootstrap starts the forwarder before the program.
        header["egress"] = egress
    if end:
        # An `exit` event ({"kind": "exit", "status": N}) on stdout and stderr once the program
        # and its exit handlers are done (see bootstrap.py).
        header["end"] = True
    if extra:
        # "honey" (honeytokens.py) and "exercise" (exercise.py): what the bootstrap plants before the
        # program and what it calls after the module body.
        header.update(extra)
    return json.dumps(header).encode() + b"\n" + code.encode("utf-8", "surrogatepass")


@dataclass
class EventSplitter:
    """Separates monitor events from the program's own bytes in a stream, chunk by chunk.

    `feed` returns the program's bytes (what counts towards the output cap); events collect in
    `events`. Events written by the program itself are possible and harmless: the monitor
    reports, it never enforces.
    """

    marker: str
    events: list[dict[str, Any]] = field(default_factory=list)
    _pending: bytes = b""

    def feed(self, chunk: bytes) -> bytes:
        mark = self.marker.encode()
        data = self._pending + chunk
        self._pending = b""
        out = bytearray()
        while data:
            i = data.find(mark)
            if i < 0:
                # Keep a tail that could be the start of a marker split across chunks.
                keep = _partial_suffix(data, mark)
                out += data[: len(data) - keep]
                self._pending = data[len(data) - keep :]
                break
            out += data[:i]
            j = data.find(b"\n", i)
            if j < 0:
                if len(data) - i > MAX_EVENT_LINE:
                    data = b""  # an oversized "event" is dropped
                else:
                    self._pending = data[i:]
                break
            self._add(data[i + len(mark) : j])
            data = data[j + 1 :]
        return bytes(out)

    def flush(self) -> bytes:
        rest, self._pending = self._pending, b""
        return b"" if rest.startswith(self.marker.encode()) else rest

    def _add(self, raw: bytes) -> None:
        if len(self.events) >= MAX_EVENTS:
            return
        try:
            event = json.loads(raw)
        except ValueError:
            return
        if isinstance(event, dict) and isinstance(event.get("kind"), str):
            self.events.append(event)


def _partial_suffix(data: bytes, mark: bytes) -> int:
    for n in range(min(len(mark) - 1, len(data)), 0, -1):
        if data.endswith(mark[:n]):
            return n
    return 0


@dataclass
class Captured:
    """What a backend read back from a run: output (capped), monitor events, why it stopped."""

    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    stopped: str | None = None
    events: list[dict] = field(default_factory=list)
    # The program's exit status from its `exit` event, when reading stopped there (the process
    # may still be finishing: the backend kills what is left).
    exit_status: int | None = None
    # The bootstrap said it has the program (Docker: a pooled container was alive).
    started: bool = False
