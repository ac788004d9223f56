"""The quick bandit walk (`bandit_check._QuickVisitor`) finds exactly what bandit's own file pass
finds (both with `# nosec` ignored: `checks.vouching` honours it where the user wrote it): same tests, same issues, same lines, columns, texts and ratings, in the
same order. Compared on code that makes bandit report much (the security pack's corpus, the exec-rules
corpus, the static benchmark's suggestions) and on standard-library modules (every node type)."""

from __future__ import annotations

import ast
import sys
import sysconfig
import tomllib
from pathlib import Path

from bench.static_checks import SIZES, suggestion

from sandgate.checks.bandit_check import BanditChecker
from tests.core.placed_cases import place

REPO = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Modules with many node kinds and many bandit findings (subprocess, pickle, tempfile, SQL, XML...).
STDLIB_MODULES = [
    "subprocess.py",
    "tempfile.py",
    "pickle.py",
    "shutil.py",
    "ssl.py",
    "urllib/request.py",
    "http/server.py",
    "xml/dom/minidom.py",
    "sqlite3/dump.py",
    "asyncio/base_events.py",
    "dataclasses.py",
    "typing.py",
    "random.py",
    "smtplib.py",
    "ftplib.py",
    "telnetlib.py",
    "logging/config.py",
    "argparse.py",
    "zipfile.py",
    "tarfile.py",
]


def _sources() -> list[tuple[str, str]]:
    """(name, code): the benchmark's suggestions, every corpus case placed in its document, stdlib modules."""
    out = [(f"bench:{n}", suggestion(n)) for n in SIZES]
    # B613 (trojansource), which the quick walk skips where it cannot find anything: bidi characters
    # in a string and in a comment, and a coding cookie (its text is decoded as the cookie says).
    out += [
        ("bidi-string", 'access = "user\u202e \u2066# admin\u2069 \u2066"\n'),
        ("bidi-comment", "x = 1  # \u2067hidden\u2069\n"),
        ("cookie", "# -*- coding: latin-1 -*-\nname = 'caf\u00e9'\n"),
    ]
    for folder in ("tests/corpus/pack", "tests/corpus/exec_rules"):
        corpus = REPO / folder
        for case in tomllib.loads((corpus / "cases.toml").read_text(encoding="utf-8"))["case"]:
            out.append((f"{folder}:{case['id']}", place(case, corpus).inserted))
    out += [(f"stdlib:{m}", (STDLIB / m).read_text(encoding="utf-8")) for m in STDLIB_MODULES if (STDLIB / m).exists()]
    return out


def _issues(findings) -> list[tuple]:
    return [(f.rule, f.line, f.end_line, f.col, f.end_col, f.message, f.severity, f.confidence) for f in findings]


def test_quick_walk_finds_what_bandits_file_pass_finds():
    checker = BanditChecker()
    compared = reported = 0
    for name, text in _sources():
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        quick = _issues(checker.check(text, tree))  # the quick walk on the caller's tree
        reference = _issues(checker.check(text))  # bandit's own file pass (tokenize, parse, walk)
        assert quick == reference, name
        compared += 1
        reported += len(reference)
    # The comparison covers much code and many findings, or it proves little.
    print(f"compared {compared} sources, {reported} bandit issues")
    assert compared >= 100, compared
    assert reported >= 300, reported
    assert "B613" in {i[0] for name, text in _sources()[3:5] for i in _issues(checker.check(text, ast.parse(text)))}


def test_quick_walk_is_used_whenever_the_tree_is_handed_over(monkeypatch):
    """The quick walk is what runs when the caller hands its tree over (else the test above compares
    bandit's own pass with itself), `# nosec` in the code or not."""
    from sandgate.checks import bandit_check

    walked = []
    original = bandit_check._QuickVisitor.generic_visit

    def counting(self, node):
        walked.append(node)
        return original(self, node)

    monkeypatch.setattr(bandit_check._QuickVisitor, "generic_visit", counting)
    code = suggestion(10)
    BanditChecker().check(code, ast.parse(code))
    assert walked
    walked.clear()
    BanditChecker().check(code + "# nosec\n", ast.parse(code + "# nosec\n"))
    assert walked
    walked.clear()
    BanditChecker().check(code)
    assert not walked


def test_quick_walk_goes_as_deep_as_bandits_own():
    """Deeply nested code (a long chain of `+`): bandit's own pass walks it, so the quick walk must
    too (a walk with more frames per level would fail it: a held suggestion for no reason)."""
    depth = int(sys.getrecursionlimit() * 0.6)
    code = "import subprocess\nx = " + " + ".join(["1"] * depth) + "\nsubprocess.call(str(x), shell=True)\n"
    checker = BanditChecker()
    reference = _issues(checker.check(code))
    assert "B602" in {i[0] for i in reference}
    assert _issues(checker.check(code, ast.parse(code))) == reference


def test_neither_walk_honours_nosec():
    code = "import subprocess\nsubprocess.call('ls', shell=True)  # nosec\n"
    checker = BanditChecker()
    assert [f.rule for f in checker.check(code, ast.parse(code))] == ["B404", "B607", "B602"]
    assert [f.rule for f in checker.check(code)] == ["B404", "B607", "B602"]
