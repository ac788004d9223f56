"""Fixtures for the egress tests: real servers on 127.0.0.1, a short directory for Unix sockets."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.egress.helpers import EchoServer, HttpServer


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    server = HttpServer()
    yield server
    server.close()


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    # Short path: AF_UNIX paths are limited to ~107 bytes and pytest's tmp_path can be long.
    with tempfile.TemporaryDirectory(prefix="sg-egress-") as path:
        yield Path(path)
