"""The in-process checks on real bandit and real detect-secrets plugins."""

from __future__ import annotations

import ast
import threading

from sandgate.checks import secrets as secrets_mod
from sandgate.checks.bandit_check import BanditChecker
from sandgate.checks.code_rules import check_code_rules
from sandgate.checks.names import scan
from sandgate.checks.secrets import find_secrets, redact
from sandgate.findings import Level
from sandgate.policy.hosts import host_allowed
from sandgate.policy.model import CodePolicy, NetworkPolicy

RISKY = """import subprocess

def run(cmd):
    subprocess.call(cmd, shell=True)
"""


def test_bandit_reports_id_severity_confidence_cwe_and_exact_range():
    findings = {f.rule: f for f in BanditChecker().check(RISKY)}
    b602 = findings["B602"]
    assert (b602.severity, b602.confidence, b602.cwe) == (Level.HIGH, Level.HIGH, 78)
    assert (b602.line, b602.end_line, b602.col, b602.end_col) == (4, 4, 4, 36)
    assert b602.more_info.endswith("b602_subprocess_popen_with_shell_equals_true.html")
    assert findings["B404"].severity is Level.LOW


def test_bandit_reports_what_nosec_marks_and_keeps_no_state_between_runs():
    """`# nosec` is for `checks.vouching` to honour (on the user's own lines only): bandit reports all."""
    checker = BanditChecker()
    marked = RISKY.replace("shell=True)", "shell=True)  # nosec B602")
    assert {f.rule for f in checker.check(marked)} == {"B404", "B602"}
    assert {f.rule for f in checker.check(marked, ast.parse(marked))} == {"B404", "B602"}
    assert [f.rule for f in checker.check("x = 1\n")] == []
    assert {f.rule for f in checker.check(RISKY)} == {"B404", "B602"}


def test_bandit_redacts_hardcoded_passwords_in_messages():
    findings = BanditChecker().check('password = "Zq8!vR2#kLp9$wXt"\n')
    assert findings and findings[0].rule == "B105"
    assert "Zq8!vR2#kLp9$wXt" not in findings[0].message


def test_bandit_is_safe_from_several_threads():
    checker = BanditChecker()
    results: list[set[str]] = []

    def work():
        for _ in range(20):
            results.append({f.rule for f in checker.check(RISKY)})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [{"B404", "B602"}] * 80


def test_secrets_known_formats_and_named_high_entropy_values():
    code = "\n".join(
        [
            'aws = "AKIAIOSFODNN7EXAMPLE"',
            'gh = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"',
            'key = """-----BEGIN RSA PRIVATE KEY-----"""',
            'db_password = "Zq8!vR2#kLp9$wXt"',
            'settings = {"api_key": "sk-9fJ2kL0qPz7XwV3m"}',
            'password = "changeme"',  # placeholder: not a secret
            'token = "aaaaaaaaaaaaaaaa"',  # no entropy: not a secret
            'name = "Zq8!vR2#kLp9$wXt"',  # not a secret-sounding name
        ]
    )
    found = {(f.line, f.rule) for f in find_secrets(code)}
    assert found == {
        (1, "aws-access-key"),
        (2, "github-token"),
        (3, "private-key"),
        (4, "hardcoded-secret"),
        (5, "hardcoded-secret"),
    }


def test_secrets_never_appear_in_full():
    secret = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
    findings = find_secrets(f'token = "{secret}"')
    assert findings
    for f in findings:
        assert secret not in f.message and secret not in repr(f.details)
    assert redact(secret) == "ghp_…A5 (40 chars)"
    assert redact("short") == "*****"


def test_secrets_work_on_partial_code():
    assert [f.rule for f in find_secrets('client(api_key="AKIAIOSFODNN7EXAMPLE"')] == ["aws-access-key"]


def test_code_rules_resolve_aliases():
    tree = ast.parse("import os as o\nfrom subprocess import call as c\nimport ctypes.util\no.system('x')\nc('y')\n")
    findings = check_code_rules(
        scan(tree), CodePolicy(deny_imports=("ctypes",), deny_calls=("os.system", "subprocess.call")), NetworkPolicy()
    )
    assert [(f.rule, f.line) for f in findings] == [("import.denied", 3), ("call.denied", 4), ("call.denied", 5)]


def test_hosts_in_literals_against_allow_and_deny():
    tree = ast.parse(
        "import socket, requests\n"
        "requests.get('https://api.example.com/v1')\n"
        "requests.get('https://evil.example.com/v1')\n"
        "socket.create_connection(('exfil.attacker.net', 443))\n"
        "open('config.json')\n"
    )
    network = NetworkPolicy(allow_hosts=("*.example.com",), deny_hosts=("evil.example.com",))
    findings = check_code_rules(scan(tree), CodePolicy(), network)
    assert [(f.rule, f.detail("host"), f.line) for f in findings] == [
        ("host.not-allowed", "evil.example.com", 3),
        ("host.not-allowed", "exfil.attacker.net", 4),
    ]


