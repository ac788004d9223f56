"""Comments that turn a check off for a line (`# nosec`, `# pragma: allowlist secret`) count on the
user's own lines only, never on a line a suggestion adds or changes: labelled suggestions placed in
documents and vetted as `sandgate vet --into` vets them (balanced, static checks), and the command
itself once. A comment no check reads (`# noqa`, `// eslint-disable-line`...) changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from sandgate.findings import Origin, Verdict
from sandgate.pipeline import Vetter
from sandgate.suggestion import Suggestion, place

from .conftest import STATIC_POLICY, load_static

APP = """import hashlib
from flask import Flask

app = Flask(__name__)


def digest(data):
    return hashlib.sha256(data).hexdigest()

"""
# The user's own code with a finding bandit rates HIGH (B201), and the same vouched for.
USER_LINE = 'app.run(host="127.0.0.1", debug=True)'
OWN = APP + USER_LINE + "\n"
OWN_NOSEC = APP + USER_LINE + "  # nosec\n"
END = APP.count("\n")  # 0-based: the empty last line of APP, the user's line of OWN
BLANK = END - 1  # a blank line above it
RETURN = (7, len("    return "))  # in `digest`, before `hashlib.sha256(...)`


@dataclass(frozen=True)
class Case:
    id: str
    document: str
    at: tuple[int, int]  # 0-based line, character, as `Suggestion` takes it
    text: str
    decision: Verdict
    # bandit's findings of the suggestion (origin suggestion), and of the user's code left reported.
    blamed: frozenset[str] = frozenset()
    existing: frozenset[str] = frozenset()
    # The end of the range the suggestion replaces (None: inserted at `at`).
    end: tuple[int, int] | None = None


CASES = [
    # A suggestion cannot vouch for itself: its `# nosec` is read as any other text.
    Case("flask-debug", APP, (END, 0), 'app.run(host="127.0.0.1", debug=True)\n', Verdict.BLOCK, frozenset({"B201"})),
    Case("flask-debug-nosec", APP, (END, 0), "app.run(debug=True)  # nosec\n", Verdict.BLOCK, frozenset({"B201"})),
    Case(
        "flask-debug-nosec-id", APP, (END, 0), "app.run(debug=True)  # nosec B201\n", Verdict.BLOCK, frozenset({"B201"})
    ),
    Case(
        "flask-debug-nosec-name",
        APP,
        (END, 0),
        "app.run(debug=True)  # nosec: flask_debug_true\n",
        Verdict.BLOCK,
        frozenset({"B201"}),
    ),
    Case(
        "bind-all-nosec-no-newline",
        APP,
        (END, 0),
        'app.run(host="0.0.0.0", debug=True)  # nosec',
        Verdict.BLOCK,
        frozenset({"B201", "B104"}),
    ),
    Case(
        "md5-nosec",
        APP,
        (END, 0),
        "def weak(data):\n    return hashlib.md5(data).hexdigest()  # nosec\n",
        Verdict.BLOCK,
        frozenset({"B324"}),
    ),
    Case(
        "md5-nosec-replacing",
        APP,
        RETURN,
        "hashlib.md5(data).hexdigest()  # nosec",
        Verdict.BLOCK,
        frozenset({"B324"}),
        end=(7, len("    return hashlib.sha256(data).hexdigest()")),
    ),
    Case("telnetlib-nosec", APP, (END, 0), "import telnetlib  # nosec\n", Verdict.BLOCK, frozenset({"B401"})),
    # `# nosec` on a later line of the suggestion's multi-line call: bandit reads it for the call.
    Case(
        "nosec-inside-a-call",
        APP,
        (END, 0),
        "app.run(\n    debug=True,  # nosec\n)\n",
        Verdict.BLOCK,
        frozenset({"B201"}),
    ),
    # The suggestion appends the comment to the end of the user's own line: that line is the
    # suggestion's too, and the finding on it now decides.
    Case("nosec-appended-to-users-line", OWN, (END, len(USER_LINE)), "  # nosec", Verdict.BLOCK, frozenset({"B201"})),
    Case(
        "nosec-id-appended-to-users-line",
        OWN,
        (END, len(USER_LINE)),
        "  # nosec B201",
        Verdict.BLOCK,
        frozenset({"B201"}),
    ),
    # A line the suggestion only prefixes is changed by it all the same.
    Case("user-line-prefixed", OWN_NOSEC, (END, 0), "x = 1; ", Verdict.BLOCK, frozenset({"B201"})),
    # Whole lines inserted above the user's line (the text ends with a line break at its start):
    # no character of the suggestion is on it, so it stays the user's, `# nosec` and all.
    Case("full-line-above-users-nosec", OWN_NOSEC, (END, 0), "x = 1\n", Verdict.ALLOW),
    Case("full-line-above-users-finding", OWN, (END, 0), "x = 1\n", Verdict.ALLOW, existing=frozenset({"B201"})),
    # ...but a replacement that ends inside the user's line changes it.
    Case(
        "replacement-ending-inside-users-line",
        OWN_NOSEC,
        (END - 1, 0),
        "\nx = 1; ",
        Verdict.BLOCK,
        frozenset({"B201"}),
        end=(END, 0),
    ),
    # The user's own `# nosec` stands on their line: the finding is not reported at all.
    Case("users-own-nosec", OWN_NOSEC, (BLANK, 0), "print(digest(b'x'))\n", Verdict.ALLOW),
    # Without it, the user's finding is reported as theirs ("existing"), never blamed on the suggestion.
    Case("users-own-finding", OWN, (BLANK, 0), "print(digest(b'x'))\n", Verdict.ALLOW, existing=frozenset({"B201"})),
    # The user's `# nosec` names another test: this one stands (as bandit reads it).
    Case(
        "users-nosec-for-another-test",
        OWN.replace("debug=True)\n", "debug=True)  # nosec B101\n"),
        (BLANK, 0),
        "print(digest(b'x'))\n",
        Verdict.ALLOW,
        existing=frozenset({"B201"}),
    ),
    # "# nosec" in a string is no comment.
    Case(
        "nosec-in-a-users-string",
        OWN.replace("debug=True)\n", 'debug=True); note = "# nosec"\n'),
        (BLANK, 0),
        "print(digest(b'x'))\n",
        Verdict.ALLOW,
        existing=frozenset({"B201"}),
    ),
]


def _place(case: Case) -> dict:
    end_line, end_character = case.end if case.end else (None, None)
    return {
        "document": case.document,
        "line": case.at[0],
        "character": case.at[1],
        "end_line": end_line,
        "end_character": end_character,
        "path": "app.py",
    }


@pytest.fixture
def vetter(static_workspace) -> Vetter:
    return Vetter(load_static(static_workspace), workspace=static_workspace)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_nosec_counts_on_the_users_lines_only(vetter, case):
    result = vetter.vet(Suggestion(case.text, **_place(case)))
    bandit = [f for f in result.findings if f.source == "bandit"]
    assert {f.rule for f in bandit if f.origin is Origin.SUGGESTION} == case.blamed
    assert {f.rule for f in bandit if f.origin is Origin.DOCUMENT} == case.existing
    assert result.verdict is case.decision


def test_the_same_suggestions_without_their_nosec_decide_the_same(vetter):
    """`# nosec` in a suggestion changes nothing at all: same findings, same decision."""
    for case in CASES:
        if case.blamed and "nosec" in case.text:
            marked = vetter.vet(Suggestion(case.text, **_place(case)))
            plain = vetter.vet(Suggestion(case.text.replace("  # nosec", "  # ", 1), **_place(case)))
            assert marked.verdict is plain.verdict, case.id
            assert {f.key for f in marked.findings if f.origin is Origin.SUGGESTION} >= {
                f.key for f in plain.findings if f.origin is Origin.SUGGESTION and f.source == "bandit"
            }, case.id


def test_the_users_document_diagnostics_honour_their_nosec(vetter):
    assert "B201" in {f.rule for f in vetter.check_document(OWN, "app.py")}
    assert "B201" not in {f.rule for f in vetter.check_document(OWN_NOSEC, "app.py")}
    other = OWN.replace("debug=True)\n", "debug=True)  # nosec B104\n")
    assert "B201" in {f.rule for f in vetter.check_document(other, "app.py")}


# Comments other tools read as "skip this line": no check of Sandgate's reads them, in the user's code
# or in a suggestion, so a suggestion carrying one is decided as without it.
PY_RISKY = 'import os\nos.system("make clean")'
JS_RISKY = "const cp = require('child_process');\ncp.exec('make ' + process.argv[2]);"
PY_COMMENTS = ["# noqa", "# noqa: S605", "# sandgate: ignore", "# type: ignore", "# pragma: no cover", "# nosec"]
JS_COMMENTS = [
    "// nosec",
    "// eslint-disable-line",
    "// eslint-disable-line security/detect-child-process",
    "/* sandgate: ignore */",
    "// @ts-ignore",
    "// pragma: allowlist secret",
]


@pytest.mark.parametrize("comment", PY_COMMENTS)
def test_other_skip_comments_in_a_python_suggestion_change_nothing(vetter, comment):
    plain = vetter.vet(Suggestion(PY_RISKY + "\n", path="tool.py"))
    marked = vetter.vet(Suggestion(f"{PY_RISKY}  {comment}\n", path="tool.py"))
    assert plain.verdict is not Verdict.ALLOW
    assert marked.verdict is plain.verdict
    assert {f.key for f in marked.findings} >= {f.key for f in plain.findings if f.source != "syntax"}


@pytest.mark.parametrize("comment", JS_COMMENTS)
def test_skip_comments_in_a_javascript_suggestion_change_nothing(vetter, comment):
    plain = vetter.vet(Suggestion(JS_RISKY + "\n", path="tool.js"))
    marked = vetter.vet(Suggestion(f"{JS_RISKY} {comment}\n", path="tool.js"))
    disabled = vetter.vet(Suggestion(f"/* eslint-disable */\n{JS_RISKY}\n", path="tool.js"))
    assert plain.verdict is not Verdict.ALLOW
    assert marked.verdict is plain.verdict and disabled.verdict is plain.verdict
    assert {f.rule for f in marked.findings} >= {f.rule for f in plain.findings if f.source == "pack"}


def test_a_javascript_suggestion_cannot_vouch_for_its_secret(vetter):
    text = 'const key = "AKIAZ3MSJV7WQLPX4TQB"; // pragma: allowlist secret\n'
    result = vetter.vet(Suggestion(text, path="keys.js"))
    assert result.verdict is Verdict.BLOCK and "aws-access-key" in {f.rule for f in result.findings}
    own = vetter.check_document(text, "keys.js")
    assert "aws-access-key" not in {f.rule for f in own}


def test_vet_into_blocks_a_suggestion_that_says_nosec(static_workspace):
    """The reviewer's steps: `sandgate vet --into prag.py --at LINE:COL f.txt`."""
    (static_workspace / "prag.py").write_text(APP)
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    for text in (
        'app.run(host="0.0.0.0", debug=True)  # nosec\n',
        'app.run(host="0.0.0.0", debug=True)  # nosec B201\n',
    ):
        (static_workspace / "f.txt").write_text(text)
        done = subprocess.run(
            [sys.executable, "-m", "sandgate", "vet", "--policy", STATIC_POLICY, "--format", "json", "--no-audit"]
            + ["--into", "prag.py", "--at", f"{END + 1}:1", "f.txt"],
            cwd=static_workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        (result,) = json.loads(done.stdout)["results"]
        assert result["decision"] == "block", done.stderr
        assert {(f["rule"], f["decision"]) for f in result["findings"] if f["source"] == "bandit"} >= {
            ("B201", "block")
        }


def test_the_suggestions_lines_are_those_its_text_touches():
    document = "a = 1\nb = 2\nc = 3\n"
    inserted = place(Suggestion("x = 1\ny = 2\n", document=document, line=1, character=0))
    assert (inserted.first_line, inserted.last_line, inserted.shift) == (2, 3, 2)
    assert inserted.code.split("\n")[3] == "b = 2" and inserted.document_line(4) == 2
    assert not inserted.in_suggestion(4, 4)
    appended = place(Suggestion("  # nosec", document=document, line=1, character=5))
    assert (appended.first_line, appended.last_line) == (2, 2) and appended.in_suggestion(2, 2)
    mid_line = place(Suggestion("x = 1\n", document=document, line=1, character=2))  # "b " + x = 1 + "= 2"
    assert (mid_line.first_line, mid_line.last_line) == (2, 3)
    whole_lines = place(Suggestion("p\nq\n", document=document, line=0, character=0, end_line=2, end_character=0))
    assert (whole_lines.first_line, whole_lines.last_line, whole_lines.shift) == (1, 2, 0)
    assert whole_lines.code == "p\nq\nc = 3\n"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x0c", "\x0b", "\x1c", "\x85"])
def test_characters_str_splitlines_breaks_at_cannot_move_a_secret_out_of_the_suggestion(vetter, separator):
    """Secrets are numbered as every other finding is (only \\r\\n, \\r and \\n end a line): a suggestion
    cannot push its secret's line number past its own lines, where it would count as the user's."""
    text = f"# note {separator * 8}\nKEY = 'AKIAZ3MSJV7WQLPX4TQB'\n"
    result = vetter.vet(Suggestion(text, **_place(Case("x", APP, (1, 0), "", Verdict.BLOCK))))
    (secret,) = [f for f in result.findings if f.rule == "aws-access-key"]
    assert secret.origin is Origin.SUGGESTION and secret.line == 3
    assert result.verdict is Verdict.BLOCK


def test_redaction_finds_a_secret_after_such_characters():
    from sandgate.checks.redaction import redact_context

    redacted, count = redact_context("# note \u2028\u2028\nKEY = 'AKIAZ3MSJV7WQLPX4TQB'\n")
    assert "AKIAZ3MSJV7WQLPX4TQB" not in redacted and count == 1


def test_the_users_secret_pragma_is_read_as_detect_secrets_reads_it(vetter):
    for pragma in ("# pragma: allowlist secret", "# PRAGMA: Allowlist-Secret", "// pragma: allowlist secret"):
        vouched = f'KEY = "AKIAZ3MSJV7WQLPX4TQB"  {pragma}\n'
        assert "aws-access-key" not in {f.rule for f in vetter.check_document(vouched, "keys.py")}, pragma
