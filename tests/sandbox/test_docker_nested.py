"""Docker, nested (docker_nested.py): runs share a long-lived container, never a sandbox. Each test
tries, as the code under test, to reach what the container holds for the runs after it, or to
break out of bubblewrap into the container. Real engine, real bubblewrap inside it."""

from __future__ import annotations

import io
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from sandgate.policy.model import SandboxLimits
from sandgate.sandbox import honeytokens, image, runtime
from sandgate.sandbox.base import RunRequest
from sandgate.sandbox.docker_backend import DockerBackend
from sandgate.sandbox.docker_nested import Parked

FAST = SandboxLimits(wall_time_s=3.0, cpu_time_s=3.0)


@pytest.fixture
def nested():
    b = DockerBackend(pool_size=1)
    try:
        yield b
    finally:
        b.close()


def _run(b: DockerBackend, code: str, **kw):
    r = b.run(RunRequest(code=code, limits=kw.pop("limits", FAST), **kw))
    assert b.nested.container_ids(), "the run did not use a long-lived container"
    return r


def test_runs_share_a_container_and_nothing_a_run_leaves_reaches_the_next(nested):
    """One container serves every run here; a run that writes everywhere it may, starts a process
    that outlives it and keeps writing, leaves nothing the next run can see."""
    leave = """
import os, subprocess, sys
tok = {token!r}
for d in ("/tmp", os.path.expanduser("~")):
    open(os.path.join(d, "left-" + tok), "w").write(tok)
# A process of its own session that would go on writing after the program ends.
subprocess.Popen([sys.executable, "-c",
    "import os, time\\nwhile True:\\n    open('/tmp/late-' + {token!r}, 'a').write('x')\\n    time.sleep(0.05)"],
    start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(os.getpid())
"""
    look = """
import os
names = [n for d in ("/tmp", os.path.expanduser("~")) for n in os.listdir(d) if n.startswith(("left-", "late-"))]
procs = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print(repr((names, procs)))
"""
    containers = set()
    for _ in range(3):
        token = uuid.uuid4().hex
        r = _run(nested, leave.format(token=token))
        assert r.error is None and r.exit_code == 0, (r.error, r.stderr)
        containers |= set(nested.nested.container_ids())
        time.sleep(0.3)  # the leftover would have written by now
        seen = _run(nested, look)
        assert seen.exit_code == 0, seen.stderr
        names, procs = eval(seen.stdout)  # noqa: S307 - our own repr of two lists
        assert names == []
        # Its own pid namespace: the bootstrap's processes only, none of the run before.
        assert len(procs) <= 3, procs
        containers |= set(nested.nested.container_ids())
    assert len(containers) <= 2  # the runs were served by the same long-lived container(s)


def test_the_code_cannot_make_namespaces_mount_or_reach_the_agent(nested):
    code = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
out = {}
for name, flag in (("user", 0x10000000), ("mount", 0x00020000), ("pid", 0x20000000), ("net", 0x40000000)):
    out[name] = libc.unshare(flag) == 0
out["mount_call"] = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0
out["control"] = os.path.exists("/run/sandgate-ctl")
out["agent_socket"] = any(os.path.exists(p) for p in ("/run/sandgate-ctl/agent.sock", "/run/sandgate-egress-outer"))
# Everything in its /proc is its own: no agent, no docker-init.
cmds = []
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            cmds.append(open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[0].decode())
        except OSError:
            pass
out["foreign"] = [c for c in cmds if "agent" in c or "docker-init" in c or "init" == c.rsplit("/", 1)[-1]]
try:
    open("/proc/sysrq-trigger", "w").write("h")
    out["sysrq"] = True
except OSError:
    out["sysrq"] = False
