"""Vim 9 with coc.nvim against the real `sandgate serve` and a loopback model (tests/support/openai_server.py).

Vim, coc.nvim and the Node coc runs on are installed by scripts/setup-editor-tests.sh; scripts/test-editor.sh
runs these tests after it. Missing tools fail the tests with that instruction: they never skip.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "support"))

from coc_session import Editor  # noqa: E402
from openai_server import OpenAIServer  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "model_script(script): the loopback model's script (None: no model configured)")


@pytest.fixture
def editor(tmp_path: Path, request) -> Iterator[Editor]:
    marker = request.node.get_closest_marker("model_script")
    script = marker.args[0] if marker else {}
    with contextlib.ExitStack() as stack:
        model = None if script is None else stack.enter_context(OpenAIServer(script))
        ed = Editor(tmp_path, model)
        stack.callback(ed.close)
        yield ed
