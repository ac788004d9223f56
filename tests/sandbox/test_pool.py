"""The warm pools (issue 20): sized to the vets in flight and refilled in parallel, each sandbox
used once and made with its own honeytokens; Docker's runtime choice and its fall-back; nothing
left behind when a backend closes or the server exits (SIGTERM, or its client gone)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandgate.sandbox import honeytokens
from sandgate.sandbox.base import RunRequest
from sandgate.sandbox.bwrap_backend import BwrapBackend
from sandgate.sandbox.docker_backend import LABEL_OWNER, DockerBackend
from sandgate.sandbox.pool import WarmPool
from tests.sandbox.conftest import FAST

# Where a run could leave something for the next: scratch and the sandbox's home.
LEAVE = """
import os
tok = {token!r}
for d in ("/tmp", os.path.expanduser("~")):
    with open(os.path.join(d, "left-" + tok), "w") as f:
        f.write(tok)
with open(os.path.expanduser("~/.aws/credentials"), "a") as f:
    f.write("\\n# " + tok)
# Which container this is (its memory cgroup's name, under Docker).
print([line for line in open("/proc/self/cgroup").read().splitlines() if ":memory:" in line])
"""
LOOK = """
import os
seen = []
for d in ("/tmp", os.path.expanduser("~")):
    seen += [n for n in os.listdir(d) if n.startswith("left-")]
