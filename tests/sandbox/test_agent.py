"""The nested sandbox host's agent (sandbox/agent.py) run on this machine, spoken to by its host end
(agent_link.py): descriptors land where the command says, exits and kills are reported, and the
host hanging up ends every sandbox the agent started."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandgate.sandbox import agent, agent_link

AGENT = Path(agent.__file__)


@pytest.fixture
def link(tmp_path):
    listening = agent_link.listen(str(tmp_path / "agent.sock"))
    proc = subprocess.Popen([sys.executable, "-I", "-S", str(AGENT), str(tmp_path / "agent.sock")])
    link = agent_link.AgentLink.accept(listening, 10)
    yield link, proc
    link.close()
    proc.wait(timeout=10)


def _line(fd: int) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 100)
        if not chunk:
            break
        data += chunk
    return data


def _pipe_pair():
    r, w = os.pipe()
    return r, w


def test_a_command_gets_its_descriptors_and_its_exit_is_reported(link):
    agent_side, proc = link
    in_r, in_w = _pipe_pair()
    out_r, out_w = _pipe_pair()
    ev_r, ev_w = _pipe_pair()
    code = "import os, sys; data = sys.stdin.read(); print(data.upper()); os.write(int(sys.argv[1]), b'event'); sys.exit(3)"
    spawned = agent_side.spawn(
        "a", [sys.executable, "-c", code, "{fd:events}"], {"stdin": in_r, "stdout": out_w, "events": ev_w}
    )
    for fd in (in_r, out_w, ev_w):
        os.close(fd)
    assert spawned.pid > 0 and spawned.numbers["stdin"] == 0 and spawned.numbers["events"] > 2
    os.write(in_w, b"hello")
    os.close(in_w)
    done = agent_side.wait_exit("a", 10)
    assert done is not None and os.waitstatus_to_exitcode(done.status) == 3
    assert os.read(out_r, 100) == b"HELLO\n"
    assert os.read(ev_r, 100) == b"event"
    assert done.maxrss_kb > 0


def test_the_command_holds_only_what_it_was_given(link):
    agent_side, _ = link
    out_r, out_w = _pipe_pair()
    code = "import os; print(sorted(int(f) for f in os.listdir('/proc/self/fd')))"
    agent_side.spawn("b", [sys.executable, "-I", "-S", "-c", code], {"stdout": out_w})
    os.close(out_w)
    done = agent_side.wait_exit("b", 10)
    assert done is not None and done.status == 0
    # 0 and 2 are the agent's own stdio here; 3 is the listing's own descriptor.
    assert os.read(out_r, 100).decode().strip() == "[0, 1, 2, 3]"


def test_a_command_naming_a_descriptor_it_was_not_given_is_refused(link):
    agent_side, _ = link
    with pytest.raises(RuntimeError, match="not given: seccomp"):
        agent_side.spawn("c", ["true", "--seccomp", "{fd:seccomp}"], {})


def test_kill_ends_the_sandbox_and_its_session(link):
    agent_side, _ = link
    out_r, out_w = _pipe_pair()
    # A grandchild in the same session must go too.
    code = "import os, subprocess, time; subprocess.Popen(['sleep', '60']); print('up', flush=True); time.sleep(60)"
    agent_side.spawn("d", [sys.executable, "-c", code], {"stdout": out_w})
    os.close(out_w)
    assert _line(out_r) == b"up\n"
    started = time.monotonic()
    agent_side.kill("d")
    done = agent_side.wait_exit("d", 10)
    assert done is not None and os.WIFSIGNALED(done.status) and os.WTERMSIG(done.status) == 9
    assert time.monotonic() - started < 5
    # The sleep held the pipe's write end: EOF means it is gone as well.
    assert os.read(out_r, 10) == b""


def test_the_host_hanging_up_ends_every_sandbox_and_the_agent(link):
    agent_side, proc = link
    out_r, out_w = _pipe_pair()
    agent_side.spawn(
        "e", [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"], {"stdout": out_w}
    )
    os.close(out_w)
    assert _line(out_r) == b"up\n"
    agent_side.close()
    assert proc.wait(timeout=10) == 0
    assert os.read(out_r, 10) == b""


def test_the_listening_socket_takes_one_connection_only(tmp_path):
    import socket

    path = str(tmp_path / "agent.sock")
    listening = agent_link.listen(path)
    first = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    first.connect(path)
    link = agent_link.AgentLink.accept(listening, 5)
    second = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with pytest.raises(OSError):
        second.connect(path)
    link.close()
    first.close()


def test_folders_are_opened_by_the_agent_and_limits_set(link, tmp_path):
    agent_side, _ = link
    (tmp_path / "shown").mkdir()
    (tmp_path / "shown" / "f.txt").write_text("inside")
    out_r, out_w = _pipe_pair()
    code = (
        "import os, resource, sys; fd = int(sys.argv[1]);"
        "print(open(f'/proc/self/fd/{fd}/f.txt').read(), resource.getrlimit(resource.RLIMIT_NOFILE))"
    )
    agent_side.spawn(
        "f",
        [sys.executable, "-c", code, "{fd:shown}"],
        {"stdout": out_w},
        opened={"shown": str(tmp_path / "shown")},
        rlimits={"RLIMIT_NOFILE": (40, 40)},
    )
    os.close(out_w)
    done = agent_side.wait_exit("f", 10)
    assert done is not None and done.status == 0
    assert os.read(out_r, 100).decode().strip() == "inside (40, 40)"


def test_a_link_is_not_opened_as_a_folder(link, tmp_path):
    agent_side, _ = link
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    with pytest.raises(RuntimeError, match="could not start"):
        agent_side.spawn("g", ["true"], {}, opened={"shown": str(tmp_path / "alias")})