print(repr(out))
"""
    r = _run(nested, code)
    assert r.exit_code == 0, (r.error, r.stderr)
    out = eval(r.stdout)  # noqa: S307 - our own repr of a dict of literals
    assert out == {
        "user": False,
        "mount": False,
        "pid": False,
        "net": False,
        "mount_call": False,
        "control": False,
        "agent_socket": False,
        "foreign": [],
        "sysrq": False,
    }


def test_honeytokens_are_fresh_for_every_run_in_the_same_container(nested):
    read = "import os\nprint(open(os.path.expanduser('~/.aws/credentials')).read())"
    markers = set()
    for _ in range(3):
        r = _run(nested, read, honey=honeytokens.new())
        assert r.exit_code == 0, r.stderr
        assert r.honey is not None and r.honey.marker in r.stdout
        markers.add(r.honey.marker)
    assert len(markers) == 3


def test_memory_and_process_limits_hold_per_run_and_the_container_serves_on(nested):
    hog = "x = []\nwhile True:\n    x.append(bytearray(8 * 1024 * 1024))\n"
    r = _run(nested, hog, limits=SandboxLimits(wall_time_s=10, cpu_time_s=10, memory_mb=64))
    assert r.killed == "memory", (r.killed, r.exit_code, r.stderr[-300:])
    forks = (
        "import os, time\nfor _ in range(200):\n    if os.fork() == 0:\n        time.sleep(5)\n        os._exit(0)\n"
    )
    r = _run(nested, forks, limits=SandboxLimits(wall_time_s=3, cpu_time_s=3, processes=8))
    assert r.killed == "processes" or "Resource temporarily unavailable" in r.stderr, (r.killed, r.stderr[-300:])
    after = _run(nested, "print('still here')")
    assert after.error is None and after.stdout == "still here\n"


def test_a_container_killed_during_a_run_fails_that_run_and_the_next_gets_another(nested):
    r = _run(nested, "print('warm')")
    assert r.stdout == "warm\n"
    import threading

    ids: list[str] = []

    def kill_all():
        time.sleep(1.0)
        ids.extend(nested.nested.container_ids())  # the one running the sleep among them
        for cid in ids:
            nested.client.api.kill(cid)

    killer = threading.Thread(target=kill_all)
    killer.start()
    r = nested.run(RunRequest(code="import time\ntime.sleep(20)", limits=SandboxLimits(wall_time_s=30, cpu_time_s=30)))
    killer.join()
    assert r.error and "container ended" in r.error, r.error
    for _ in range(3):  # no run lands in a killed container's sandbox
        after = _run(nested, "print('again')")
        assert after.error is None and after.stdout == "again\n", after.error
    assert ids


def test_a_secret_file_made_after_the_container_is_hidden_from_the_next_sandbox():
    top = Path(tempfile.mkdtemp(prefix="sg-ws-test-", dir="/tmp"))
    top.chmod(0o755)
    ws = top / "proj"
    ws.mkdir(mode=0o755)
    (ws / "app.py").write_text("pass\n")
    b = DockerBackend(pool_size=0)  # no sandbox parked ahead: each is made for its run
    probe = "import os\np = '/workspace/.env'\nprint(os.path.exists(p) and os.path.getsize(p))"
    try:
        first = b.run(RunRequest(code=probe, workspace=ws, exclude=(".env",)))
        assert first.stdout == "False\n", (first.error, first.stderr)
        assert b.nested.container_ids()
        (ws / ".env").write_text("API_KEY=sk-live-secret\n")
        second = b.run(RunRequest(code=probe, workspace=ws, exclude=(".env",)))
        assert second.error is None and second.stdout == "0\n", second.stdout  # an empty cover
    finally:
        b.close()


def test_an_image_without_bubblewrap_falls_back_to_a_container_per_run():
    import docker

    client = docker.from_env()
    tag = f"sandgate-sandbox-test-nobwrap:{uuid.uuid4().hex[:8]}"
    ctx = io.BytesIO()
    image.build_context(runtime.discover(), ctx, None, None)
    ctx.seek(0)
    for chunk in client.api.build(fileobj=ctx, custom_context=True, tag=tag, network_mode="none", rm=True, decode=True):
        assert "error" not in chunk, chunk
    b = DockerBackend(image=tag, pool_size=0)
    try:
        r = b.run(RunRequest(code="print('per run')", limits=FAST))
        assert r.error is None and r.stdout == "per run\n", (r.error, r.stderr)
        assert b.nested.container_ids() == []
        assert b._nested_works is False
        again = b.run(RunRequest(code="print('still')", limits=FAST))
        assert again.stdout == "still\n"
    finally:
        b.close()
        client.images.remove(tag, force=True)


def test_pooled_items_are_parked_sandboxes(nested):
    nested.warm(RunRequest(code="", limits=FAST))
    deadline = time.monotonic() + 30
    while not nested.pool.idle() and time.monotonic() < deadline:
        time.sleep(0.05)
    idle = nested.pool.idle()
    assert idle and all(isinstance(p, Parked) for p in idle)
    assert set(nested.idle_container_ids()) <= set(nested.nested.container_ids())


def test_containers_of_a_kind_of_run_no_longer_asked_for_are_given_back(monkeypatch):
    from sandgate.sandbox import docker_nested

    monkeypatch.setattr(docker_nested, "IDLE_S", 0.5)
    b = DockerBackend(pool_size=0)
    try:
        first = b.run(RunRequest(code="print(1)", limits=FAST))
        assert first.stdout == "1\n"
        old = set(b.nested.container_ids())
        assert old
        time.sleep(1.0)
        # Another kind of run (other limits): the first kind's idle container has aged out.
        other = b.run(RunRequest(code="print(2)", limits=SandboxLimits(wall_time_s=4.0, cpu_time_s=4.0)))
        assert other.stdout == "2\n"
        assert not old & set(b.nested.container_ids())
        mine = {c["Id"] for c in b.client.api.containers(all=True, filters={"label": b.owner_filter()})}
        assert not old & mine  # removed from the engine, not only forgotten
    finally:
        b.close()
