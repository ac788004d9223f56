"""A fake model server on loopback, driven by a script: OpenAI chat completions, and the
fill-in-the-middle formats inline engines use.

Command line (the extension's tests use it too):

    python tests/support/openai_server.py --port N --script SCRIPT.json [--host 127.0.0.1] [--api-key KEY]

It prints one line, `listening on http://HOST:PORT/v1`, then serves until killed (SIGINT/SIGTERM).
`--port 0` picks a free port (read it from that line). The base URL to configure is the
printed one (`sandgate.model.baseUrl` / OPENAI_BASE_URL); any model name is accepted.

The script is a JSON object that maps prompt substrings to answers. The prompt is every
message's content joined with newlines; the first key (in file order) found in it wins, and
the key "*" matches anything (put it last). A value is:

- a string: the one completion;
- a list of strings: the candidates; choice i is item i, at most `n` of them;
- an object with any of
  - "completions": [..] or "completion": "..";
  - "fail": "timeout" | "429" | "500" | "malformed" | "oversized" | "disconnect";
  - "times": k — fail only the first k requests that match this key, then answer normally
    (default: always fail);
  - "retry_after": seconds, sent as Retry-After with a 429;
  - "delay": seconds to wait before answering ("timeout" waits 60 s unless "delay" says);
  - "oversized_bytes": size of the "oversized" body (default 4 MiB).

Routes (the format is the path's ending): `/chat/completions` (chat), `/completions` (OpenAI text
completions: `prompt` + `suffix`, answers in `choices[].text`), `/fim/completions` (Mistral FIM,
answers like chat), `/infill` (llama.cpp: `input_prefix` + `input_suffix`, answers `{"content",
"stop"}`, streamed as events without `[DONE]`), `/api/generate` (Ollama: `prompt` + `suffix`, answers
`{"response", "done"}`, streamed as one JSON object a line). For the fill-in-the-middle formats the
text the script's keys are looked for in is the prefix, a newline, then the suffix.

More failures, for every route: "redirect" (a 307 to elsewhere), "endless-500" (a 500 whose body
never ends), "key-400" (a 400 saying the key is wrong, as LiteLLM does), "cut" (a stream cut inside
an event), "period" (a 400 whose message ends with a full stop).

With `"stream": true` in the request the answer is server-sent events (`chat.completion.chunk`
objects, then `data: [DONE]`); else one `chat.completion` object. "disconnect" sends part of
the answer, then closes the connection. No key matching: one empty completion.

Control endpoints, for tests: `GET /_fake/requests` (the JSON bodies received, in order),
`PUT /_fake/script` (replace the script), `POST /_fake/reset` (forget requests and counters).
`GET /v1/models` lists one model, `fake-model`.

From Python: `with OpenAIServer(script) as server: server.base_url, server.requests`.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FAILURES = (
    "timeout",
    "429",
    "500",
    "malformed",
    "oversized",
    "disconnect",
    "redirect",
    "endless-500",
    "key-400",
    "cut",
    "period",
)
# Path ending → wire format (most specific first).
ROUTES = (
    ("/chat/completions", "chat"),
    ("/fim/completions", "mistral-fim"),
    ("/completions", "completions"),
    ("/infill", "llamacpp-infill"),
    ("/api/generate", "ollama"),
)


def _answer_for(script: dict[str, Any], prompt: str) -> tuple[str | None, dict[str, Any]]:
    for key, value in script.items():
        if key == "*" or key in prompt:
            if isinstance(value, str):
                return key, {"completions": [value]}
            if isinstance(value, list):
                return key, {"completions": [str(v) for v in value]}
            if isinstance(value, dict):
                spec = dict(value)
                if "completion" in spec and "completions" not in spec:
                    spec["completions"] = [spec["completion"]]
                spec.setdefault("completions", [""])
                return key, spec
    return None, {"completions": [""]}


def _prompt_of(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if isinstance(messages, list):
        return "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
    if "input_prefix" in body:
        return f"{body.get('input_prefix', '')}\n{body.get('input_suffix', '')}"
    return f"{body.get('prompt', '')}\n{body.get('suffix', '')}"


def _route(path: str) -> str | None:
    for tail, fmt in ROUTES:
        if path.endswith(tail):
            return fmt
    return None


class _State:
    def __init__(self, script: dict[str, Any], api_key: str | None) -> None:
        self.lock = threading.Lock()
        self.script = script
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []  # the path of each request, in order
        self.counts: dict[str, int] = {}
        self.connections = 0  # TCP connections accepted (a client that reuses one opens one)
        self.stopping = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server_version = "fake-openai/1"
    protocol_version = "HTTP/1.1"
    state: _State

    def setup(self) -> None:
        super().setup()
        with self.state.lock:
            self.state.connections += 1

    def log_message(self, format: str, *args: Any) -> None:  # quiet: stderr only when asked
        if getattr(self.server, "verbose", False):
            sys.stderr.write("fake-openai: " + (format % args) + "\n")

    # -- plumbing ----------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, body: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers=headers)

    def _wait(self, seconds: float) -> None:
        self.state.stopping.wait(seconds)

    # -- routes ------------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/_fake/requests":
            with self.state.lock:
                self._json(200, list(self.state.requests))
        elif self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_PUT(self) -> None:
        if self.path.rstrip("/") == "/_fake/script":
            script = json.loads(self._read_body() or b"{}")
            with self.state.lock:
                self.state.script = script
                self.state.counts.clear()
            self._json(200, {"ok": True})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        path = self.path.rstrip("/")
        if path == "/_fake/reset":
            self._read_body()
            with self.state.lock:
                self.state.requests.clear()
                self.state.paths.clear()
                self.state.counts.clear()
            self._json(200, {"ok": True})
            return
        fmt = _route(path)
        if fmt is None:
            self._read_body()
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        raw = self._read_body()
        if self.state.api_key and self.headers.get("Authorization") != f"Bearer {self.state.api_key}":
            self._json(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
            return
        try:
            body = json.loads(raw)
            assert isinstance(body, dict)
        except (ValueError, AssertionError):
            self._json(400, {"error": {"message": "request body is not a JSON object"}})
            return
        prompt = _prompt_of(body)
        with self.state.lock:
            self.state.requests.append(body)
            self.state.paths.append(path)
            key, spec = _answer_for(self.state.script, prompt)
            count = self.state.counts.get(key or "", 0) + 1
            self.state.counts[key or ""] = count
        fail = spec.get("fail")
        times = spec.get("times")
        if fail and times is not None and count > int(times):
            fail = None
        if spec.get("delay"):
            self._wait(float(spec["delay"]))
        n = max(1, int(body.get("n") or 1)) if fmt in ("chat", "completions") else 1
        completions = [str(c) for c in spec["completions"]][:n]
        stream = bool(body.get("stream"))
        model = str(body.get("model") or "fake-model")
        if fail:
            self._fail(str(fail), spec, stream, completions, model, fmt)
        elif stream:
            self._stream(completions, model, fmt)
        else:
            self._json(200, _whole(fmt, completions, model))

    # -- answers -------------------------------------------------------------------------
    def _fail(
        self, fail: str, spec: dict[str, Any], stream: bool, completions: list[str], model: str, fmt: str = "chat"
    ) -> None:
        if fail == "timeout":
            self._wait(float(spec.get("delay") or 60))
            self.close_connection = True
            return
        if fail == "429":
            headers = {}
            if spec.get("retry_after") is not None:
                headers["Retry-After"] = str(spec["retry_after"])
            self._json(429, {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}, headers)
            return
        if fail == "500":
            self._json(500, {"error": {"message": "The server had an error", "type": "server_error"}})
            return
        if fail == "malformed":
            if stream:
                self._stream_head()
                self._chunk(b'data: {"choices": [{"index": 0, "delta": {"content": "x"\n\n')
                self._chunk(b"data: [DONE]\n\n")
                self._chunk(b"")
            else:
                self._send(200, b'{"id": "x", "choices": [{"message": {"content": "unterminated')
            return
        if fail == "oversized":
            size = int(spec.get("oversized_bytes") or 4 * 1024 * 1024)
            text = "x" * size
            if stream:
                self._stream([text], model, fmt)
            else:
                self._json(200, _whole(fmt, [text], model))
            return
        if fail == "redirect":
            self._send(307, b"", headers={"Location": "http://elsewhere.invalid/v1" + self.path})
            return
        if fail == "endless-500":
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            block = b"x" * 65536
            try:
                while not self.state.stopping.is_set():  # until the client hangs up
                    self._chunk(block)
            except OSError:
                pass
            self.close_connection = True
            return
        if fail == "key-400":
            message = "litellm.AuthenticationError: Incorrect API key provided: sk-wrong"
            self._json(400, {"error": {"message": message, "type": "auth_error", "code": "400"}})
            return
        if fail == "period":
            self._json(400, {"error": {"message": "The model `x` does not exist or you do not have access to it."}})
            return
        if fail == "cut":
            self._stream_head()
            piece = json.dumps(_chunk_obj(0, "x = ", model, None))
            self._chunk(f"data: {piece}\n\n".encode())
            self._chunk(f"data: {piece}"[:20].encode())
            self._chunk(b"")
            self.close_connection = True
            return
        if fail == "disconnect":
            if stream:
                self._stream_head()
                piece = json.dumps(_chunk_obj(0, (completions or ["partial"])[0][:5], model, None))
                self._chunk(f"data: {piece}\n\n".encode())
                self.wfile.flush()
            else:
                body = json.dumps(_completion(completions, model)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._json(500, {"error": {"message": f"unknown failure {fail!r} in the script"}})

    def _stream_head(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _stream(self, completions: list[str], model: str, fmt: str = "chat") -> None:
        if fmt == "llamacpp-infill":
            self._stream_llamacpp(completions[0] if completions else "", model)
            return
        if fmt == "ollama":
            self._stream_ollama(completions[0] if completions else "", model)
            return
        if fmt == "completions":
            self._stream_completions(completions, model)
            return
        self._stream_head()
        for index in range(len(completions)):
            self._chunk(b"data: " + json.dumps(_chunk_obj(index, "", model, None, role=True)).encode() + b"\n\n")
        for index, text in enumerate(completions):
            step = max(4, len(text) // 8)
            for start in range(0, len(text), step):
                piece = _chunk_obj(index, text[start : start + step], model, None)
                self._chunk(b"data: " + json.dumps(piece).encode() + b"\n\n")
        for index in range(len(completions)):
            self._chunk(b"data: " + json.dumps(_chunk_obj(index, None, model, "stop")).encode() + b"\n\n")
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _pieces(self, text: str) -> list[str]:
        step = max(4, len(text) // 8)
        return [text[start : start + step] for start in range(0, len(text), step)]

    def _stream_completions(self, completions: list[str], model: str) -> None:
        self._stream_head()
        for index, text in enumerate(completions):
            for piece in self._pieces(text):
                event = {
                    "id": "cmpl-fake",
                    "object": "text_completion",
                    "model": model,
                    "choices": [{"index": index, "text": piece, "finish_reason": None}],
                }
                self._chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
        for index in range(len(completions)):
            event = {
                "id": "cmpl-fake",
                "object": "text_completion",
                "model": model,
                "choices": [{"index": index, "text": "", "finish_reason": "stop"}],
            }
            self._chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _stream_llamacpp(self, text: str, model: str) -> None:
        self._stream_head()
        for piece in self._pieces(text):
            self._chunk(b"data: " + json.dumps({"content": piece, "stop": False}).encode() + b"\n\n")
        last = {
            "content": "",
            "stop": True,
            "model": model,
            "stop_type": "eos",
            "tokens_evaluated": 7,
            "tokens_predicted": 3,
        }
        self._chunk(b"data: " + json.dumps(last).encode() + b"\n\n")
        self._chunk(b"")

    def _stream_ollama(self, text: str, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in self._pieces(text):
            self._chunk(json.dumps({"model": model, "response": piece, "done": False}).encode() + b"\n")
        last = {
            "model": model,
            "response": "",
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 7,
            "eval_count": 3,
        }
        self._chunk(json.dumps(last).encode() + b"\n")
        self._chunk(b"")


def _whole(fmt: str, completions: list[str], model: str) -> dict[str, Any]:
    """A reply that is not streamed, in `fmt`."""
    text = completions[0] if completions else ""
    if fmt == "completions":
        return {
            "id": "cmpl-fake",
            "object": "text_completion",
            "model": model,
            "choices": [{"index": i, "text": t, "finish_reason": "stop"} for i, t in enumerate(completions)],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    if fmt == "llamacpp-infill":
        return {
            "content": text,
            "stop": True,
            "model": model,
            "stop_type": "eos",
            "tokens_evaluated": 7,
            "tokens_predicted": 3,
        }
    if fmt == "ollama":
        return {
            "model": model,
            "response": text,
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 7,
            "eval_count": 3,
        }
    return _completion(completions, model)


def _completion(completions: list[str], model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            for i, text in enumerate(completions)
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk_obj(index: int, content: str | None, model: str, finish: str | None, role: bool = False) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if role:
        delta["role"] = "assistant"
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (time-out, size cap, cancellation) is part of the game.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class OpenAIServer:
    """The fake server in a background thread; a context manager."""

    def __init__(
        self,
        script: dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.state = _State(script or {}, api_key)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = _HTTPServer((host, port), handler)
        self.httpd.verbose = verbose  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.httpd.server_address[0]}:{self.port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.requests)

    @property
    def paths(self) -> list[str]:
        with self.state.lock:
            return list(self.state.paths)

    @property
    def connections(self) -> int:
        with self.state.lock:
            return self.state.connections

    def set_script(self, script: dict[str, Any]) -> None:
        with self.state.lock:
            self.state.script = script
            self.state.counts.clear()
            self.state.requests.clear()
            self.state.paths.clear()
            self.state.connections = 0

    def start(self) -> OpenAIServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="A fake OpenAI-compatible chat-completions server, driven by a script."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    parser.add_argument("--script", type=Path, help="JSON object: prompt substring -> completion(s) or failure")
    parser.add_argument("--api-key", default=None, help="require `Authorization: Bearer KEY`")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)
    script = json.loads(args.script.read_text()) if args.script else {}
    if not isinstance(script, dict):
        parser.error("the script must be a JSON object")
    server = OpenAIServer(script, args.host, args.port, args.api_key, args.verbose)
    print(f"listening on {server.base_url}", flush=True)

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.httpd.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
