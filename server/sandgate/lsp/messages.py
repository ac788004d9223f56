"""The LSP base protocol on a byte stream: frames read strictly, and an answer for every request.

pygls 2.1.1 reads frames leniently and answers nothing it cannot structure: a bad `Content-Length`
left it reading no further message, a body that is not JSON, a request with wrong parameters or
without `params` went unanswered (the client waits forever), and it took requests before
`initialize`. Here every frame is checked before pygls sees it:

- a header that is not LSP is a framing error: the reader skips to the next `Content-Length:` line
  (the stream resynchronises) and goes on;
- a body that is not JSON → -32700; not a JSON-RPC 2.0 object (a batch, a wrong `id` or `method`
  type) → -32600;
- a request before `initialize` → -32002; a second `initialize` or a request after `shutdown` →
  -32600;
- parameters that do not fit the method → -32602 naming what is wrong; a missing `params` is
  JSON-RPC's "no parameters";
- `exit` sent right behind `shutdown`, before its answer (a client that pipelines them), waits for that
  answer: pygls would stop the process mid-shutdown, unanswered, with exit code 1.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, Protocol

import cattrs
from pygls.exceptions import JsonRpcInvalidParams

log = logging.getLogger(__name__)

PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS, INTERNAL_ERROR, NOT_INITIALIZED = -32700, -32600, -32602, -32603, -32002
MAX_BODY = 256 * 2**20  # a frame larger than this is not an editor's message
SHUTDOWN_WAIT_S = 10.0  # how long a pipelined `exit` waits for `shutdown` to be answered


class FramingError(Exception):
    """The stream does not follow the LSP base protocol's framing here."""


class LineReader(Protocol):
    def readline(self) -> Awaitable[bytes]: ...

    def readexactly(self, n: int) -> Awaitable[bytes]: ...


class FrameReader:
    """Message bodies off a stream of LSP frames (header lines, a blank line, the body)."""

    def __init__(self, reader: LineReader) -> None:
        self._reader = reader
        self._pending: bytes | None = None  # a header line found while resynchronising

    async def _line(self) -> bytes:
        if self._pending is not None:
            line, self._pending = self._pending, None
            return line
        return await self._reader.readline()

    async def read(self) -> bytes | None:
        """The next body; None at the end of the stream. FramingError when the header is not LSP."""
        length: int | None = None
        while True:
            line = await self._line()
            if not line:
                return None
            if line in (b"\r\n", b"\n"):
                if length is None:
                    raise FramingError("a header without Content-Length")
                break
            name, sep, value = line.partition(b":")
            if not sep:
                raise FramingError(f"not a header line: {line[:80]!r}")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise FramingError(f"Content-Length is not a number: {value.strip()[:40]!r}") from None
                if not 0 < length <= MAX_BODY:
                    raise FramingError(f"Content-Length {length} is out of range (1..{MAX_BODY})")
        body = await self._reader.readexactly(length)
        return body if len(body) == length else None

    async def resync(self) -> bool:
        """Skip to the next line that starts a header; False when the stream ends first."""
        while True:
            try:
                line = await self._reader.readline()
            except FramingError:  # a line over the reader's limit: skipped as well
                continue
            if not line:
                return False
            # A broken body has no line end: the next header may follow it on the same line.
            at = line.lower().find(b"content-length:")
            if at >= 0:
                self._pending = line[at:]
                return True


def _id_of(data: Any) -> Any:
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


def _params_problem(exc: BaseException) -> str:
    cause = exc.__cause__
    if isinstance(cause, cattrs.BaseValidationError):
        # The whole message was structured: paths start at its root (`.params.context`).
        return "; ".join(problem.replace("@ .", "@ ", 1) for problem in cattrs.transform_error(cause, path="")[:5])
    return str(cause or exc)


