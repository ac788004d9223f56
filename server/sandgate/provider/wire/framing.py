"""How a streamed reply is cut into events: server-sent events (`data:` lines) or one JSON object
a line (Ollama). A stream that ends inside a line was cut: a connection failure (retried), not a
malformed answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sandgate.provider.errors import ErrorKind, ProviderError

Handler = Callable[[dict[str, Any]], None]


class LineStream:
    """Feeds complete events to `handler`; `[DONE]` (server-sent events) calls `on_done`."""

    def __init__(self, sse: bool, handler: Handler, on_done: Callable[[], None]) -> None:
        self._sse = sse
        self._handler = handler
        self._on_done = on_done
        self._buffer = b""

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            self._line(line.rstrip(b"\r"))

    def close(self) -> None:
        """The body ended: a partial line left over means the stream was cut mid-event."""
        if self._buffer.strip():
            self._buffer = b""
            raise ProviderError(ErrorKind.CONNECTION, "the stream was cut in the middle of an event")

    def _line(self, line: bytes) -> None:
        if self._sse:
            if not line.startswith(b"data:"):
                return  # blank lines, comments, event:, id:, retry: carry nothing we need
            line = line[5:].strip()
            if line == b"[DONE]":
                self._on_done()
                return
        elif not line.strip():
            return
        try:
            data = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            raise ProviderError(ErrorKind.MALFORMED, "a streamed event is not valid JSON") from None
        if not isinstance(data, dict):
            raise ProviderError(ErrorKind.MALFORMED, "a streamed event is not a JSON object")
        self._handler(data)
