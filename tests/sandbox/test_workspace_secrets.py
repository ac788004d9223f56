"""Workspace secrets never leave: files `files.exclude` names are not visible in a sandbox (bound or
copied workspace, both backends), a file only its owner may read stays unreadable there, and what
a run prints passes the secret detector before it reaches a finding, the audit log or SARIF."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from sandgate.policy.load import load_effective
from tests.sandbox.conftest import run

KEY = "AKIAIOSFODNN7EXAMPLE"
ENV_SECRET = "sk-live-9f8e7d6c5b4a39281706"
EXCLUDE = tuple(load_effective(None, preset="balanced").policy.files.exclude)
LOOK = textwrap.dedent("""
    import os
    print(sorted(os.listdir("/workspace")))
    for rel in (".env", ".env.local", "secrets/db.txt", "deploy.pem", "private.txt", "app.py"):
        try:
            print(rel, "->", repr(open("/workspace/" + rel).read()))
        except OSError as e:
            print(rel, "-> error", e.errno)
""")


def _fill(ws: Path) -> None:
    (ws / "app.py").write_text("VALUE = 1\n")
    (ws / ".env").write_text(f"API_KEY={ENV_SECRET}\n")
    (ws / ".env").chmod(0o600)
    (ws / ".env.local").write_text(f"TOKEN={ENV_SECRET}\n")
    (ws / ".env.local").chmod(0o644)  # readable by all on the host: still excluded
    (ws / "secrets").mkdir()
    (ws / "secrets" / "db.txt").write_text(f"password={ENV_SECRET}\n")
    (ws / "deploy.pem").write_text(f"-----BEGIN PRIVATE KEY-----\n{ENV_SECRET}\n-----END PRIVATE KEY-----\n")
    (ws / "private.txt").write_text(f"only mine {ENV_SECRET}\n")
    (ws / "private.txt").chmod(0o600)  # not excluded, but only its owner (root) may read it


@pytest.fixture(params=["bound", "copied"])
def workspace(request, tmp_path):
    """A workspace the sandbox user may enter (bound in) and one it may not (copied in)."""
    if request.param == "bound":
        top = Path(tempfile.mkdtemp(prefix="sg-ws-test-", dir="/tmp"))
        top.chmod(0o755)
        ws = top / "proj"
    else:
        ws = tmp_path / "proj"
    ws.mkdir()
    ws.chmod(0o755 if request.param == "bound" else 0o700)
    _fill(ws)
    yield ws
    if request.param == "bound":
        shutil.rmtree(ws.parent, ignore_errors=True)


def test_excluded_files_are_never_visible_and_private_files_stay_private(backend, workspace):
    result, _, _ = run(backend, LOOK, workspace=workspace, exclude=EXCLUDE)
    out = result.stdout
    assert result.exit_code == 0, result.stderr
    assert ENV_SECRET not in out, out
    assert "app.py -> 'VALUE = 1\\n'" in out
    assert "private.txt -> error 13" in out  # EACCES: the owner's bits hold inside too
    for rel in (".env", ".env.local", "secrets/db.txt", "deploy.pem"):
        line = next(x for x in out.splitlines() if x.startswith(rel + " ->"))
        # Absent from a copy; covered by an empty file (or folder) in a bind.
        assert line in (f"{rel} -> error 2", f"{rel} -> ''"), line
    listing = eval(out.splitlines()[0])  # noqa: S307 - the sandbox's own repr of a list of names
    assert "app.py" in listing and ".git" not in listing


def test_version_control_and_environments_are_not_visible(backend, tmp_path):
    ws = tmp_path / "proj"
    (ws / ".git").mkdir(parents=True)
    (ws / ".git" / "config").write_text(f"[remote]\nurl = https://x:{ENV_SECRET}@git.example/r\n")
    (ws / ".venv" / "lib").mkdir(parents=True)
    (ws / "app.py").write_text("pass\n")
    result, _, _ = run(
        backend,
        "import os\nfor r, d, f in os.walk('/workspace'):\n    print(r, sorted(d), sorted(f))\n"
        "try:\n    print(open('/workspace/.git/config').read())\nexcept OSError as e:\n"
        "    print('error', e.errno)\n",
        workspace=ws,
        exclude=EXCLUDE,
    )
    assert ENV_SECRET not in result.stdout
    assert "app.py" in result.stdout


def test_a_printed_secret_is_redacted_in_findings_json_sarif_and_the_audit_log(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    # Built at run time, so the static secret check cannot see it: only the run's output holds it.
    (ws / "leak.py").write_text(
        textwrap.dedent("""
        key = "AKIA" + "IOSFODNN7" + "EXAMPLE"
        print("the key is", key)
        print("API_SECRET=" + "q8Zr" + "T2vLx9Wm4Kp7")
        raise SystemExit("failing with " + key)
    """)
    )
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["SANDGATE_MANAGED_POLICY"] = str(tmp_path / "none.toml")
    (tmp_path / "none.toml").write_text("version = 1\n")
    outputs = []
    for fmt in ("json", "sarif", "text"):
        done = subprocess.run(
            [sys.executable, "-m", "sandgate", "vet", "--format", fmt, "--backend", "bwrap", "leak.py"],
            cwd=ws,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        outputs.append(done.stdout + done.stderr)
    data = json.loads(outputs[0])
    [result] = data["results"] if isinstance(data, dict) else data
    assert any(f["rule"] == "run.error" for f in result["findings"]), result["findings"]
    audit = (ws / ".sandgate" / "audit.jsonl").read_text()
    exported = subprocess.run(
        [sys.executable, "-m", "sandgate", "audit", "export", "--format", "sarif"],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert exported.returncode == 0 and '"runs"' in exported.stdout, exported.stderr
    for text in (*outputs, audit, exported.stdout):
        assert KEY not in text and "q8ZrT2vLx9Wm4Kp7" not in text
    assert "<redacted:aws-access-key>" in json.dumps(result["findings"])


@pytest.mark.parametrize("name", ["docker", "bwrap"])
def test_a_secret_file_created_after_a_sandbox_was_pooled_is_hidden_once_that_sandbox_ages_out(name):
    from sandgate.sandbox.base import RunRequest
    from sandgate.sandbox.bwrap_backend import BwrapBackend
    from sandgate.sandbox.docker_backend import DockerBackend

    top = Path(tempfile.mkdtemp(prefix="sg-ws-test-", dir="/tmp"))
    top.chmod(0o755)
    ws = top / "proj"
    ws.mkdir(mode=0o755)
    (ws / "app.py").write_text("pass\n")
    backend = DockerBackend(pool_size=1) if name == "docker" else BwrapBackend(pool_size=1)
    backend.pool.max_age_s = 1.0
    request = RunRequest(code="import os\nprint(os.path.getsize('/workspace/.env'))\n", workspace=ws, exclude=EXCLUDE)
    try:
        backend.warm(request)
        import time

        deadline = time.monotonic() + 30
        while not backend.pool.idle() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backend.pool.idle(), "the pool never filled"
        (ws / ".env").write_text(f"API_KEY={ENV_SECRET}\n")  # after the pooled sandbox was made
        time.sleep(2.5)  # it ages out and is replaced by one made now
        result = backend.run(request)
        assert result.stdout == "0\n", (result.stdout, result.stderr[-300:])  # covered by an empty file
    finally:
        backend.close()
        shutil.rmtree(top, ignore_errors=True)


def test_a_copied_workspace_never_carries_set_id_bits(backend, tmp_path):
    # A private workspace is copied by Sandgate (root here) into a folder the sandbox user can pass
    # through: a user's set-id file copied with its bits would be a set-id file of root's, which a
    # local user who read its path (from bubblewrap's arguments) could run.
    ws = tmp_path / "proj"
    ws.mkdir()
    ws.chmod(0o700)
    for name, mode in (("tool", 0o4755), ("group-tool", 0o2750), ("plain.py", 0o644)):
        (ws / name).write_text("#!/bin/sh\nid\n")
        (ws / name).chmod(mode)
    result, _, _ = run(
        backend,
        "import os\nfor n in sorted(os.listdir('/workspace')):\n"
        "    print(n, oct(os.stat('/workspace/' + n).st_mode & 0o7777))\n",
        workspace=ws,
        exclude=EXCLUDE,
    )
    assert result.exit_code == 0, result.stderr
    modes = dict(line.split() for line in result.stdout.splitlines())
    assert modes == {"group-tool": "0o750", "plain.py": "0o644", "tool": "0o755"}, result.stdout


def test_both_ways_of_copying_a_view_hold_the_same_files_read_the_same_way(tmp_path):
    # The Docker copy (packed, then unpacked in the container) and the bubblewrap one (copy_into)
    # read the view once, the same way: a file replaced by a link or grown past the limit since the
    # walk is left out, one made private since keeps its new bits, and no set-id bit survives.
    from sandgate.sandbox import workspace_view

    ws = tmp_path / "proj"
    (ws / "pkg").mkdir(parents=True)
    (ws / "app.py").write_text("A = 1\n")
    (ws / "pkg" / "mod.py").write_text("B = 2\n")
    (ws / "swapped.py").write_text("C = 3\n")
    (ws / "grown.py").write_text("D = 4\n")
    (ws / "setid").write_text("x\n")
    (ws / "setid").chmod(0o6755)
    (tmp_path / "outside.txt").write_text(ENV_SECRET)
    view = workspace_view.plan(str(ws), EXCLUDE)
    # Changed after the walk, before the copy.
    (ws / "app.py").chmod(0o600)
    (ws / "swapped.py").unlink()
    (ws / "swapped.py").symlink_to(tmp_path / "outside.txt")
    (ws / "grown.py").write_bytes(b"#" * (workspace_view.MAX_FILE + 1))

    target = tmp_path / "copy"
    target.mkdir()
    workspace_view.copy_into(view, str(target))
    copied = {str(p.relative_to(target)): (_mode(p), p.read_bytes()) for p in sorted(target.rglob("*")) if p.is_file()}
    index_line, bodies = workspace_view.packed(view).split(b"\n", 1)
    packed, at = {}, 0
    for rel, mode, size in json.loads(index_line):
        packed[rel] = (mode, bodies[at : at + size])
        at += size
    assert copied == packed
    assert copied == {
        "app.py": (0o600, b"A = 1\n"),
        "pkg/mod.py": (0o644, b"B = 2\n"),
        "setid": (0o755, b"x\n"),
    }


def _mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o7777
