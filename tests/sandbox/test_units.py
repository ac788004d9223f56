"""Pure parts: argument builders (exact equality), the event stream, the output pump, the limit classifier,
the findings mapper, selection."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time

import pytest
from docker.types import LogConfig, Mount, Ulimit

from sandgate.findings import Level
from sandgate.policy.model import NetworkPolicy, SandboxLimits, SandboxPolicy
from sandgate.sandbox import limit_classifier, protocol, run_output
from sandgate.sandbox.base import RunRequest, RunResult
from sandgate.sandbox.bwrap_args import bwrap_argv
from sandgate.sandbox.bwrap_backend import prlimit_args
from sandgate.sandbox.cpu_limit import cpu_rlimit
from sandgate.sandbox.docker_backend import _read_frames
from sandgate.sandbox.docker_spec import ContainerSpec, create_kwargs
from sandgate.sandbox.run_findings import findings_from_run
from sandgate.sandbox.runtime import PythonRuntime
from sandgate.sandbox.select import open_backend
from sandgate.sandbox.supervision import Record

RT = PythonRuntime(
    python="/usr/bin/python3.11",
    stdlib="/usr/lib/python3.11",
    libs=(("/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"),),
)
PY = ["python3", "-c", "pass"]


def test_bwrap_argv_exact():
    argv = bwrap_argv(RT, "/etc-dir", 7, "bwrap", PY, seccomp_fd=9, hidden=[(".env", False), ("secrets", True)])
    assert argv == [
        "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "HOME",
        "/home/sandbox",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "PATH",
        "/usr/local/bin:/usr/bin:/bin",
        "--setenv",
        "PYTHONIOENCODING",
        "utf-8",
        "--setenv",
        "TMPDIR",
        "/tmp",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--cap-drop",
        "ALL",
        "--disable-userns",
        "--hostname",
        "sandbox",
        "--seccomp",
        "9",
        "--ro-bind",
        "/usr/bin/python3.11",
        "/usr/bin/python3.11",
        "--symlink",
        "python3.11",
        "/usr/bin/python3",
        "--ro-bind",
        "/usr/lib/python3.11",
        "/usr/lib/python3.11",
        "--ro-bind",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
        "--ro-bind",
        "/etc-dir/passwd",
        "/etc/passwd",
        "--ro-bind",
        "/etc-dir/group",
        "/etc/group",
        "--ro-bind",
        "/etc-dir/nsswitch.conf",
        "/etc/nsswitch.conf",
        "--ro-bind",
        "/etc-dir/hosts",
        "/etc/hosts",
        "--proc",
        "/proc",
        "--remount-ro",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(16 * 1024 * 1024),
        "--perms",
        "1777",
        "--tmpfs",
        "/tmp",
        "--size",
        str(1024 * 1024),
        "--perms",
        "1777",
        "--tmpfs",
        "/home/sandbox",
        "--ro-bind-fd",
        "7",
        "/workspace",
        "--ro-bind",
        "/etc-dir/empty",
        "/workspace/.env",
        "--ro-bind",
        "/etc-dir/void",
        "/workspace/secrets",
        "--remount-ro",
        "/",
        "--chdir",
        "/workspace",
        "--",
        *PY,
    ]


def test_bwrap_argv_without_workspace_has_an_empty_one():
    argv = bwrap_argv(RT, "/e", None, "bwrap", PY)
    assert argv[argv.index("/", argv.index("--dir")) - 3 :][:2] == ["--dir", "/workspace"]
    assert argv[argv.index("--chdir") + 1] == "/tmp"


def test_prlimit_args_exact():
    lim = SandboxLimits(cpu_time_s=2.5, file_size_mb=8, open_files=64)
    assert prlimit_args(lim, use_cgroup=True) == [
        "prlimit",
        "--cpu=3:4",
        f"--fsize={8 << 20}",
        "--nofile=64",
        "--core=0",
        "--",
    ]
    no_cg = prlimit_args(lim, use_cgroup=False)
    assert f"--as={(256 + 96) << 20}" in no_cg and any(a.startswith("--nproc=") for a in no_cg)


def test_docker_create_kwargs_exact():
    lim = SandboxLimits()
    kw = create_kwargs(
        ContainerSpec("img:1", lim, "/home/u/proj"),
        {"sandgate.owner": "h:1:2"},
        python="python3",
        control_dir="/run/x/control",
        hidden=[("/workspace/.env", "/etc-dir/empty")],
        bootstrap_file=True,
    )
    assert kw == {
        "image": "img:1",
        # The compiled bootstrap, from the container's control folder: a command of a few bytes.
        "command": ["python3", "-I", "-S", "-B", "/run/sandgate-ctl/bootstrap.pyc", "unix:/run/sandgate-ctl/ctl.sock"],
        "user": "65534:65534",
        "environment": dict(protocol.ENV),
        "working_dir": "/tmp",
        "hostname": "sandbox",
        "labels": {"sandgate": "1", "sandgate.owner": "h:1:2"},
        "stdin_open": True,
        "tty": False,
        "network_mode": "none",
        "network_disabled": True,
        "read_only": True,
        "tmpfs": {
            "/tmp": "rw,nosuid,nodev,noexec,size=16m,mode=1777",
            "/home/sandbox": "rw,nosuid,nodev,noexec,size=1m,mode=1777",
        },
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "ipc_mode": "none",
        "init": True,
        "pids_limit": 34,
        "mem_limit": "256m",
        "memswap_limit": "256m",
        "nano_cpus": 1_000_000_000,
        "ulimits": [
            Ulimit(name="nofile", soft=128, hard=128),
            Ulimit(name="fsize", soft=8 << 20, hard=8 << 20),
            Ulimit(name="cpu", soft=3, hard=4),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "log_config": LogConfig(type="none"),
        "volumes": {
            "/home/u/proj": {"bind": "/workspace", "mode": "ro"},
            "/run/x/control": {"bind": "/run/sandgate-ctl", "mode": "ro"},
        },
        "mounts": [Mount(target="/workspace/.env", source="/etc-dir/empty", type="bind", read_only=True)],
    }


def test_docker_remote_workspace_goes_to_a_tmpfs_not_a_bind():
    kw = create_kwargs(ContainerSpec("img", SandboxLimits(), None, True, supervised=False), {})
    assert "volumes" not in kw and kw["tmpfs"]["/workspace"].endswith("mode=755")
    assert kw["command"][-2] == "-c"  # no supervisor named: the bootstrap refuses to run a program


def test_event_splitter_handles_split_markers():
    sp = protocol.EventSplitter("\x1eM:")
    stream = b'out1\x1eM:{"kind":"dns","host":"a"}\nout2\x1eM:{"kind":"spawn"}\nend'
    got = b"".join(sp.feed(stream[i : i + 3]) for i in range(0, len(stream), 3)) + sp.flush()
    assert got == b"out1out2end"
    assert sp.events == [{"kind": "dns", "host": "a"}, {"kind": "spawn"}]


def test_capped_output_keeps_exactly_the_cap_stdout_first():
    out = run_output.CappedOutput(5)
    out.add("stderr", b"ee")
    out.add("stdout", b"ooo")
    assert not out.over and out.texts() == ("ooo", "ee")
    out.add("stdout", b"o")
    assert out.over and out.texts() == ("oooo", "e")


def test_pump_feeds_stdin_and_reads_to_the_end():
    proc = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = run_output.CappedOutput(1 << 20)
    data = b"x" * 200_000  # more than a pipe holds: writing and reading must interleave
    stopped = run_output.pump(
        {proc.stdout: lambda c: out.add("stdout", c), proc.stderr: lambda c: out.add("stderr", c)},
        out,
        time.monotonic() + 10,
        stdin=(proc.stdin, data),
    )
    proc.wait()
    assert stopped is None and out.texts() == (data.decode(), "") and proc.stdin.closed


def test_pump_stops_at_the_cap_and_at_the_deadline():
    proc = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    out = run_output.CappedOutput(1000)
    assert run_output.pump({proc.stdout: lambda c: out.add("stdout", c)}, out, time.monotonic() + 10) == "output"
    assert len(out.texts()[0]) == 1000
    proc.kill()
    proc.wait()
    proc = subprocess.Popen(["sleep", "5"], stdout=subprocess.PIPE)
    started = time.monotonic()
    assert run_output.pump({proc.stdout: lambda c: None}, out, started + 0.2) == "time"
    assert time.monotonic() - started < 2
    proc.kill()
    proc.wait()


def _frame(kind: int, body: bytes) -> bytes:
    return bytes([kind, 0, 0, 0]) + struct.pack(">I", len(body)) + body


def test_docker_frames_demultiplexed_and_done_at_both_exit_events():
    ours, theirs = socket.socketpair()
    exit_event = b'\x1eM:{"kind": "exit", "status": 3}\n'
    stream = (
        _frame(1, b"out") + _frame(2, b'err\x1eM:{"kind": "dns"}\n') + _frame(1, exit_event) + _frame(2, exit_event)
    )
    theirs.sendall(stream[:5])  # a header split across reads
    theirs.sendall(stream[5:])
    got = _read_frames(ours, "\x1eM:", time.monotonic() + 5, 100)  # no EOF: the exit events end it
    assert (got.stdout, got.stderr, got.exit_status, got.stopped) == ("out", "err", 3, None)
    assert [e["kind"] for e in got.events] == ["dns", "exit"]
    theirs.close()
    ours.close()


@pytest.mark.parametrize(
    "stopped, exit_code, stderr, pids, oom, expected",
    [
        ("time", 137, "", False, False, ("time", True)),
        ("time", 137, "", True, False, ("processes", True)),  # a fork bomb
        ("output", 137, "", True, True, ("output", False)),
        (None, 137, "", False, True, ("memory", False)),
        (None, 0, "", True, False, ("processes", False)),
        (None, 137, "", False, False, ("memory", False)),  # a SIGKILL we did not send
        (None, 137, "BlockingIOError: [Errno 11] Resource temporarily unavailable", False, False, ("processes", False)),
        (None, 152, "", False, False, ("time", True)),  # SIGXCPU
        (None, 1, "MemoryError", False, False, ("memory", False)),
        (None, 0, "", False, False, (None, False)),
    ],
)
def test_limit_classifier(stopped, exit_code, stderr, pids, oom, expected):
    assert limit_classifier.classify(stopped, exit_code, stderr, pids_hit_max=pids, oom_killed=lambda: oom) == expected


def test_cpu_rlimit_rounds_up_and_kills_a_second_later():
    assert [cpu_rlimit(SandboxLimits(cpu_time_s=t)) for t in (0.1, 2, 2.5)] == [(1, 2), (2, 3), (3, 4)]


# A run the supervisor recorded with nothing to say, and an in-process report that ended properly.
CLEAN = Record(armed=True, hangup=True, exited=True, main_exit=0)
DONE = {"kind": "rusage", "maxrss_kb": 9000}


def _rules(result, request=RunRequest(code="")):
    return {f.rule: f for f in findings_from_run(result, request)}


def test_report_backend_error_is_high_and_alone():
    r = _rules(RunResult(backend="docker", error="daemon gone", events=[{"kind": "spawn", "argv": ["x"]}]))
    assert list(r) == ["backend.error"] and r["backend.error"].severity == Level.HIGH


def test_report_maps_events_and_limits():
    res = RunResult(
        backend="bwrap",
        exit_code=137,
        killed="memory",
        timed_out=True,
        output_truncated=True,
        outside=CLEAN,
        stderr="OSError: [Errno 24] Too many open files",
        events=[
            {"kind": "connect", "family": "AF_INET", "host": "1.2.3.4", "port": 80},
            {"kind": "open-write", "path": "/tmp/x", "in_scratch": True},
            {"kind": "open-write", "path": "/dev/null", "in_scratch": False},
            {"kind": "open-write", "path": "/etc/x", "in_scratch": False},
            {"kind": "open-read", "path": "/etc/hostname"},
            {"kind": "open-read", "path": "/home/a/.aws/credentials"},
            {"kind": "exec", "how": "compile", "snippet": "1"},
        ],
    )
    findings = findings_from_run(res, RunRequest(code=""))
    rules = [f.rule for f in findings]
    assert sorted(set(rules)) == sorted(
        {
            "network.denied",
            "fs.write-outside-scratch",
            "fs.read-outside-workspace",
            "exec.dynamic",
            "limit.memory",
            "limit.time",
            "limit.output",
            "limit.open-files",
        }
    )
    assert [f.detail("path") for f in findings if f.rule == "fs.write-outside-scratch"] == ["/etc/x"]
    sev = {f.detail("path"): f.severity for f in findings if f.rule == "fs.read-outside-workspace"}
    assert sev == {"/etc/hostname": Level.LOW, "/home/a/.aws/credentials": Level.HIGH}
    assert all(f.severity == Level.MEDIUM for f in findings if f.rule.startswith("limit."))
    assert all(f.source == "sandbox" for f in findings)


def test_report_allowed_host_is_not_denied():
    req = RunRequest(code="", network=NetworkPolicy(allow_hosts=("*.example.com",)))
    res = RunResult(
        backend="x",
        exit_code=0,
        outside=CLEAN,
        events=[{"kind": "dns", "host": "api.example.com"}, {"kind": "connect", "host": "evil.test", "port": 1}, DONE],
    )
    assert [f.detail("host") for f in findings_from_run(res, req)] == ["evil.test"]


def test_open_backend_refuses_what_the_policy_does_not_allow():
    backend, probes = open_backend("docker", SandboxPolicy(backends=("bwrap",)))
    assert backend is None and not probes[0].available and "does not allow" in probes[0].detail
    backend, probes = open_backend("podman", SandboxPolicy())
    assert backend is None and "unknown" in probes[0].detail
    backend, probes = open_backend("auto", SandboxPolicy(backends=()))
    assert backend is None


def test_open_backend_auto_prefers_docker_and_caches():
    a, probes = open_backend("auto", SandboxPolicy())
    b, _ = open_backend("auto", SandboxPolicy())
    assert a is b and a.name == "docker" and probes[0].available
    c, _ = open_backend("auto", SandboxPolicy(backends=("bwrap", "docker")))
    assert c.name == "docker"  # the strongest allowed, whatever the order
    d, _ = open_backend("auto", SandboxPolicy(backends=("bwrap",)))
    assert d.name == "bwrap"


def test_open_backend_missing_image_explains():
    backend, probes = open_backend("docker", SandboxPolicy(image="no-such-image:0"))
    assert backend is None and "missing" in probes[0].detail and probes[0].remedy


def test_runtime_discovery_is_cached_on_disk_and_a_tampered_cache_is_refused(tmp_path, monkeypatch):
    from sandgate.sandbox import runtime

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    runtime.discover.cache_clear()
    try:
        first = runtime.discover()
        [cache] = list((tmp_path / "sandgate").glob("runtime-*.json"))
        runtime.discover.cache_clear()
        calls = []
        monkeypatch.setattr(runtime, "_discover", lambda real: calls.append(real))
        assert runtime.discover() == first and calls == []  # answered from the file

        # A path outside the system's directories is never bound in, whatever the file says.
        import json

        data = json.loads(cache.read_text())
        data["libs"].append(["/usr/lib/evil.so", str(cache)])
        cache.write_text(json.dumps(data))
        runtime.discover.cache_clear()
        monkeypatch.setattr(runtime, "_discover", lambda real: calls.append(real) or first)
        assert runtime.discover() == first and len(calls) == 1  # discovered again
    finally:
        runtime.discover.cache_clear()


def test_pool_replaces_items_older_than_its_max_age():
    import itertools
    import time as _time

    from sandgate.sandbox.pool import WarmPool

    made, discarded = itertools.count(), []
    pool = WarmPool(lambda key: next(made), discarded.append, size=1, max_age_s=0.5)
    try:
        pool.want("k")
        deadline = _time.monotonic() + 5
        while not pool.idle() and _time.monotonic() < deadline:
            _time.sleep(0.01)
        first = pool.idle()
        assert first == [0]
        # The filler replaces it on its own, without a take. Taken at once: the replacement ages
        # too, and a busy machine must not let it go stale before the take.
        deadline = _time.monotonic() + 5
        while not (0 in discarded and pool.idle() and pool.idle()[0] > 0) and _time.monotonic() < deadline:
            _time.sleep(0.01)
        item = pool.take("k")
        assert 0 in discarded
        assert item is not None and item > 0  # never the stale one
    finally:
        pool.close()


def test_the_exit_waits_for_a_sandbox_still_being_made_and_kills_it():
    """A warm-pool filler may be creating a container when Sandgate exits: the exit waits for it
    (bounded), kills it once it is registered, nothing new is made after, and the sweeps by label
    run last. In a child process: the exit is one-way."""
    script = """
