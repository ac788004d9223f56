"""Every message gets an answer: the real `sandgate serve` over stdio, driven byte by byte.

A raw client (not pytest-lsp, which only sends well-formed messages) writes broken frames, bodies
that are not JSON, requests with wrong parameters, requests out of the lifecycle's order, and
asserts the JSON-RPC error each deserves, that the server resynchronises after a broken frame,
that a normal request is answered afterwards, and the exit codes LSP gives.
"""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from lsp_helpers import SERVER_COMMAND, SERVER_ENV

TIMEOUT_S = 20.0
PROBE = {"jsonrpc": "2.0", "method": "sandgate/pendingSuggestions"}  # answered by any initialized server


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawClient:
    def __init__(self, workspace: Path) -> None:
        env = {**SERVER_ENV, "SANDGATE_LOG_LEVEL": "WARNING"}
        self.proc = subprocess.Popen(
            SERVER_COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=workspace,
        )
        self.workspace = workspace
        self._buffer = b""
        self._ids = iter(range(1000, 10**6))

    def send(self, raw: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(raw)
        self.proc.stdin.flush()

    def message(self, payload: dict[str, Any]) -> None:
        self.send(frame(json.dumps(payload).encode()))

    def _read_frame(self, deadline: float) -> dict[str, Any]:
        stdout = self.proc.stdout
        assert stdout is not None
        while True:
            head, sep, rest = self._buffer.partition(b"\r\n\r\n")
            if sep:
                length = int(
                    next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(
                        b":"
                    )[1]
                )
                if len(rest) >= length:
                    self._buffer = rest[length:]
                    return json.loads(rest[:length])
            left = deadline - time.monotonic()
            assert left > 0, "no answer in time"
            ready, _, _ = select.select([stdout], [], [], left)
            if ready:
                chunk = os.read(stdout.fileno(), 65536)
                assert chunk, "the server closed its output"
                self._buffer += chunk

    def answer(self, msg_id: Any) -> dict[str, Any]:
        """The response to `msg_id`, skipping notifications and requests from the server."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            msg = self._read_frame(deadline)
            if "method" in msg:
                if "id" in msg:  # a request to the client (registration, configuration): answer it
                    self.message(
                        {
                            "jsonrpc": "2.0",
                            "id": msg["id"],
                            "result": None if msg["method"] != "workspace/configuration" else [{}],
                        }
                    )
                continue
            if msg.get("id") == msg_id:
                return msg

    def request(self, method: str, params: Any = None, *, omit_params: bool = False) -> dict[str, Any]:
        msg_id = next(self._ids)
        payload: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if not omit_params:
            payload["params"] = params
        self.message(payload)
        return self.answer(msg_id)

    def initialize(self) -> None:
        reply = self.request("initialize", {"processId": None, "rootUri": self.workspace.as_uri(), "capabilities": {}})
        assert "result" in reply, reply
        self.message({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def alive(self) -> None:
        """A normal request is answered."""
        reply = self.request("sandgate/pendingSuggestions", {})
        assert reply.get("result", {}).get("items") == [], reply

    def close(self) -> int:
        if self.proc.poll() is None:
            try:
                self.request("shutdown", omit_params=True)
                self.message({"jsonrpc": "2.0", "method": "exit"})
            except (AssertionError, BrokenPipeError):
                pass
        try:
            return self.proc.wait(timeout=TIMEOUT_S)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def raw(tmp_path):
    client = RawClient(tmp_path)
    yield client
    client.close()


def error_code(reply: dict[str, Any]) -> int:
    assert "error" in reply, reply
    return reply["error"]["code"]


def test_requests_before_initialize_and_after_shutdown(raw: RawClient):
    reply = raw.request(
        "textDocument/inlineCompletion",
        {
            "textDocument": {"uri": "file:///a.py"},
            "position": {"line": 0, "character": 0},
            "context": {"triggerKind": 1},
        },
    )
    assert error_code(reply) == -32002 and "before initialize" in reply["error"]["message"]
    raw.initialize()
    again = raw.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    assert error_code(again) == -32600 and "already" in again["error"]["message"]
    raw.alive()
    assert "result" in raw.request("shutdown", omit_params=True)
    late = raw.request("sandgate/pendingSuggestions", {})
    assert error_code(late) == -32600 and "after shutdown" in late["error"]["message"]
    raw.message({"jsonrpc": "2.0", "method": "exit"})
    assert raw.proc.wait(timeout=TIMEOUT_S) == 0


def test_exit_without_shutdown_is_a_failure(raw: RawClient):
    raw.initialize()
    raw.message({"jsonrpc": "2.0", "method": "exit"})
    assert raw.proc.wait(timeout=TIMEOUT_S) == 1


def test_the_whole_lifecycle_sent_at_once_is_answered_and_exits_0(tmp_path):
    """initialize, initialized, shutdown and exit in one write, without waiting for an answer: the
    exit waits for shutdown's answer (it used to end the server mid-shutdown: code 1, a traceback)."""
    lifecycle = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": None, "capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    done = subprocess.run(
        SERVER_COMMAND,
        input=b"".join(frame(json.dumps(m).encode()) for m in lifecycle),
        capture_output=True,
        env={**SERVER_ENV, "SANDGATE_LOG_LEVEL": "WARNING"},
        cwd=tmp_path,
        timeout=TIMEOUT_S * 3,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    answers = {}
    rest = done.stdout
    while rest:
        head, _, rest = rest.partition(b"\r\n\r\n")
        length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1])
        message, rest = json.loads(rest[:length]), rest[length:]
        if "method" not in message:
            answers[message["id"]] = message
    assert "capabilities" in answers[1]["result"] and answers[2] == {"id": 2, "jsonrpc": "2.0", "result": None}
    assert b"Traceback" not in done.stderr


