"""Unit tests of the pure parts: conversions, the suggestion store, the fix comparison."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from lsprotocol import types

from sandgate.findings import Finding, Level, Origin, Verdict
from sandgate.lsp import convert
from sandgate.lsp.fix import compare_fix
from sandgate.lsp.state import ApprovalRefused, Held, SuggestionStore, new_token, sha256_text

B602 = Finding("bandit", "B602", Level.HIGH, Level.HIGH, "shell=True", line=2, end_line=2, col=4, end_col=20, cwe=78,
               more_info="https://bandit.readthedocs.io/b602.html")


def test_finding_diagnostic():
    (diag,) = convert.findings_to_diagnostics([(B602, Verdict.BLOCK)], "x = 1\n    subprocess.call(c, shell=True)\n")
    assert diag.range == types.Range(start=types.Position(line=1, character=4), end=types.Position(line=1, character=20))
    assert diag.code == "B602" and diag.severity == types.DiagnosticSeverity.Error
    assert diag.code_description.href == "https://bandit.readthedocs.io/b602.html"
    assert "CWE-78" in diag.message and diag.data["rule"] == "B602" and diag.data["line"] == 2


def test_whole_line_range_when_no_columns():
    finding = Finding("secrets", "aws-access-key", Level.HIGH, Level.HIGH, "key", line=1)
    rng = convert.finding_range(finding, ["    key = 'x'"])
    assert (rng.start.character, rng.end.character) == (4, 13)
    assert convert.rule_href(finding).startswith("https://github.com/Yelp/detect-secrets")


def test_suppress_text():
    assert convert.suppress_edit_text("x = f()  ", "B602") == (7, "  # nosec B602")
    assert convert.suppress_edit_text("x = f()  # nosec B404", "B602") == (21, ", B602")
    assert convert.suppress_edit_text("x = f()  # nosec B602", "B602") == (21, "")


def test_review_edit_with_and_without_annotations():
    annotated = convert.review_edit("file:///a.py", 3, 1, 4, "x", "label", "why", annotations=True)
    (change,) = annotated.document_changes
    assert change.text_document.version == 3 and change.edits[0].annotation_id == convert.REVIEW_ANNOTATION
    assert annotated.change_annotations[convert.REVIEW_ANNOTATION].needs_confirmation is True
    plain = convert.review_edit("file:///a.py", 3, 1, 4, "x", "label", "why", annotations=False)
    assert plain.change_annotations is None and plain.changes["file:///a.py"][0].new_text == "x"


def test_paths_and_endpoints():
    assert convert.path_excluded(".env", ["**/.env"]) and convert.path_excluded("a/b/.env", ["**/.env"])
    assert not convert.path_excluded("env.py", ["**/.env"])
    assert convert.endpoint_allowed("http://127.0.0.1:8080/v1/chat/completions", ["http://127.0.0.1:*"])
    assert not convert.endpoint_allowed("https://evil.example.com/v1/chat/completions", ["https://api.openai.com/*"])
    assert convert.end_of_insertion(2, 4, "a\nbc") == (3, 2) and convert.end_of_insertion(2, 4, "ab") == (2, 6)


def held(text: str = "x = 1", digest: str = "d1") -> Held:
    return Held(new_token(), "file:///a.py", 0, 0, 0, 0, text, Verdict.REVIEW, [], [], sha256_text(text), digest)


def test_store_approval_rules():
    store = SuggestionStore()
    record = held()
    store.hold(record)
    with pytest.raises(ApprovalRefused) as info:
        store.approve(record.token, "x = 2", "d1")
    assert info.value.reason == "altered"
    with pytest.raises(ApprovalRefused) as info:
        store.approve("made-up", "x = 1", "d1")
    assert info.value.reason == "stale"
    assert store.approve(record.token, "x = 1", "d1") is record
    with pytest.raises(ApprovalRefused) as info:
        store.approve(record.token, "x = 1", "d1")
    assert info.value.reason == "replayed"
    other = held()
    store.hold(other)
    with pytest.raises(ApprovalRefused) as info:
        store.approve(other.token, "x = 1", "d2")
    assert info.value.reason == "policy-changed" and store.get(other.token) is None


def test_store_expiry_and_cap():
    store = SuggestionStore(ttl_s=0)
    record = held()
    store.hold(record)
    with pytest.raises(ApprovalRefused, match="expired"):
        store.approve(record.token, "x = 1", "d1")
    store = SuggestionStore()
    records = [held(f"x = {i}") for i in range(7)]
    for r in records:
        store.hold(r)
    assert [h.token for h in store.held_for("file:///a.py")] == [r.token for r in records[-5:]]


@dataclass
class Run:
    exit_code: int = 0
    timed_out: bool = False
    killed: str | None = None
    error: str | None = None
    backend: str = "bwrap"


@dataclass
class Vet:
    findings: list[Finding]
    verdict: Verdict = Verdict.ALLOW
    sandbox: Any = field(default_factory=Run)


def finding(rule: str, origin: Origin = Origin.SUGGESTION) -> Finding:
    return Finding("bandit", rule, Level.HIGH, Level.HIGH, rule, line=1, origin=origin)


def test_compare_fix():
    before = Vet([finding("B602"), finding("B404", Origin.DOCUMENT)], Verdict.REVIEW)
    assert compare_fix(before, Vet([finding("B404", Origin.DOCUMENT)]), "bandit:B602").ok
    still = compare_fix(before, Vet([finding("B602")]), "bandit:B602")
    assert not still.ok and "still there" in still.message
    new = compare_fix(before, Vet([finding("B603")]), "bandit:B602")
    assert not new.ok and "B603" in new.message
    worse = compare_fix(before, Vet([], sandbox=Run(exit_code=1)), "bandit:B602")
    assert not worse.ok and "failing exit" in worse.message
    blocked = compare_fix(before, Vet([], Verdict.BLOCK), "bandit:B602")
    assert not blocked.ok