import threading, time
from sandgate.sandbox import lifecycle
killed = []
entered = threading.Event()
def filler():
    with lifecycle.making():
        entered.set()
        time.sleep(0.5)  # the engine still creating the container
        lifecycle.register("late", lambda: killed.append("late"))
t = threading.Thread(target=filler)
t.start()
entered.wait()
lifecycle.register("early", lambda: killed.append("early"))
lifecycle.on_exit("sweep", lambda: killed.append("swept"))
lifecycle.kill_all()
try:
    with lifecycle.making():
        print("made after the exit began")
except lifecycle.Exiting:
    pass
t.join()
print(killed)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # The registered one, the one made meanwhile once it is, then the sweep.
    assert out.stdout.strip() == "['early', 'late', 'swept']"


def test_docker_nested_kwargs_exact():
    from sandgate.sandbox.docker_spec import nested_kwargs

    kw = nested_kwargs(
        ContainerSpec("img:1", SandboxLimits(), "/home/u/proj", egress=True, runtime="crun"),
        {"sandgate.owner": "h:1:2"},
        agent_source="AGENT",
        agent_socket="/run/sandgate-ctl/agent.sock",
        control_dir="/run/x/control",
        egress_dir="/run/x/egress",
        egress_inside="/run/sandgate-egress-outer",
        etc_dir="/var/etc-1",
        seccomp="seccomp={}",
        hidden=[("/workspace/.env", "/var/etc-1/empty")],
        python="python3",
    )
    assert kw == {
        "image": "img:1",
        "command": ["python3", "-I", "-S", "-B", "-c", "AGENT", "/run/sandgate-ctl/agent.sock"],
        "user": "65534:65534",
        "environment": dict(protocol.ENV),
        "working_dir": "/",
        "hostname": "sandbox",
        "labels": {"sandgate": "1", "sandgate.owner": "h:1:2"},
        "network_mode": "none",
        "network_disabled": True,
        # No tmpfs: each sandbox makes its own; the container's own root stays read-only.
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true", "seccomp={}"],
        "ipc_mode": "none",
        "init": True,
        "pids_limit": 36,
        # The run's 256 MB and the agent's Python.
        "mem_limit": "280m",
        "memswap_limit": "280m",
        "nano_cpus": 1_000_000_000,
        # No CPU-time limit on the container (the agent lives on): each sandbox gets its own.
        "ulimits": [Ulimit(name="fsize", soft=8 << 20, hard=8 << 20), Ulimit(name="core", soft=0, hard=0)],
        "log_config": LogConfig(type="none"),
        "runtime": "crun",
        "volumes": {
            "/run/x/control": {"bind": "/run/sandgate-ctl", "mode": "ro"},
            "/var/etc-1": {"bind": "/var/etc-1", "mode": "ro"},
            "/home/u/proj": {"bind": "/workspace", "mode": "ro"},
            "/run/x/egress": {"bind": "/run/sandgate-egress-outer", "mode": "ro"},
        },
        "mounts": [Mount(target="/workspace/.env", source="/var/etc-1/empty", type="bind", read_only=True)],
    }


def test_the_nested_containers_profile_allows_bubblewraps_calls_and_refuses_the_rest():
    import errno

    from sandgate.sandbox import outer_profile, syscall_filter

    profile = outer_profile.profile()
    assert profile["defaultAction"] == "SCMP_ACT_ALLOW"
    denied = {n for rule in profile["syscalls"] if rule["errnoRet"] == errno.EPERM for n in rule["names"]}
    # What bubblewrap needs to build a sandbox is the only difference from the confinement filter.
    assert set(syscall_filter.DENIED) - denied == outer_profile.BWRAP_NEEDS
    assert {"ptrace", "bpf", "keyctl", "io_uring_setup", "userfaultfd", "init_module", "open_by_handle_at"} <= denied
    assert {"mount", "unshare", "pivot_root"}.isdisjoint(denied)
    ioctls = [r for r in profile["syscalls"] if r["names"] == ["ioctl"]]
    assert sorted(r["args"][0]["value"] for r in ioctls) == sorted(syscall_filter.DENIED_IOCTLS)
    assert any(r["names"] == ["clone3"] and r["errnoRet"] == errno.ENOSYS for r in profile["syscalls"])
    assert outer_profile.security_opt().startswith("seccomp={")
