"""`sandgate … | head -1`: a reader that goes away ends the command quietly, as it does `cat`.

Each command writes into a real pipe whose reading end is already closed, so its first write (or
its last flush) fails with EPIPE: the exit status is the shell's for SIGPIPE (141) and stderr holds
no traceback and no "Exception ignored".
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import STATIC_POLICY

COMMANDS = [
    ("audit", "show"),
    ("audit", "show", "--json"),
    ("audit", "export"),
    ("audit", "export", "--format", "json"),
    ("audit", "verify"),
    ("policy", "show", "--policy", STATIC_POLICY),
    ("policy", "show", "--policy", STATIC_POLICY, "--format", "json"),
    ("vet", "--no-audit", "--policy", STATIC_POLICY, "m.py"),
]


def _into_closed_pipe(args: tuple[str, ...], cwd) -> subprocess.CompletedProcess:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the command writes anything
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    try:
        return subprocess.run(
            [sys.executable, "-m", "sandgate", *args],
            cwd=cwd,
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)


@pytest.fixture
def logged_workspace(static_workspace):
    (static_workspace / "m.py").write_text("import subprocess\nsubprocess.call('ls', shell=True)\n")
    done = subprocess.run(
        [sys.executable, "-m", "sandgate", "vet", "--policy", STATIC_POLICY, "m.py"],
        cwd=static_workspace,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr  # held: the log has a record with findings
    return static_workspace


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_closed_pipe_ends_the_command_quietly(args, logged_workspace):
    done = _into_closed_pipe(args, logged_workspace)
    assert done.stderr == ""
    assert done.returncode == 141
