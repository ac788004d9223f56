"""Serving the language server over stdio with the event loop reading the pipe.

pygls 2.1.1 reads stdin in a thread pool, a hop through another thread for every header line
and body. While vets keep the worker threads (and the GIL) busy, every message waits for those
hops, so a code action queued behind eight vets took ~80 ms at p95 instead of ~15 ms. Here the
event loop reads the pipe itself (epoll): a message is parsed as soon as it arrives. The frames
are read and checked by `messages` (every request gets an answer), then handled by pygls.

The exit code is LSP's: 0 after `shutdown` then `exit`, 1 when the server stops without
`shutdown` (an `exit` alone, the client gone), so an editor knows to restart it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from typing import Any, BinaryIO

from pygls.io_ import StdinAsyncReader, StdoutWriter

from sandgate.lsp.messages import FrameReader, FramingError, Gate, LineReader, QuietStructureErrors

log = logging.getLogger(__name__)

HEADER_LINE_LIMIT = 2**20


class PipeReader:
    """`readline` and `readexactly` over an asyncio stream (a pipe, or a TCP connection: `tcp.py`); a
    line over the limit is a framing error; a connection the client reset is the end of the stream."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream

    @classmethod
    async def open(cls, pipe: BinaryIO) -> PipeReader:
        loop = asyncio.get_running_loop()
        stream = asyncio.StreamReader(limit=HEADER_LINE_LIMIT)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), pipe)
        return cls(stream)

    async def readline(self) -> bytes:
        try:
            return await self._stream.readline()
        except ValueError:  # over the limit; the stream has dropped what it buffered of the line
            raise FramingError(f"a header line over {HEADER_LINE_LIMIT} bytes") from None
        except ConnectionError as exc:  # a client that left abruptly: said in a line, not a traceback
            log.info("the client's connection ended: %s", exc)
            return b""

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._stream.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""  # EOF mid-message: the client is gone
        except ConnectionError as exc:
            log.info("the client's connection ended: %s", exc)
            return b""


def pollable(pipe: BinaryIO) -> bool:
    """Pipes, sockets and terminals can be read by the event loop; a regular file cannot."""
    try:
        mode = os.fstat(pipe.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


def error_sender(protocol: Any):
    def send_error(msg_id: Any, code: int, message: str) -> None:
        log.warning("answered %s with error %d: %s", msg_id, code, message)
        protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})

    return send_error


async def serve_messages(server: Any, reader: LineReader) -> None:
    """Read, check and hand over messages until `exit` or the end of the stream."""
    logging.getLogger("pygls.protocol.json_rpc").addFilter(QuietStructureErrors())
    frames = FrameReader(reader)
    gate = Gate(server.protocol, error_sender(server.protocol))
    while not server._stop_event.is_set():
        try:
            body = await frames.read()
        except FramingError as problem:
            log.error("not an LSP frame (%s); skipping to the next header", problem)
            if not await frames.resync():
                break
            continue
        if body is None:
            break
        try:
            gate.handle(body)
            if gate.deferred_exit is not None:  # `exit` right behind `shutdown`: answer that first
                await gate.exit_after_shutdown()
        except Exception:  # a bug here must not end the server: the message is lost, said in the log
            log.exception("a message could not be handled")


def serve_stdio(server: Any, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Serve until `exit` or the end of stdin; the process's exit code."""
    server._stop_event = threading.Event()  # what pygls's `shutdown`/`exit` handling sets
    server.protocol.set_writer(StdoutWriter(stdout))
    code = None

    async def main() -> None:
        reader: LineReader = await PipeReader.open(stdin) if pollable(stdin) else StdinAsyncReader(stdin)
        await serve_messages(server, reader)

    try:
        asyncio.run(main())
    except BrokenPipeError:
        log.error("the connection to the client is lost; shutting down")
    except SystemExit as exit_:  # pygls's `exit` handler: 0 after shutdown, else 1
        code = exit_.code if isinstance(exit_.code, int) else 1
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return after_shutdown(server) if code is None else code


def after_shutdown(server: Any) -> int:
    """The exit code when the session ended without pygls's `exit`: 0 after `shutdown`, else 1."""
    return 0 if getattr(server.protocol, "_shutdown", False) else 1
