"""Serving the language server over stdio with the event loop reading the pipe.

pygls 2.1.1 reads stdin in a thread pool, a hop through another thread for every header line
and body. While vets keep the worker threads (and the GIL) busy, every message waits for those
hops, so a code action queued behind eight vets took ~80 ms at p95 instead of ~15 ms. Here the
event loop reads the pipe itself (epoll): a message is parsed as soon as it arrives. pygls's own
message loop (`pygls.io_.run_async`) then handles it as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from typing import BinaryIO

from pygls.io_ import StdoutWriter, run_async

log = logging.getLogger(__name__)


class PipeReader:
    """pygls's reader interface (`readline`, `readexactly`) over an asyncio stream."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream

    @classmethod
    async def open(cls, pipe: BinaryIO) -> "PipeReader":
        loop = asyncio.get_running_loop()
        stream = asyncio.StreamReader(limit=2**20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), pipe)
        return cls(stream)

    async def readline(self) -> bytes:
        try:
            return await self._stream.readline()
        except ValueError:  # a header line over the limit: not LSP; end as at EOF
            return b""

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._stream.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""  # EOF mid-message: the client is gone


def pollable(pipe: BinaryIO) -> bool:
    """Pipes, sockets and terminals can be read by the event loop; a regular file cannot."""
    try:
        mode = os.fstat(pipe.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


def serve_stdio(server, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """What `LanguageServer.start_io` does, with the pipe read by the event loop."""
    if not pollable(stdin):
        server.start_io(stdin, stdout)
        return
    server._stop_event = threading.Event()  # what pygls's `shutdown`/`exit` handling sets
    server.protocol.set_writer(StdoutWriter(stdout))

    async def main() -> None:
        reader = await PipeReader.open(stdin)
        await run_async(stop_event=server._stop_event, reader=reader, protocol=server.protocol,
                        logger=log, error_handler=server.report_server_error)

    try:
        asyncio.run(main())
    except BrokenPipeError:
        log.error("the connection to the client is lost; shutting down")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
