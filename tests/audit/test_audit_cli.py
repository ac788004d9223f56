"""`sandgate audit verify|show|export` through the parser the CLI registers."""

from __future__ import annotations

import json
from datetime import UTC

import jsonschema

from sandgate.audit import AuditLog


def _log(tmp_path, decision_record, clock_days=(1, 2, 3, 4)):
    from datetime import datetime

    path = tmp_path / ".sandgate" / "audit.jsonl"
    times = iter(datetime(2025, 3, day, 12, 0, tzinfo=UTC) for day in clock_days)
    log = AuditLog(path, clock=lambda: next(times))
    log.append(decision_record(1, "review", file="src/a.py"))
    log.append(decision_record(2, "block", file="src/b.py"))
    log.append(decision_record(3, "allow", file="tests/test_a.py"))
    log.append(decision_record(4, "review", file="src/c.py"))
    return path


def test_verify_ok_and_failure(tmp_path, decision_record, run_cli):
    path = _log(tmp_path, decision_record)
    code, out, _ = run_cli("audit", "verify", str(path))
    assert code == 0 and out.startswith("ok: 4 records verified")

    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + lines[1].replace(b'"block"', b'"allow"') + b"".join(lines[2:]))
    code, out, _ = run_cli("audit", "verify", str(path))
    assert code == 1 and out.startswith("FAILED: record 2 (audit.jsonl:2)")

    code, out, _ = run_cli("audit", "verify", "--json", str(path))
    assert code == 1 and json.loads(out)["first_bad"] == 2


def test_verify_defaults_to_the_workspace_log(tmp_path, decision_record, run_cli, monkeypatch):
    _log(tmp_path, decision_record)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli("audit", "verify")
    assert code == 0 and "4 records" in out


def test_show_filters(tmp_path, decision_record, run_cli):
    path = _log(tmp_path, decision_record)

    def seqs(*args):
        code, out, _ = run_cli("audit", "show", "--json", *args, str(path))
        assert code == 0
        return [json.loads(line)["seq"] for line in out.splitlines()]

    assert seqs() == [1, 2, 3, 4]
    assert seqs("--decision", "review") == [1, 4]
    assert seqs("--file", "src/*") == [1, 2, 4]
    assert seqs("--since", "2025-03-02T12:00:00Z") == [2, 3, 4]
    assert seqs("--since", "2025-03-03") == [3, 4]
    assert seqs("--decision", "review", "--file", "src/*", "--since", "2025-03-02") == [4]

    code, out, _ = run_cli("audit", "show", "--decision", "block", str(path))
    assert code == 0 and len(out.splitlines()) == 1 and "src/b.py" in out and "block" in out

    code, _, err = run_cli("audit", "show", "--since", "yesterday", str(path))
    assert code == 2 and "--since" in err


def test_show_warns_on_a_broken_chain(tmp_path, decision_record, run_cli):
    path = _log(tmp_path, decision_record)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2] + lines[3:]))
    code, out, err = run_cli("audit", "show", str(path))
    assert code == 1 and "broken" in err and len(out.splitlines()) == 3


def test_export_sarif_and_json(tmp_path, decision_record, run_cli, sarif_schema):
    path = _log(tmp_path, decision_record)
    code, out, _ = run_cli("audit", "export", "--format", "sarif", str(path))
    assert code == 0
    sarif = json.loads(out)
    jsonschema.Draft4Validator(sarif_schema).validate(sarif)
    assert len(sarif["runs"][0]["results"]) == 3  # review, block, review each carry one finding
    assert sarif["runs"][0]["properties"]["auditVerification"]["ok"] is True

    target = tmp_path / "out.json"
    code, out, _ = run_cli("audit", "export", "--format", "json", "-o", str(target), str(path))
    assert code == 0 and out == ""
    exported = json.loads(target.read_text())
    assert exported["verification"]["records"] == 4 and [r["seq"] for r in exported["records"]] == [1, 2, 3, 4]


def test_show_escapes_what_a_record_says_before_the_terminal_sees_it(tmp_path, decision_record, run_cli):
    # A record's file and model are anyone's text: a name with an escape sequence must not rewrite
    # the line to read "allow" on the terminal.
    path = tmp_path / ".sandgate" / "audit.jsonl"
    log = AuditLog(path)
    log.append(decision_record(1, "block", file="a\x1b[2K\x1b[1Gallow   b.py", model="m\u202eodel\r"))
    code, out, _ = run_cli("audit", "show", str(path))
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out and "\r" not in out
    assert "a\\x1b[2K\\x1b[1Gallow   b.py" in out and "model=m\\u202eodel\\x0d" in out
    code, out, _ = run_cli("audit", "show", "--json", str(path))
    assert code == 0 and "\x1b" not in out and "\\u001b[2K" in out  # JSON escapes by its own rules


def test_show_refuses_an_event_no_record_has_and_names_the_closest(tmp_path, decision_record, run_cli):
    path = _log(tmp_path, decision_record)
    code, out, err = run_cli("audit", "show", "--event", "nonsense", str(path))
    assert code == 2 and out == ""
    assert "--event: no record has the event 'nonsense'" in err and "decision, approval" in err
    code, out, err = run_cli("audit", "show", "--event", "aproval", str(path))
    assert code == 2 and "did you mean 'approval'?" in err
    code, out, _ = run_cli("audit", "show", "--json", "--event", "decision", str(path))
    assert code == 0 and len(out.splitlines()) == 4
    code, out, _ = run_cli("audit", "show", "--event", "approval", str(path))
    assert code == 0 and out == ""  # a known event no record has yet: nothing, as asked


def test_the_event_kinds_are_the_ones_the_docs_list_and_the_code_writes():
    import re
    from pathlib import Path

    from sandgate.audit.query import EVENT_KINDS

    repo = Path(__file__).resolve().parents[2]
    row = next(line for line in (repo / "docs/audit.md").read_text().splitlines() if line.startswith("| `event` |"))
    assert [kind for kind in EVENT_KINDS if f"`{kind}`" not in row] == []
    written = set()
    for source in (repo / "server/sandgate").rglob("*.py"):
        written |= set(re.findall(r'"event": "([a-z-]+)"', source.read_text()))
        written |= set(re.findall(r'outcome_record\(\s*"([a-z-]+)"', source.read_text()))
    assert written <= set(EVENT_KINDS), written - set(EVENT_KINDS)