cred = open(os.path.expanduser("~/.aws/credentials")).read()
print(repr((seen, cred)))
"""


def _new_backend(name: str, size: int):
    return DockerBackend(pool_size=size) if name == "docker" else BwrapBackend(pool_size=size)


def _pool_full(backend, size: int, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(backend.pool.idle()) >= size:
            return True
        time.sleep(0.02)
    return False


def _mine(b: DockerBackend) -> list[str]:
    return [c["Id"] for c in b.client.api.containers(all=True, filters={"label": f"{LABEL_OWNER}={b._owner}"})]


@pytest.mark.parametrize("name", ["docker", "bwrap"])
def test_a_pooled_sandbox_is_never_handed_out_twice(name):
    """Adversarial: each run leaves files in every writable place and appends to a honeyfile; the
    runs after it (served from the pool) see none of it, and each had a marker of its own."""
    b = _new_backend(name, 2)
    try:
        b.warm(RunRequest(code="", limits=FAST, honey=honeytokens.new()))
        assert _pool_full(b, 2)
        tokens, markers, homes = [], set(), []
        for _ in range(4):
            token = uuid.uuid4().hex
            tokens.append(token)
            r = b.run(RunRequest(code=LEAVE.format(token=token), limits=FAST, honey=honeytokens.new()))
            assert r.error is None and r.exit_code == 0, (r.error, r.stderr)
            assert r.honey is not None and r.honey.preplanted
            markers.add(r.honey.marker)
            homes.append(r.stdout.strip())
            look = b.run(RunRequest(code=LOOK, limits=FAST, honey=honeytokens.new()))
            assert look.exit_code == 0, look.stderr
            seen, cred = eval(look.stdout)  # noqa: S307 - our own repr of two literals
            assert seen == [] and not any(t in cred for t in tokens), look.stdout
            assert look.honey is not None and look.honey.marker in cred  # its own, fresh honeyfile
            markers.add(look.honey.marker)
        assert len(markers) == 8  # a new marker for every run
        if name == "docker" and not b.nested.container_ids():
            assert len(set(homes)) == 4  # four containers (their cgroups' names)
    finally:
        b.close()


def test_docker_pool_refills_in_parallel_and_serves_concurrent_runs():
    """A container per run (nested hosts off): four runs at once find four warm containers; the
    pool is full again soon after, with containers none of those runs had, and the used ones are
    removed."""
    b = DockerBackend(pool_size=4, nested=False)
    taken: list[str] = []
    lock = threading.Lock()
    take = b.pool.take

    def counted(key):  # noqa: ANN001
        item = take(key)
        with lock:
            taken.append(item.id if item is not None else "cold")
        return item

    b.pool.take = counted  # type: ignore[method-assign]
    try:
        request = RunRequest(code="print('ok')", limits=FAST, honey=honeytokens.new())
        b.warm(request)
        assert _pool_full(b, 4)
        first = set(b.idle_container_ids())
        with ThreadPoolExecutor(4) as ex:
            results = list(ex.map(lambda _: b.run(request), range(4)))
        assert all(r.stdout == "ok\n" for r in results), [r.error or r.stderr for r in results]
        assert "cold" not in taken and set(taken) == first
        # Refilled by two threads: all four back well within a serial refill's time.
        assert _pool_full(b, 4, timeout=60)
        assert not set(b.idle_container_ids()) & first
        deadline = time.monotonic() + 30
        while set(_mine(b)) & first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not set(_mine(b)) & first  # the used ones are gone
    finally:
        b.close()


def test_warm_pool_makes_items_in_parallel_but_never_more_than_its_size():
    in_flight, peak, made = [0], [0], [0]
    lock = threading.Lock()

    def make(key):  # noqa: ANN001
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.2)
        with lock:
            in_flight[0] -= 1
            made[0] += 1
            return made[0]

    pool: WarmPool[str, int] = WarmPool(make, lambda item: None, size=4, fillers=2)
    try:
        pool.want("k")
        deadline = time.monotonic() + 5
        while len(pool.idle()) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        assert len(pool.idle()) == 4 and made[0] == 4 and peak[0] == 2
        got = {pool.take("k") for _ in range(4)}
        assert got == {1, 2, 3, 4}  # each handed out once
        deadline = time.monotonic() + 5
        while len(pool.idle()) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert set(pool.idle()).isdisjoint(got) and made[0] == 8
    finally:
        pool.close()


def test_a_take_waits_for_an_item_being_made_rather_than_return_empty_handed():
    def slow(key):  # noqa: ANN001
        time.sleep(0.3)
        return object()

    for handoff, expect_item in ((1.0, True), (0.0, False)):
        pool: WarmPool[str, object] = WarmPool(slow, lambda item: None, size=1, handoff_s=handoff)
        try:
            pool.want("k")
            time.sleep(0.05)  # the filler is making one now
            t0 = time.monotonic()
            item = pool.take("k")
            waited = time.monotonic() - t0
            assert (item is not None) is expect_item
            assert waited < 0.9  # never longer than the one being made takes
            # Nothing being made for another key: no wait at all.
            t0 = time.monotonic()
            assert pool.take("other") is None and time.monotonic() - t0 < 0.1
        finally:
            pool.close()


def test_docker_runtime_is_crun_when_the_engine_has_it_else_the_default():
    b = DockerBackend(pool_size=0)
    try:
        registered = b.client.info().get("Runtimes") or {}
        assert b.runtime() == ("crun" if "crun" in registered else None)
    finally:
        b.close()
    absent = DockerBackend(pool_size=0, preferred_runtime="sandgate-no-such-runtime")
    try:
        assert absent.runtime() is None
        r = absent.run(RunRequest(code="print('ok')", limits=FAST))
        assert r.error is None and r.stdout == "ok\n"
    finally:
        absent.close()


def test_docker_falls_back_to_the_default_runtime_when_the_chosen_one_fails():
    """A runtime the engine refuses (here: one it does not know) costs one failed create; the run
    goes on with the engine's default, and so do the runs after it."""
    b = DockerBackend(pool_size=0, runtime="sandgate-no-such-runtime")
    try:
        assert b.runtime() == "sandgate-no-such-runtime"
        r = b.run(RunRequest(code="print('ok')", limits=FAST))
        assert r.error is None and r.stdout == "ok\n", r.error
        assert b.runtime() is None
        assert b.run(RunRequest(code="print('ok')", limits=FAST)).stdout == "ok\n"
    finally:
        b.close()


