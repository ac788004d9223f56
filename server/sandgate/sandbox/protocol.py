"""What crosses the sandbox wall: the launch command, the stdin payload, the event stream.

Both backends run the same bootstrap (`bootstrap.py`, compiled once by the sandbox's interpreter:
`-c` loads its code in bubblewrap, a Docker container runs it as a .pyc from its control folder),
so the monitor and its report do not depend on the backend.
"""

from __future__ import annotations

import binascii
import json
import logging
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

log = logging.getLogger(__name__)

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


def python_argv(python: str = PYTHON, control: str | None = None, script: str | None = None) -> list[str]:
    """The sandbox's command. `control`: how the bootstrap reaches the supervisor ("fd:N" or
    "unix:PATH", see bootstrap.py); without one the bootstrap refuses to run anything. `script`:
    where the sandbox finds `bootstrap_pyc()` (a Docker container's control folder), else the
    bootstrap comes as `-c` (`bootstrap_command()`)."""
    # -I: no env vars, no user site, no cwd (nor the script's folder) on sys.path; -S: no site
    # (faster, nothing extra on sys.path); -B: no .pyc writes (root is read-only anyway).
    start = [script] if script else ["-c", bootstrap_command()]
    return [python, "-I", "-S", "-B", *start] + ([control] if control else [])


# Run by the sandbox's interpreter on the host: the bootstrap's code object, as its bytecode's
# magic number and base64 marshal data.
_COMPILE = (
    "import sys,marshal,binascii,_frozen_importlib_external as f\n"
    "c=compile(sys.stdin.read(),'<string>','exec')\n"
    "sys.stdout.write(f.MAGIC_NUMBER.hex()+' '+binascii.b2a_base64(marshal.dumps(c),newline=False).decode())"
)


@lru_cache(maxsize=1)
def compiled_bootstrap() -> tuple[bytes, str] | None:
    """The bootstrap compiled once by the sandbox's interpreter (the host's, bound into bubblewrap
    and copied into the image): (its bytecode's magic number, base64 marshal data), where compiling
    the source took 7 ms of every sandbox's start. None where the host cannot compile it."""
    try:
        done = subprocess.run(
            [PYTHON, "-I", "-S", "-B", "-c", _COMPILE],
            input=bootstrap_source().encode(),
            capture_output=True,
            timeout=60,
            check=True,
            env={},
        )
        magic, data = done.stdout.decode("ascii").split(" ")
        return bytes.fromhex(magic), data
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError, ValueError) as exc:
        log.warning("the sandbox bootstrap is compiled at every start: %s could not compile it (%s)", PYTHON, exc)
        return None


@lru_cache(maxsize=1)
def bootstrap_command() -> str:
    """The `-c` text that starts the bootstrap: its compiled code, loaded with marshal. An
    interpreter whose bytecode differs exits as a bootstrap that cannot arm (status 4: no run, the
    suggestion held). The source itself where it could not be compiled."""
    compiled = compiled_bootstrap()
    if compiled is None:
        return bootstrap_source()
    magic, data = compiled
    return (
        "import marshal,binascii,_frozen_importlib_external as f\n"
        f"if f.MAGIC_NUMBER!={magic!r}:\n"
        " import sys;sys.stderr.write('sandgate: the sandbox monitor could not be armed: its bootstrap was "
        "compiled for another Python\\n');sys.exit(4)\n"
        f"exec(marshal.loads(binascii.a2b_base64('{data}')))\n"
    )


@lru_cache(maxsize=1)
def bootstrap_pyc() -> bytes | None:
    """The compiled bootstrap as a .pyc file the sandbox's interpreter runs by name (PEP 552 header:
    magic, flags, no source): a container's command stays a few bytes, where the engine stores,
    encodes and hands on every byte of it (an 84 KB command cost the engine 25 ms a container)."""
    compiled = compiled_bootstrap()
    if compiled is None:
        return None
    magic, data = compiled
    return magic + bytes(12) + binascii.a2b_base64(data)


@lru_cache(maxsize=1)
def node_bootstrap_source() -> str:
    """Node's bootstrap, then the exercise it calls (node_exercise.js): one script, so one `-e`."""
    files = resources.files("sandgate.sandbox")
    return "\n".join(
        files.joinpath(name).read_text(encoding="utf-8") for name in ("node_bootstrap.js", "node_exercise.js")
    )


def node_argv(
    flags: list[str], control: str | None = None, python: str = PYTHON, node: str = NODE, script: str | None = None
) -> list[str]:
    """The command of a Node sandbox: Python's bootstrap arms the monitor (Node has no way to load a
    seccomp filter), then execs Node with its own bootstrap (node_bootstrap.js), which parks."""
    if control is None:
        return [node, *flags, "-e", node_bootstrap_source()]
    # --disable-warning: type stripping's notice is not the program's output.
    return python_argv(python, control, script) + [
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


def drain_events(fd: int, marker: str) -> list[dict]:
    """The events still in a killed run's pipe (written before the kill), without waiting."""
    splitter = EventSplitter(marker)
    os.set_blocking(fd, False)
    try:
        while chunk := os.read(fd, 65536):
            splitter.feed(chunk)
    except OSError:  # BlockingIOError: nothing more for now
        pass
    return splitter.events
