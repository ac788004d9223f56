from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from openai_server import OpenAIServer  # noqa: E402
from tests.egress.helpers import HttpServer  # noqa: E402


@pytest.fixture(scope="module")
def fake_model():
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def model(fake_model):
    fake_model.set_script({})
    return fake_model


@pytest.fixture
def http_server():
    """A plain loopback HTTP server that records what it is sent (the model guard's end-to-end test)."""
    server = HttpServer()
    yield server
    server.close()