def test_docker_close_leaves_no_container():
    b = DockerBackend(pool_size=3)
    made: list[str] = []
    make = b._make_container

    def recorded(spec):  # noqa: ANN001
        container = make(spec)
        made.append(container.id)
        return container

    b._make_container = recorded  # type: ignore[method-assign]
    make_host = b.nested._make_host

    def recorded_host(spec):  # noqa: ANN001 - a long-lived container (docker_nested.py)
        host = make_host(spec)
        made.append(host.container.id)
        return host

    b.nested._make_host = recorded_host  # type: ignore[method-assign]
    b.warm(RunRequest(code="", limits=FAST, honey=honeytokens.new()))
    assert _pool_full(b, 3)
    with ThreadPoolExecutor(2) as ex:
        list(ex.map(lambda _: b.run(RunRequest(code="print(1)", limits=FAST)), range(2)))
    assert set(made) & set(_mine(b))  # the pool holds some now
    b.close()
    assert not set(made) & set(_mine(b))  # idle, used, and any being made: all gone


# -- the language server's exit -------------------------------------------------------------------


def _lsp(proc: subprocess.Popen, msg_id: int | None, method: str, params: dict) -> None:
    body = {"jsonrpc": "2.0", "method": method, "params": params}
    if msg_id is not None:
        body["id"] = msg_id
    data = json.dumps(body).encode()
    assert proc.stdin is not None
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
    proc.stdin.flush()


def _server_containers(pid: int) -> list[str]:
    b = DockerBackend(pool_size=0)
    owner = f"{socket.gethostname()}:{pid}:"
    found = b.client.api.containers(all=True, filters={"label": "sandgate"})
    return [c["Id"] for c in found if (c.get("Labels") or {}).get(LABEL_OWNER, "").startswith(owner)]


