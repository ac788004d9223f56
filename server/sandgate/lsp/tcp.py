"""Serving the language server over TCP: the same framing and checks as stdio, one client at a time.

pygls's own TCP path reads frames its own lenient way (a bad `Content-Length` left the connection
silent, a body that is not JSON got a `window/showMessage` "Error in server" instead of -32700)
and, with a second connection, points the server's output at the newcomer. Here a connection is
served by `stdio.serve_messages`, as stdin is, so every transport answers the same bytes the same
way (docs/protocol.md). One client drives the server: a second connection while one is served is
closed at once; when the client leaves (or sends `exit`) the server stops, as it does when stdin
ends, with LSP's exit code.

There is no authentication: whoever can connect drives the server (it runs code in sandboxes and
writes the audit log), so `sandgate serve` binds loopback unless told otherwise (see `cli/serve.py`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from sandgate.lsp.stdio import HEADER_LINE_LIMIT, PipeReader, after_shutdown, serve_messages

log = logging.getLogger(__name__)


class _SocketWriter:
    """pygls's writer over a connection: `write` queues bytes; `close` ends the connection."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> None:
        if not self._writer.is_closing():  # the client gone: what is left to say is dropped
            self._writer.write(data)

    def close(self) -> None:
        self._writer.close()


async def _serve(server: Any, host: str, port: int) -> int | None:
    """Listen, serve the first client; pygls's `exit` code once it sends `exit`, else None."""
    done = asyncio.Event()
    busy = False
    exit_code: int | None = None

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal busy, exit_code
        peer = writer.get_extra_info("peername")
        if busy:  # the server has one client: a second would take over its answers
            log.warning("refused a connection from %s: a client is already connected", peer)
            writer.close()
            return
        busy = True
        log.info("client connected from %s", peer)
        server.protocol.set_writer(_SocketWriter(writer))
        try:
            await serve_messages(server, PipeReader(reader))
        except SystemExit as exit_:  # pygls's `exit` handler: 0 after shutdown, else 1
            # Caught here: out of a connection's callback asyncio would log it as a traceback.
            exit_code = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            log.info("client %s disconnected", peer)
            writer.close()
            done.set()

    listener = await asyncio.start_server(connection, host, port, limit=HEADER_LINE_LIMIT)
    addresses = ", ".join(str(sock.getsockname()[:2]) for sock in listener.sockets)
    log.info("listening on %s", addresses)
    async with listener:
        await done.wait()
    return exit_code


def serve_tcp(server: Any, host: str, port: int) -> int:
    """Serve one client at `host:port` until it sends `exit` or leaves; the process's exit code.

    OSError when the address cannot be bound."""
    server._stop_event = threading.Event()  # what pygls's `shutdown`/`exit` handling sets
    code = None
    try:
        code = asyncio.run(_serve(server, host, port))
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return after_shutdown(server) if code is None else code