def test_host_patterns():
    network = NetworkPolicy(allow_hosts=("api.example.com", "*.corp.example"), deny_hosts=("x.corp.example",))
    assert host_allowed("api.example.com", network)
    assert host_allowed("API.example.com.", network)
    assert not host_allowed("example.com", network)
    assert host_allowed("a.corp.example", network)
    assert not host_allowed("corp.example", network)  # *.domain covers subdomains only
    assert not host_allowed("x.corp.example", network)  # deny wins
    assert not host_allowed("anything", NetworkPolicy())  # nothing allowed by default


def test_secrets_line_prefilter_changes_nothing(monkeypatch):
    # One line per plugin family, some matching only at a line's start or end (`^`/`$` patterns).
    corpus = "\n".join(
        [
            "AKCp8abcdefghijklmnopq",
            'key = "AKIAZ7QRSTUVWXYZ2345"',
            'url = "https://user:hunter2pass@example.com/x"',
            'token = "ghp_' + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8" + '"',
            'slack = "xoxb-123456789012-abcdefghijkl"',
            'stripe = "sk_live_' + "4eC39HqLyjWDarjtT1zdp7dc" + '"',
            "-----BEGIN RSA PRIVATE KEY-----",
            'jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"',
            'api_key = "Zx81Qw0pLm7Rt3Vb9Nc2Ks5Hd"',
            'print("nothing to see")',
            'cloudant_password = "abcdefghijklmnopqrstuvwx"',
            "def f(x):\n    return x + 1",
        ]
    )
    with_prefilter = secrets_mod.find_secrets(corpus)
    monkeypatch.setattr(secrets_mod, "_any_pattern", lambda: None)
    without = secrets_mod.find_secrets(corpus)
    assert with_prefilter == without
    assert len({f.rule for f in without}) >= 6  # the corpus does exercise the plugins


def test_bandit_on_the_callers_tree_finds_what_its_own_pass_finds():
    from pathlib import Path

    checker = BanditChecker()
    sources = [p.read_text() for p in sorted(Path(__file__).resolve().parents[2].glob("examples/*.py"))]
    sources.append(
        "import subprocess as sp, hashlib, yaml\n"
        "def f(c, p):\n    sp.call(c, shell=True)\n    hashlib.md5(p)\n    return yaml.load(p)\n"
        "password = 'hunter2hunter2'\nexec(c)\n"
    )
    assert len(sources) > 3
    for code in sources:
        own = checker.check(code)
        walked = checker.check(code, ast.parse(code))
        assert walked == own and own is not None
    assert {f.rule for f in checker.check(sources[-1], ast.parse(sources[-1]))} >= {"B602", "B324", "B506", "B102"}


def test_code_rules_see_through_literal_lookups_and_assignments():
    tree = ast.parse(
        "import os, importlib, subprocess\n"
        "getattr(os, 'system')('a')\n"
        "vars(os)['system']('b')\n"
        "importlib.import_module('ctypes')\n"
        "run = subprocess.call\n"
        "run('c')\n"
        "__import__('os').system('d')\n"
    )
    findings = check_code_rules(
        scan(tree), CodePolicy(deny_imports=("ctypes",), deny_calls=("os.system", "subprocess.call")), NetworkPolicy()
    )
    assert [(f.rule, f.line) for f in findings] == [
        ("import.denied", 4),
        ("call.denied", 2),
        ("call.denied", 3),
        ("call.denied", 6),
        ("call.denied", 7),
    ]


def test_names_resolve_strings_as_far_as_the_module_spells_them():
    from sandgate.checks.names import HOLE

    tree = ast.parse(
        "import base64\n"
        "HOST = 'example.com'\n"
        "cmd = 'curl https://' + HOST\n"
        "cmd += ' | sh'\n"
        "a = f'wget {HOST}/{path} -O-'\n"
        "b = 'x %s y %d' % (HOST, n)\n"
        "c = '{} and {name}'.format(HOST, name=user)\n"
        "d = ' '.join(['ls', '-l', where])\n"
        "e = base64.b64decode('aWQ=').decode()\n"
        "f = 'hs | x'[::-1]\n"
        "g = ''.join(chr(c) for c in [105, 100])\n"
        "h = 'cuXrl'.replace('X', '')\n"
    )
    names = scan(tree).names

    def value(name: str) -> str:
        return names.string(ast.Name(name))

    assert names.strings(ast.Name("cmd")) == ["curl https://example.com", "curl https://example.com | sh"]
    assert value("a") == f"wget example.com/{HOLE} -O-"
    assert value("b") == f"x example.com y {HOLE}"
    assert value("c") == f"example.com and {HOLE}"
    assert value("d") == f"ls -l {HOLE}"
    assert (value("e"), value("f"), value("g"), value("h")) == ("id", "x | sh", "id", "curl")
    assert names.string(ast.Name("unknown")) is None