@pytest.mark.parametrize("how", ["sigterm", "stdin-eof"])
def test_the_servers_warm_containers_go_when_it_exits(tmp_path, how):
    """Issue 21: a warm Docker container kept running after the editor shut down. The server
    fills its pool at start-up; when it is told to stop (SIGTERM) or its client goes away (stdin
    closes, no shutdown), no container of its is left."""
    ws = tmp_path / "ws"
    (ws / ".sandgate").mkdir(parents=True)
    (ws / ".sandgate" / "policy.toml").write_text('[sandbox]\nbackends = ["docker"]\n')
    env = {**os.environ, "SANDGATE_LOG_LEVEL": "INFO"}
    env.pop("SANDGATE_API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandgate", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ws,
        env=env,
    )
    try:
        _lsp(proc, 1, "initialize", {"processId": None, "rootUri": ws.as_uri(), "capabilities": {}})
        _lsp(proc, None, "initialized", {})
        deadline = time.monotonic() + 90
        while len(_server_containers(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_server_containers(proc.pid)) >= 2, "the server did not fill its pool"
        if how == "sigterm":
            proc.send_signal(signal.SIGTERM)
        else:
            assert proc.stdin is not None
            proc.stdin.close()
        proc.wait(timeout=60)
        deadline = time.monotonic() + 20
        while _server_containers(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _server_containers(proc.pid) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_pooled_container_that_died_is_recognised_without_an_inspect_first():
    """A container per run (nested containers off; test_docker_nested.py kills theirs): a pooled
    container killed from outside (as an engine restart would) makes the run go cold; a live one
    is attached to straight away, with no inspect before."""
    b = DockerBackend(pool_size=1, nested=False)
    calls: list[str] = []
    send = b.client.api.send

    def counted(req, **kw):  # noqa: ANN001
        calls.append(f"{req.method} {req.path_url.split('?')[0].split('/', 2)[-1]}")
        return send(req, **kw)

    def of(cid: str) -> list[str]:
        return [c.replace(cid, "{id}") for c in calls if cid in c]

    try:
        b.warm(RunRequest(code="", limits=FAST))
        assert b.run(RunRequest(code="print('ok')", limits=FAST)).stdout == "ok\n"  # reaping done
        assert _pool_full(b, 1)
        (live,) = b.idle_container_ids()
        b.client.api.send = counted  # type: ignore[method-assign]
        r = b.run(RunRequest(code="print('ok')", limits=FAST))
        assert r.stdout == "ok\n"
        assert of(live)[0] == "POST containers/{id}/attach", of(live)
        assert _pool_full(b, 1)
        (dead,) = b.idle_container_ids()
        b.client.api.kill(dead)
        b.client.api.wait(dead, timeout=30)
        r = b.run(RunRequest(code="print('ok')", limits=FAST))
        assert r.error is None and r.stdout == "ok\n", (r.error, r.stderr)
        assert not r.timed_out and r.duration_ms < 1500  # recognised, not waited out
        mine = of(dead)[of(dead).index("POST containers/{id}/wait") + 1 :]  # after our own kill
        assert mine[:2] == ["POST containers/{id}/attach", "GET containers/{id}/json"], of(dead)
    finally:
        b.close()


@pytest.mark.parametrize("name", ["docker", "bwrap"])
def test_the_supervision_link_forgets_finished_sandboxes(name):
    """What it keeps to tell a live supervisor's sandboxes from a dead one's does not grow with
    the runs (the server's memory stays flat over thousands of vets)."""
    from sandgate.sandbox import supervision

    b = _new_backend(name, 1)
    try:
        b.run(RunRequest(code="print(1)", limits=FAST))
        before = len(supervision.shared()._sids)
        for _ in range(6):
            assert b.run(RunRequest(code="print(1)", limits=FAST)).stdout == "1\n"
        time.sleep(1.0)  # Docker removes used containers in the background
        assert len(supervision.shared()._sids) <= before + 1
    finally:
        b.close()


@pytest.mark.parametrize("backend_cls", [DockerBackend, BwrapBackend], ids=["docker", "bwrap"])
def test_making_a_cold_sandbox_is_not_the_programs_time(backend_cls, tmp_path):
    """A cold sandbox for a large workspace is slow to make (the walk that finds excluded files
    takes seconds for tens of thousands of entries); that wait must not count against the
    program's time limit, or a one-line program 'runs out of time' before it starts."""
    for d in range(60):
        folder = tmp_path / f"d{d}"
        folder.mkdir()
        for f in range(500):
            (folder / f"f{f}.txt").touch()
    limits = dataclasses.replace(FAST, wall_time_s=0.5)
    b = backend_cls(pool_size=0)
    try:
        began = time.monotonic()
        r = b.run(RunRequest(code="print('ok')", limits=limits, workspace=tmp_path))
        took = time.monotonic() - began
        assert r.error is None, r.error
        assert not r.timed_out and r.stdout == "ok\n", (r.stdout, r.stderr, r.killed)
        # The run did take longer than the program's limit: making the sandbox was slow.
        assert took > limits.wall_time_s, f"the workspace walk was quicker than expected ({took:.2f} s)"
    finally:
        b.close()


def test_the_exit_sweeps_a_container_of_its_own_that_slipped_past_the_registry():
    """A container this process owns but never registered (its create's answer lost to the exit)
    is removed by the exit's sweep by label: nothing of a Sandgate outlives it."""
    script = """
import functools, sys
from sandgate.sandbox import lifecycle
from sandgate.sandbox.docker_backend import LABEL, LABEL_OWNER, DockerBackend, _sweep_owned
b = DockerBackend(pool_size=0)
cid = b.client.api.create_container(b.image, command=["true"], labels={LABEL: "1", LABEL_OWNER: b._owner})["Id"]
lifecycle.on_exit("docker", functools.partial(_sweep_owned, b.client.api, b._owner))
print(cid)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    cid = out.stdout.strip()
    api = DockerBackend(pool_size=0).client.api
    assert len(cid) == 64
    assert not api.containers(all=True, filters={"id": cid}), "the unregistered container outlived its process"
