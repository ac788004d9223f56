"""Unit tests of the pure parts: conversions, the suggestion store, the fix comparison."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from lsprotocol import types

from sandgate.findings import Finding, Level, Origin, Verdict
from sandgate.lsp import convert
from sandgate.lsp.anchors import anchor_in
from sandgate.lsp.flows.fix_check import compare_fix
from sandgate.lsp.ledger import ApprovalRefused, Held, Ledger
from sandgate.suggestion import sha256_text

B602 = Finding(
    "bandit",
    "B602",
    Level.HIGH,
    Level.HIGH,
    "shell=True",
    line=2,
    end_line=2,
    col=4,
    end_col=20,
    cwe=78,
    more_info="https://bandit.readthedocs.io/b602.html",
)


def test_finding_diagnostic():
    (diag,) = convert.findings_to_diagnostics([(B602, Verdict.BLOCK)], "x = 1\n    subprocess.call(c, shell=True)\n")
    assert diag.range == types.Range(
        start=types.Position(line=1, character=4), end=types.Position(line=1, character=20)
    )
    assert diag.code == "B602" and diag.severity == types.DiagnosticSeverity.Error
    assert diag.code_description.href == "https://bandit.readthedocs.io/b602.html"
    assert "CWE-78" in diag.message and diag.data["rule"] == "B602" and diag.data["line"] == 2


def test_a_pack_finding_shows_its_fix_and_gives_it_to_fix_with_ai():
    from sandgate.lsp.flows.fix import problem

    f = Finding(
        "pack",
        "sql.injection",
        Level.HIGH,
        Level.HIGH,
        "outside data in an SQL statement: request.args reaches db.execute",
        line=4,
        cwe=89,
        fix="Pass values as query parameters.",
    )
    d = convert.finding_diagnostic(f, Verdict.BLOCK, ["", "", "", "db.execute(q)"])
    assert d.message.endswith(". Fix: Pass values as query parameters.")
    assert d.data["fix"] == "Pass values as query parameters."
    assert problem(f) == (
        "sql.injection: outside data in an SQL statement: request.args reaches db.execute. "
        "How to fix it: Pass values as query parameters."
    )
    plain = Finding("bandit", "B101", Level.LOW, Level.HIGH, "assert used")
    assert problem(plain) == "B101: assert used" and "Fix:" not in convert.finding_message(plain)


def test_whole_line_range_when_no_columns():
    finding = Finding("secrets", "aws-access-key", Level.HIGH, Level.HIGH, "key", line=1)
    rng = convert.finding_range(finding, ["    key = 'x'"])
    assert (rng.start.character, rng.end.character) == (4, 13)
    assert convert.rule_href(finding).startswith("https://github.com/Yelp/detect-secrets")


def test_suppress_text():
    assert convert.suppress_edit_text("x = f()  ", "B602") == (7, "  # nosec B602")
    assert convert.suppress_edit_text("x = f()  # nosec B404", "B602") == (21, ", B602")
    assert convert.suppress_edit_text("x = f()  # nosec B602", "B602") == (21, "")
    # A secret's pragma after the ids: the id goes before it.
    assert convert.suppress_edit_text("k = f()  # nosec B404  # pragma: allowlist secret", "B602") == (21, ", B602")
    assert convert.suppress_edit_text('k = "AKIA"  ', "aws-access-key", "secrets") == (
        10,
        "  # pragma: allowlist secret",
    )
    assert convert.suppress_edit_text('k = "AKIA"  # pragma: allowlist secret', "aws-access-key", "secrets") == (
        38,
        "",
    )


def test_confirmation_text_carries_the_code():
    assert convert.confirmation_text("Held for review: B602", "x = 1\ny = 2") == (
        "Held for review: B602\n\nIt writes:\nx = 1\ny = 2"
    )


def test_review_edit_with_and_without_annotations():
    at = types.Range(start=types.Position(line=1, character=4), end=types.Position(line=1, character=4))
    annotated = convert.review_edit("file:///a.py", 3, at, "x", "label", "why", annotations=True)
    (change,) = annotated.document_changes
    assert change.text_document.version == 3 and change.edits[0].annotation_id == convert.REVIEW_ANNOTATION
    assert annotated.change_annotations[convert.REVIEW_ANNOTATION].needs_confirmation is True
    plain = convert.review_edit("file:///a.py", 3, at, "x", "label", "why", annotations=False)
    assert plain.change_annotations is None and plain.changes["file:///a.py"][0].new_text == "x"


def held(text: str = "x = 1", digest: str = "d1") -> Held:
    nowhere = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    return Held(
        uri="file:///a.py",
        anchor=anchor_in("", 0, 0),
        range=nowhere,
        text=text,
        decision=Verdict.REVIEW,
        reasons=(),
        findings=(),
        sha256=sha256_text(text),
        policy_digest=digest,
    )


def test_store_approval_rules():
    store = Ledger()
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
    store = Ledger(ttl_s=0)
    record = held()
    store.hold(record)
    with pytest.raises(ApprovalRefused, match="expired"):
        store.approve(record.token, "x = 1", "d1")
    store = Ledger()
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
    allowed: tuple[str, ...] = ()  # rules the policy allows (the rest it holds)

    def finding_decision(self, finding: Finding) -> str:
        return "allow" if finding.rule in self.allowed else "review"


def finding(rule: str, origin: Origin = Origin.SUGGESTION) -> Finding:
    return Finding("bandit", rule, Level.HIGH, Level.HIGH, rule, line=1, origin=origin)


def test_compare_fix():
    before = Vet([finding("B602"), finding("B404", Origin.DOCUMENT)], Verdict.REVIEW)
    assert compare_fix(before, Vet([finding("B404", Origin.DOCUMENT)]), "bandit:B602").ok
    still = compare_fix(before, Vet([finding("B602")]), "bandit:B602")
    assert not still.ok and "still there" in still.message
    new = compare_fix(before, Vet([finding("B603")]), "bandit:B602")
    assert not new.ok and "B603" in new.message
    # A new finding the policy allows is no reason to refuse the fix.
    assert compare_fix(before, Vet([finding("B603")], allowed=("B603",)), "bandit:B602").ok
    worse = compare_fix(before, Vet([], sandbox=Run(exit_code=1)), "bandit:B602")
    assert not worse.ok and "failing exit" in worse.message
    blocked = compare_fix(before, Vet([], Verdict.BLOCK), "bandit:B602")
    assert not blocked.ok


def test_audit_sink_verifies_rotated_files_without_a_live_file(tmp_path):
    from sandgate.audit.log import AuditLog
    from sandgate.lsp.audit import AUDIT_RELPATH, AuditSink

    sink = AuditSink(tmp_path, "pytest")
    assert sink.verify()["ok"] is True  # truly nothing: ok, 0 records
    assert sink.decided_by.startswith("user:")
    log = AuditLog(tmp_path / AUDIT_RELPATH, max_bytes=300)
    for i in range(6):
        log.append({"event": "decision", "i": i, "pad": "x" * 120})
    assert (tmp_path / ".sandgate" / "audit.1.jsonl").exists()
    assert sink.verify()["ok"] is True
    (tmp_path / AUDIT_RELPATH).unlink()
    report = sink.verify()
    assert report["ok"] is False, report


def test_policy_events_name_digest_source_and_errors(tmp_path, monkeypatch):
    from sandgate.lsp.runtime import policy_events
    from sandgate.policy.load import load_effective

    monkeypatch.delenv("SANDGATE_MANAGED_POLICY", raising=False)  # no managed layer (unless /etc has one)
    (tmp_path / ".sandgate").mkdir()
    (tmp_path / ".sandgate" / "policy.toml").write_text('version = 1\nextends = "permissive"\n')
    loaded = load_effective(tmp_path)
    ((name, attributes),) = policy_events(loaded, tmp_path)
    assert name == "sandgate.policy.loaded"
    assert attributes == {
        "digest": loaded.digest,
        "source": "workspace",
        "path": ".sandgate/policy.toml",
        "preset": "permissive",
    }
    (tmp_path / ".sandgate" / "policy.toml").write_text('version = 1\n[decision]\ndefault = "maybe"\n')
    events = policy_events(load_effective(tmp_path), tmp_path)
    assert [e[0] for e in events] == ["sandgate.policy.loaded", "sandgate.policy.error"]
    assert events[1][1]["source"] == "workspace" and events[1][1]["path"] == ".sandgate/policy.toml"
    assert str(tmp_path) not in events[1][1]["message"]


def test_endpoint_address():
    from sandgate.lsp.flows.model_call import endpoint_address

    assert endpoint_address("http://127.0.0.1:8080/v1") == ("127.0.0.1", 8080)
    assert endpoint_address("https://api.openai.com/v1") == ("api.openai.com", 443)
    assert endpoint_address("http://[::1]:9/v1") == ("::1", 9)
    assert endpoint_address("http://h:99999/") == (None, None)


def test_status_context_note():
    assert convert.context_note("file:///a.py", "a.py", None, None, 0) is None
    note = convert.context_note("file:///.env", ".env", "no suggestions here", "**/.env", 0)
    assert note == {
        "uri": "file:///.env",
        "path": ".env",
        "message": "no suggestions here",
        "excludedBy": "**/.env",
        "redactions": 0,
    }
    assert (
        convert.status_payload(
            preset="strict",
            backend="none",
            pending=0,
            trusted=True,
            fail_closed=[],
            provider_configured=True,
            context=note,
        )["context"]
        == note
    )


def test_finished_notification_futures_are_dropped():
    # pygls files a future for each notification its generator handlers run and never removes
    # it (a leak per keystroke); the protocol drops finished ones, keeps those still running.
    from concurrent.futures import Future

    from sandgate.lsp.server import build_server

    protocol = build_server().protocol
    done, running = Future(), Future()
    done.set_result(None)
    protocol._request_futures.update({"a-notification": done, "a-request": running})
    protocol._handle_notification("$/sandgate-unknown", None)
    assert protocol._request_futures == {"a-request": running}