class QuietStructureErrors(logging.Filter):
    """pygls logs a full traceback for each message it cannot structure; the gate answers those with
    -32602 and logs one line itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Unable to deserialize message")


class Gate:
    """Checks each message before the protocol handles it, and answers what it refuses."""

    def __init__(self, protocol: Any, send_error: Callable[[Any, int, str], None]) -> None:
        self._protocol = protocol
        self._send_error = send_error
        self.initialize_seen = False
        self._shutdown_answer: Future[Any] | None = None  # pygls's future for the `shutdown` request
        self.deferred_exit: Any = None  # an `exit` waiting for that answer: see `exit_after_shutdown`

    @property
    def shut_down(self) -> bool:
        return bool(getattr(self._protocol, "_shutdown", False))

    def handle(self, body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError as exc:  # UnicodeDecodeError is one
            self._send_error(None, PARSE_ERROR, f"Parse error: the body is not JSON ({exc})")
            return
        if not isinstance(data, dict) or data.get("jsonrpc") != "2.0":
            self._send_error(_id_of(data), INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message object")
            return
        method = data.get("method")
        is_request = "id" in data and "method" in data
        if "method" not in data and not ("id" in data and ("result" in data or "error" in data)):
            # Neither a request, a notification nor a response (a response carries a result or an error).
            self._send_error(_id_of(data), INVALID_REQUEST, "Invalid Request: no `method`, and not a response")
            return
        if "method" in data and not isinstance(method, str):
            if is_request:
                self._send_error(_id_of(data), INVALID_REQUEST, "Invalid Request: `method` is not a string")
            else:
                log.warning("a notification whose method is not a string was ignored")
            return
        if is_request and _id_of(data) is None:
            self._send_error(None, INVALID_REQUEST, "Invalid Request: `id` is not a number or a string")
            return
        if is_request:
            refused = self._lifecycle(str(method))
            if refused is not None:
                self._send_error(data["id"], *refused)
                return
            data.setdefault("params", None)  # JSON-RPC: params may be omitted
        elif method is not None and not self.initialize_seen and method != "exit":
            log.warning("notification %s before initialize was ignored", method)
            return
        try:
            message = self._protocol.structure_message(data)
        except JsonRpcInvalidParams as exc:
            problem = _params_problem(exc)
            if is_request:
                self._send_error(data["id"], INVALID_PARAMS, f"Invalid params for {method}: {problem}")
            else:
                log.warning("notification %s ignored: invalid params: %s", method, problem)
            return
        except Exception as exc:
            if is_request:
                self._send_error(data["id"], INTERNAL_ERROR, f"Internal error reading {method}: {exc}")
            log.exception("a message could not be read")
            return
        if method == "initialize":
            self.initialize_seen = True
        if method == "exit" and self._shutdown_answer is not None and not self._shutdown_answer.done():
            self.deferred_exit = message
            return
        self._protocol.handle_message(message)
        if is_request and method == "shutdown":
            self._shutdown_answer = self._protocol._request_futures.get(data["id"])

    async def exit_after_shutdown(self) -> None:
        """Handle the deferred `exit` once `shutdown` is answered (or has taken too long)."""
        message, self.deferred_exit = self.deferred_exit, None
        if self._shutdown_answer is not None:
            # pygls's futures are concurrent ones, answered by their done-callbacks in order: when
            # this wrapper (a later callback) is done, the answer has been written.
            _, pending = await asyncio.wait({asyncio.wrap_future(self._shutdown_answer)}, timeout=SHUTDOWN_WAIT_S)
            if pending:
                log.warning("shutdown took over %.0f s; exiting without its answer", SHUTDOWN_WAIT_S)
        self._protocol.handle_message(message)

    def _lifecycle(self, method: str) -> tuple[int, str] | None:
        if method == "initialize" and self.initialize_seen:
            return INVALID_REQUEST, "Invalid Request: initialize was already received"
        if method != "initialize" and not self.initialize_seen:
            return NOT_INITIALIZED, f"Server not initialized: {method} before initialize"
        if self.shut_down:
            return INVALID_REQUEST, f"Invalid Request: {method} after shutdown"
        return None
