"""`sandgate serve --tcp`: the same framing and answers as stdio, loopback unless told otherwise, one
client, and a client that leaves abruptly is a line in the log. Real sockets, the real server."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from lsp_helpers import SERVER_COMMAND, SERVER_ENV

TIMEOUT_S = 20.0
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": None, "capabilities": {}}}


def frame(body: bytes | dict | list) -> bytes:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return b"Content-Length: %d\r\n\r\n" % len(raw) + raw


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TcpServer:
    """`sandgate serve --tcp HOST:PORT` in a subprocess, its log in a file."""

    def __init__(self, tmp_path: Path, *extra: str, host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.log = tmp_path / "server.log"
        self.proc = subprocess.Popen(
            [*SERVER_COMMAND, "--tcp", f"{host}:{self.port}", "--log-file", str(self.log), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=SERVER_ENV,
            cwd=tmp_path,
        )

    def wait_listening(self) -> None:
        # The log says so; connecting to find out would make the probe the one client.
        deadline = time.monotonic() + TIMEOUT_S
        while not (self.log.exists() and "listening on" in self.log.read_text()):
            assert self.proc.poll() is None, self.proc.communicate()
            assert time.monotonic() < deadline, "the server did not listen in time"
            time.sleep(0.05)

    def connect(self) -> Client:
        self.wait_listening()
        return Client(socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT_S))

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=TIMEOUT_S)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def log_text(self) -> str:
        return self.log.read_text()


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    def send(self, raw: bytes) -> None:
        self.sock.sendall(raw)

    def read(self) -> dict[str, Any]:
        while True:
            head, sep, rest = self._buffer.partition(b"\r\n\r\n")
            if sep:
                length = int(
                    next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
                )
                if len(rest) >= length:
                    self._buffer = rest[length:]
                    return json.loads(rest[:length])
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection"
            self._buffer += chunk

    def answer(self, msg_id: Any) -> dict[str, Any]:
        """The response to `msg_id`, after every error answered without an id before it (returned too)."""
        while True:
            msg = self.read()
            if "method" not in msg and msg.get("id") == msg_id:
                return msg

    def responses(self, count: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while len(out) < count:
            msg = self.read()
            if "method" not in msg:  # a response, not a notification or a request of the server's
                out.append(msg)
            else:
                assert msg["method"] != "window/showMessage" or "Error in server" not in str(msg), msg
        return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server(tmp_path):
    started = TcpServer(tmp_path)
    yield started
    if started.proc.poll() is None:
        started.proc.terminate()
        started.wait()


def test_a_bad_content_length_is_skipped_and_the_next_message_answered(server):
    client = server.connect()
    client.send(b"Content-Length: abc\r\n\r\n{}")
    client.send(frame(INITIALIZE))
    (reply,) = client.responses(1)
    assert reply["id"] == 1 and "capabilities" in reply["result"]
    assert "Content-Length is not a number" in server.log_text()


@pytest.mark.parametrize(
    ("first", "code"),
    [
        (b"{not json", -32700),
        ([{"jsonrpc": "2.0", "id": 7, "method": "initialize"}], -32600),  # a batch
    ],
    ids=["not-json", "batch"],
)
def test_a_broken_body_gets_its_json_rpc_error_as_on_stdio(server, first, code):
    client = server.connect()
    client.send(frame(first))
    client.send(frame(INITIALIZE))
    error, reply = client.responses(2)
    assert error["id"] is None and error["error"]["code"] == code
    assert reply["id"] == 1 and "capabilities" in reply["result"]


def test_shutdown_then_exit_ends_the_server_with_0(server):
    client = server.connect()
    client.send(frame(INITIALIZE))
    client.answer(1)
    client.send(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    client.send(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
    assert client.answer(2)["result"] is None
    client.send(frame({"jsonrpc": "2.0", "method": "exit"}))
    assert server.wait() == 0
    assert "Traceback" not in server.log_text()


def test_the_whole_lifecycle_sent_at_once_is_answered_over_tcp_too(server):
    client = server.connect()
    client.send(
        frame(INITIALIZE)
        + frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        + frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        + frame({"jsonrpc": "2.0", "method": "exit"})
    )
    assert client.answer(2) == {"id": 2, "jsonrpc": "2.0", "result": None}
    assert server.wait() == 0
    assert "Traceback" not in server.log_text()


def test_a_client_that_resets_the_connection_is_one_line_in_the_log(server):
    client = server.connect()
    client.send(frame(INITIALIZE))
    client.answer(1)
    client.send(b"Content-Length: 40\r\n\r\n{")  # mid-message, as a crashed editor leaves it
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # RST, not FIN
    assert server.wait() == 1  # no shutdown: the editor should restart it
    log = server.log_text()
    assert "Traceback" not in log and "ConnectionResetError" not in log.replace("connection ended", "")
    assert "disconnected" in log
    _, err = server.proc.communicate()
    assert b"Traceback" not in err


def test_a_second_client_is_refused_while_one_is_served(server):
    first = server.connect()
    first.send(frame(INITIALIZE))
    first.answer(1)
    second = server.connect()
    second.send(frame({**INITIALIZE, "id": 9}))
    try:  # closed without an answer (a reset, when it had sent before the close): no taking over
        assert second.sock.recv(65536) == b""
    except ConnectionResetError:
        pass
    first.send(frame({"jsonrpc": "2.0", "id": 2, "method": "sandgate/pendingSuggestions", "params": {}}))
    assert first.answer(2)["result"]["items"] == []
    assert "a client is already connected" in server.log_text()


@pytest.mark.parametrize("host", ["0.0.0.0", "[::]", "172.17.0.1", "example.net"])
def test_an_address_beyond_loopback_is_refused_without_the_flag(tmp_path, host):
    started = TcpServer(tmp_path, host=host)
    assert started.wait() == 2
    out, err = started.proc.communicate()
    assert out == b""
    assert b"no authentication" in err and b"--tcp-allow-remote" in err and b"--tcp 127.0.0.1:" in err
    assert not started.log.exists()  # refused before anything started


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.1.2.3"])
def test_loopback_addresses_need_no_flag(tmp_path, host):
    if host == "[::1]" and not socket.has_ipv6:
        pytest.skip("no IPv6")
    started = TcpServer(tmp_path, host=host)
    try:
        started.wait_listening()
    finally:
        started.proc.terminate()
        started.wait()


def test_allow_remote_listens_everywhere_and_says_so(tmp_path):
    started = TcpServer(tmp_path, "--tcp-allow-remote", host="0.0.0.0")
    try:
        client = started.connect()  # 0.0.0.0 includes loopback
        client.send(frame(INITIALIZE))
        assert "capabilities" in client.answer(1)["result"]
        assert "anyone who reaches the port drives the server" in started.log_text()
        listening = started.log_text().split("listening on ", 1)[1].splitlines()[0]
        assert "0.0.0.0" in listening
    finally:
        started.proc.terminate()
        started.wait()


def test_the_log_shows_a_clients_control_characters_escaped(server):
    client = server.connect()
    client.send(frame({"jsonrpc": "2.0", "method": "\x1b[2K\x1b[1Gevil\u202e"}))  # before initialize: logged
    client.send(frame(INITIALIZE))
    client.answer(1)
    client.close()
    server.wait()
    log = server.log_text()
    assert "notification \\x1b[2K\\x1b[1Gevil\\u202e before initialize was ignored" in log
    assert "\x1b" not in log and "\u202e" not in log


def test_allow_remote_without_tcp_is_bad_usage(tmp_path):
    done = subprocess.run(
        [*SERVER_COMMAND, "--tcp-allow-remote"],
        input=b"",
        capture_output=True,
        env=SERVER_ENV,
        cwd=tmp_path,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 2 and b"--tcp-allow-remote goes with --tcp HOST:PORT" in done.stderr