def test_the_end_of_input_without_shutdown_is_a_failure(raw: RawClient):
    raw.initialize()
    assert raw.proc.stdin is not None
    raw.proc.stdin.close()
    assert raw.proc.wait(timeout=TIMEOUT_S) == 1


def test_bad_bodies_and_params_get_their_errors(raw: RawClient):
    raw.initialize()
    raw.send(frame(b"{broken!}"))
    assert error_code(raw.answer(None)) == -32700
    raw.send(frame(b"\xff\xfe not utf-8"))
    assert error_code(raw.answer(None)) == -32700
    raw.send(frame(b"[]"))
    assert error_code(raw.answer(None)) == -32600
    raw.message({"jsonrpc": "2.0", "id": 77, "method": 12345})
    assert error_code(raw.answer(77)) == -32600
    raw.message({"jsonrpc": "1.0", "id": 78, "method": "shutdown"})
    assert error_code(raw.answer(78)) == -32600
    for params in (
        None,
        {
            "textDocument": {"uri": "file:///a.py"},
            "position": {"line": -1, "character": 0},
            "context": {"triggerKind": 1},
        },
        {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 0, "character": 0}},
        {"textDocument": {"uri": 5}, "position": {"line": "x"}, "context": {"triggerKind": 1}},
    ):
        reply = raw.request("textDocument/inlineCompletion", params)
        assert error_code(reply) == -32602, reply
        assert "Invalid params for textDocument/inlineCompletion" in reply["error"]["message"]
    missing = raw.request(
        "textDocument/inlineCompletion",
        {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 0, "character": 0}},
    )
    assert missing["error"]["message"].endswith("required field missing @ params.context")
    assert error_code(raw.request("textDocument/codeAction", None)) == -32602
    # As docs/protocol.md says to send it: without params.
    assert raw.request("sandgate/pendingSuggestions", omit_params=True)["result"]["items"] == []
    assert error_code(raw.request("no/such/method", {})) == -32601
    raw.alive()
    assert raw.close() == 0


def test_broken_frames_resynchronise(raw: RawClient):
    raw.initialize()
    good = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "sandgate/pendingSuggestions", "params": {}}).encode()
    for broken in (
        b"Content-Length: banana\r\n\r\n{}",
        b"Content-Length: -4\r\n\r\n",
        b"Nonsense without a colon\r\n\r\n",
        b"\r\n\r\n",
        b"X-Header: " + b"a" * (2 * 2**20) + b"\r\n\r\n",
    ):
        raw.send(broken + frame(good))
        assert raw.answer(5)["result"]["items"] == [], broken[:40]
    raw.alive()
    assert raw.close() == 0


def test_fuzzed_frames_always_leave_a_working_server(raw: RawClient):
    """Bounded fuzzing: random bytes, truncated and mangled JSON, wrong types in every position of
    a real request. After each, a probe must be answered; requests with an id must be answered."""
    raw.initialize()
    rng = random.Random(16)
    base = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "textDocument/inlineCompletion",
        "params": {
            "textDocument": {"uri": "file:///a.py"},
            "position": {"line": 0, "character": 0},
            "context": {"triggerKind": 1},
        },
    }
    junk: list[Any] = [None, -1, 2**40, "", "x" * 300, [], {}, True, 1.5, {"a": [1, {"b": None}]}]

    def mangle(value: Any, depth: int = 0) -> Any:
        if isinstance(value, dict) and value and depth < 4:
            key = rng.choice(list(value))
            out = dict(value)
            if rng.random() < 0.2:
                del out[key]
            else:
                out[key] = mangle(out[key], depth + 1)
            return out
        return rng.choice(junk)

    for n in range(60):
        kind = n % 4
        msg_id = 10_000 + n
        if kind == 0:
            raw.send(frame(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))))
            expect = None
        elif kind == 1:
            body = json.dumps({**base, "id": msg_id}).encode()
            raw.send(frame(body[: rng.randrange(1, len(body))]))
            expect = None
        else:
            payload = mangle({**base, "id": msg_id})
            payload["id"], payload["jsonrpc"] = msg_id, "2.0"
            raw.message(payload)
            expect = msg_id
        if expect is not None:
            reply = raw.answer(expect)
            assert "error" in reply or "result" in reply
        probe_id = 20_000 + n
        raw.message({**PROBE, "id": probe_id, "params": {}})
        assert "result" in raw.answer(probe_id), f"round {n}"
    assert raw.close() == 0


def test_only_the_protocol_reaches_stdout_fd_1_is_stderr(raw: RawClient):
    """Nothing but JSON-RPC may reach the real stdout: the server keeps a private, non-inherited
    copy of it for the protocol and points fd 1 at stderr, so whatever writes to fd 1 (a C
    extension, a child process such as a sandbox or a helper) cannot corrupt the stream."""
    raw.initialize()
    pid = raw.proc.pid
    fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    protocol = os.readlink(f"/proc/self/fd/{raw.proc.stdout.fileno()}")  # the pipe this client reads
    assert fds[1] == fds[2] != protocol
    carriers = [fd for fd, target in fds.items() if target == protocol]
    assert carriers and 1 not in carriers
    for fd in carriers:  # the private copy is not inherited by children
        flags = Path(f"/proc/{pid}/fdinfo/{fd}").read_text().split("flags:")[1].split()[0]
        assert int(flags, 8) & os.O_CLOEXEC, fd
    raw.alive()
