"""A run's output: read back under one cap for stdout and stderr together (the pump both backends
use), and summed up in a line for messages."""

from __future__ import annotations

import os
import re
import selectors
import time
from collections.abc import Callable
from typing import Any

from sandgate.sandbox import protocol

CHUNK = 65536


class CappedOutput:
    """stdout and stderr under one cap: `over` once the program wrote more than `cap` bytes in
    all; `texts` keeps exactly the first `cap`, stdout first when both must be cut."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.total = 0
        self._bufs = {"stdout": bytearray(), "stderr": bytearray()}

    def add(self, stream: str, data: bytes) -> None:
        # One byte past the cap is kept, so that `texts` can tell a cut from an exact fit.
        self._bufs[stream] += data[: max(self.cap + 1 - self.total, 0)]
        self.total += len(data)

    @property
    def over(self) -> bool:
        return self.total > self.cap

    def texts(self) -> tuple[str, str]:
        out = bytes(self._bufs["stdout"])[: self.cap]
        err = bytes(self._bufs["stderr"])[: max(self.cap - len(out), 0)]
        return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def pump(
    sources: dict[Any, Callable[[bytes], Any]],
    output: CappedOutput,
    deadline: float,
    *,
    stdin: tuple[Any, bytes] | None = None,
    done: Callable[[], bool] = lambda: False,
) -> str | None:
    """Read every source (a pipe, a socket or a descriptor) and hand each chunk to its handler,
    which puts the program's bytes into `output`; write `stdin`'s data meanwhile, then close it.

    Returns why reading stopped early, which the caller enforces by killing the run: "time" at
    the deadline, "output" once `output` is over its cap. None when every source reached its end
    or `done()` said the run is over."""
    sel = selectors.DefaultSelector()
    for source, handler in sources.items():
        _nonblocking(source)
        sel.register(source, selectors.EVENT_READ, handler)
    writing = memoryview(stdin[1]) if stdin else None
    if stdin:
        _nonblocking(stdin[0])
        sel.register(stdin[0], selectors.EVENT_WRITE)
    open_reads = len(sources)
    try:
        while open_reads:
            left = deadline - time.monotonic()
            if left <= 0:
                return "time"
            for key, _ in sel.select(timeout=min(left, 0.5)):
                if key.data is None and writing is not None:  # stdin (registered only with data to write)
                    writing = _write_some(key.fileobj, writing)
                    if not writing:
                        sel.unregister(key.fileobj)
                        _close(key.fileobj)
                    continue
                chunk = _read(key.fileobj)
                if chunk is None:
                    continue
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_reads -= 1
                    continue
                key.data(chunk)
                if output.over:
                    return "output"
            if done():
                return None
        return None
    finally:
        sel.close()
        if stdin:
            _close(stdin[0])


def last_line(text: str) -> str:
    """The last line that says anything (a traceback's error), cut to 300 characters."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


# Node ends an uncaught error with the source line, a caret under it, the error, its stack and its
# version: the line that says what went wrong is the first after the caret, not the last.
_CARET = re.compile(r"^\s*\^+\s*$")
_NODE_ERROR = re.compile(r"^(?:Uncaught\b|\w*(?:Error|Exception)\b)")
_NODE_TRAILER = re.compile(r"^(?:Node\.js v\d|\s+at |\(Use `node --trace)")


def error_line(text: str, runtime: str = "python") -> str:
    """The line of a failed run's stderr that says what went wrong, cut to 300 characters: a
    Python traceback's last line; Node's error line (after the caret, else the first that names
    an error, else the last that is neither a stack frame nor Node's version)."""
    if runtime != "node":
        return last_line(text)
    lines = text.splitlines()
    carets = [i for i, line in enumerate(lines) if _CARET.match(line)]
    after = lines[carets[-1] + 1 :] if carets else []
    found = next((line for line in after if line.strip()), None)
    found = found or next((line for line in lines if _NODE_ERROR.match(line)), None)
    if found is None:
        said = [line for line in lines if line.strip() and not _NODE_TRAILER.match(line)]
        found = said[-1] if said else ""
    return found.strip()[:300]


def _fd(source: Any) -> int:
    return source if isinstance(source, int) else source.fileno()


def _nonblocking(source: Any) -> None:
    if hasattr(source, "setblocking"):
        source.setblocking(False)
    else:
        os.set_blocking(_fd(source), False)


def _read(source: Any) -> bytes | None:
    """A chunk; b"" at the end (also when the source failed); None when nothing was there after all."""
    try:
        # A socket through its own recv: the Docker SDK's may be TLS, whose bytes only it can read.
        return source.recv(CHUNK) if hasattr(source, "recv") else os.read(_fd(source), CHUNK)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


def _write_some(sink: Any, data: memoryview) -> memoryview:
    try:
        n = os.write(_fd(sink), data[:CHUNK])
    except (BlockingIOError, InterruptedError):
        return data
    except OSError:  # the sandbox stopped reading (gone): the rest has nowhere to go
        return data[len(data) :]
    return data[n:]


def _close(sink: Any) -> None:
    try:
        if not getattr(sink, "closed", False):
            sink.close()
    except OSError:
        pass


def read_run(
    stdio: tuple[Any, Any, Any], data: bytes, ev_fd: int, marker: str, deadline: float, cap: int
) -> protocol.Captured:
    """Feed the program `data` on stdin (closed after it); collect stdout, stderr and the events
    pipe until EOF, the deadline or the output cap. `stdio`: the sandbox's
    stdin (a file), stdout and stderr (files or descriptors)."""
    stdin, stdout, stderr = stdio
    output = CappedOutput(cap)
    splitter = protocol.EventSplitter(marker)
    stopped = pump(
        {
            stdout: lambda chunk: output.add("stdout", chunk),
            stderr: lambda chunk: output.add("stderr", chunk),
            ev_fd: splitter.feed,
        },
        output,
        deadline,
        stdin=(stdin, data),
    )
    out, err = output.texts()
    return protocol.Captured(out, err, truncated=stopped == "output", stopped=stopped, events=splitter.events)


def shell_exit_code(code: int) -> int:
    """A signal death as a shell reports it (137 for SIGKILL), like Docker does."""
    return 128 - code if code < 0 else code
