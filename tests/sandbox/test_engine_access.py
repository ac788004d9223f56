"""`sandgate sandbox doctor` when the Docker engine does not answer: a socket this user may not use,
an engine that is not running and Docker not installed take different fixes, and it says which.

Real sockets and the real command. "This user may not use it" is made by running the doctor as
root without its capabilities (root is then held to file modes like anyone) against a socket
owned by `nobody`; as another user, by a socket of its own with mode 000.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = os.geteuid() == 0
# Root without capabilities: file modes apply to it as to any user (as `setpriv --reuid=nobody` would,
# but this interpreter lives under /root, where nobody cannot reach it).
AS_UNPRIVILEGED = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"] if ROOT else []


def doctor(docker_host: str, *, unprivileged: bool = False, path: str | None = None) -> str:
    env = {**os.environ, "DOCKER_HOST": docker_host}
    if path is not None:
        env["PATH"] = path
    done = subprocess.run(
        [*(AS_UNPRIVILEGED if unprivileged else []), sys.executable, "-m", "sandgate", "sandbox", "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("no  docker"))
    return lines[at] + "\n" + lines[at + 1]


@pytest.fixture
def listening(tmp_path: Path) -> Iterator[Path]:
    """A socket something listens on, as a running engine's does."""
    path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    yield path
    server.close()


def test_a_socket_this_user_may_not_use_is_not_an_engine_to_start(listening):
    if ROOT:
        os.chown(listening, 65534, 65534)  # nobody's; root without capabilities may not open it
        listening.chmod(0o600)
    else:
        listening.chmod(0o000)
    said = doctor(f"unix://{listening}", unprivileged=True)
    assert f"socket {listening} is there, but this user" in said and "may not use it" in said, said
    assert "PermissionError" in said  # the evidence, as the SDK said it
    assert "start the engine" not in said, said
    assert "alone (mode 0" in said and "rootless Docker" in said and "--backend bwrap" in said, said


@pytest.mark.skipif(not ROOT, reason="needs a socket of a group this user is not in, made by root")
def test_a_socket_of_a_group_says_to_join_that_group(listening):
    os.chown(listening, 65534, 65534)  # nobody:nogroup 0660, as Debian's root:docker; root is in neither
    listening.chmod(0o660)
    said = doctor(f"unix://{listening}", unprivileged=True)
    assert "may not use it" in said, said
    assert "add root to the group `nogroup` that owns it (`sudo usermod -aG nogroup root`" in said, said
    assert "start the engine" not in said, said


def test_a_socket_nothing_listens_on_is_an_engine_to_start(tmp_path):
    left = tmp_path / "docker.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(left))  # bound, never listening: as a stopped engine leaves it
    stale.close()
    said = doctor(f"unix://{left}")
    assert "the Docker engine is not running" in said and "nothing listens" in said, said
    assert "fix: start the engine" in said and "may not use it" not in said, said


@pytest.mark.skipif(
    shutil.which("dockerd") is None and shutil.which("docker") is None, reason="Docker is not installed"
)
def test_no_socket_with_docker_installed_is_an_engine_to_start(tmp_path):
    said = doctor(f"unix://{tmp_path / 'absent.sock'}")
    assert "the Docker engine is not running (no socket" in said and "fix: start the engine" in said, said


def test_no_socket_and_no_docker_says_to_install_it(tmp_path):
    (tmp_path / "bin").mkdir()
    said = doctor(f"unix://{tmp_path / 'absent.sock'}", path=str(tmp_path / "bin"))
    assert "Docker is not installed here" in said and "fix: install the Docker engine" in said, said
    assert "start the engine" not in said, said
