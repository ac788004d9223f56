from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from openai_server import OpenAIServer  # noqa: E402


@pytest.fixture(scope="module")
def fake_model():
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def model(fake_model):
    fake_model.set_script({})
    return fake_model
