"""Sandgate's own code rules (source "rules"): processes and calls a suggestion hides or should not make.

- `shell.download-and-run` (HIGH): a command that fetches code and runs it (`curl … | sh`, see
  `checks.shell`) handed to any spawn API: os.system, os.popen, subprocess with `shell=True` or an
  argv that runs `sh -c`, os.exec*/spawn*/posix_spawn*, pty.spawn, asyncio, ctypes `system`, or
  fed to an interpreter's stdin from a download.
- `shell.spawn` (MEDIUM): any command run through a shell (a string is parsed by /bin/sh: one
  unquoted value away from command injection).
- `call.computed-name` (MEDIUM): a call reached through a name chosen at run time (`getattr(x, name)()`,
  `__import__(name)`, `importlib.import_module(name)`, `globals()[name]()`, `getattr(__import__('o'+'s'),
  'system')`): whatever it reaches is hidden from every static check.
- `process.native-spawn` (MEDIUM): a process started below the subprocess module (os.exec*, os.spawn*,
  os.posix_spawn*, pty.spawn, ctypes `system`/`exec*`/`popen`).
- `code.download-and-run` (HIGH): Python code fetched from the network and run with exec, eval or
  compile (`exec(requests.get(url).text)`). A string handed to exec/eval/compile that spells code
  out (`exec(base64.b64decode("…"))`) is read as code, and these rules apply to it.

The rules read `checks.names.Scan`, the one walk over the tree that the policy's code rules share:
callees resolve through imports, assignments and literal lookups (`getattr(os, "system")` is
`os.system`), and command strings as far as the module spells them out (`names.Names.string`).
Each rule is documented in docs/rules.md, which every finding links to.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from sandgate.checks import shell
from sandgate.checks.names import HOLE, Computed, Names, Ref, Scan, scan
from sandgate.findings import Finding, Level, details

SOURCE = "rules"
DOCS = "https://github.com/sandgate/sandgate/blob/main/docs/rules.md"

DOWNLOAD_AND_RUN = "shell.download-and-run"
CODE_DOWNLOAD = "code.download-and-run"
SHELL_SPAWN = "shell.spawn"
COMPUTED_NAME = "call.computed-name"
NATIVE_SPAWN = "process.native-spawn"
RULES = (DOWNLOAD_AND_RUN, CODE_DOWNLOAD, SHELL_SPAWN, COMPUTED_NAME, NATIVE_SPAWN)
# Each rule's one severity (docs/rules.md's table; `sandgate policy validate` reads it too).
SEVERITY: dict[str, Level] = {
    DOWNLOAD_AND_RUN: Level.HIGH,
    CODE_DOWNLOAD: Level.HIGH,
    SHELL_SPAWN: Level.MEDIUM,
    COMPUTED_NAME: Level.MEDIUM,
    NATIVE_SPAWN: Level.MEDIUM,
}


@dataclass(frozen=True)
class _Api:
    """How a spawn API takes its command.

    kind: "shell" (a string run by /bin/sh), "subprocess" (an argv, or a shell string with
    shell=True), "args" (the program and its arguments as positional arguments), "native".
    at: the index of the command (or of the program) among the positional arguments.
    form (native): "l" (program, arg0, args…), "v" (program, argv), "argv" (pty.spawn: a list or a string).
    """

    kind: str
    at: int = 0
    form: str = ""
    env_last: bool = False


_APIS: dict[str, _Api] = {
    **{
        name: _Api("shell")
        for name in (
            "os.system",
            "os.popen",
            "commands.getoutput",
            "commands.getstatusoutput",
            "subprocess.getoutput",
            "subprocess.getstatusoutput",
            "popen2.popen2",
            "popen2.popen3",
            "popen2.popen4",
            "platform.popen",
            "asyncio.create_subprocess_shell",
        )
    },
    **{f"subprocess.{name}": _Api("subprocess") for name in ("run", "call", "check_call", "check_output", "Popen")},
    "asyncio.create_subprocess_exec": _Api("args"),
    **{
        f"os.exec{suffix}": _Api("native", 0, "l" if suffix.startswith("l") else "v", suffix.endswith("e"))
        for suffix in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")
    },
    **{
        f"os.spawn{suffix}": _Api("native", 1, "l" if suffix.startswith("l") else "v", suffix.endswith("e"))
        for suffix in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")
    },
    "os.posix_spawn": _Api("native", 0, "v"),
    "os.posix_spawnp": _Api("native", 0, "v"),
    "pty.spawn": _Api("native", 0, "argv"),
}
# Methods of an event loop, whatever the loop is called.
_LOOP_APIS = {"subprocess_shell": _Api("shell", 1), "subprocess_exec": _Api("args", 1)}
# libc's functions reached through ctypes (or cffi): a string run by a shell, or a native exec.
_LIBC_SHELL = frozenset({"system", "popen"})
_LIBC_EXEC = frozenset(
    {"execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "posix_spawn", "posix_spawnp", "fexecve"}
)
_FOREIGN = re.compile(r"^(?:ctypes|_ctypes|cffi)\.|\.dlopen\(\)")
# Calls that fetch from the network (what feeds an interpreter's stdin in a download-and-run).
_FETCH = re.compile(
    r"^(?:urllib\.request\.urlopen|urllib2?\.urlopen|urllib\.request\.urlretrieve|requests\.(?:get|post|request)"
    r"|requests\.(?:Session|session)\(\)\.(?:get|post|request)|httpx\.(?:get|post|request|stream)"
    r"|httpx\.(?:Async)?Client\(\)\.(?:get|post|request)|urllib3\.PoolManager\(\)\.request"
    r"|http\.client\.HTTPS?Connection\(\)\.getresponse)(?:\(\).*)?$"
)
# Attribute names a dispatch prefix must not be able to reach (see `_confined`).
_SENSITIVE_ATTRIBUTES = (
    "system",
    "popen",
    "exec",
    "spawn",
    "posix_spawn",
    "fork",
    "getoutput",
    "getstatusoutput",
    "call",
    "check_call",
    "check_output",
    "run",
    "Popen",
    "create_subprocess_exec",
    "create_subprocess_shell",
    "eval",
    "compile",
    "import_module",
    "open",
    "load",
    "loads",
    "CDLL",
    "PyDLL",
    "LoadLibrary",
    "dlopen",
)
_SELF = frozenset({"self", "cls"})
# The last part of every spawn API's name: what a value handed to a call must be called to be one.
_API_LAST = frozenset({name.rpartition(".")[2] for name in _APIS} | _LIBC_SHELL | _LIBC_EXEC | set(_LOOP_APIS))


def _finding(rule: str, confidence: Level, cwe: int, message: str, node: ast.AST, **extra: object) -> Finding:
    return Finding(
        source=SOURCE,
        rule=rule,
        severity=SEVERITY[rule],
        confidence=confidence,
        message=message,
        line=getattr(node, "lineno", 0),
        end_line=getattr(node, "end_lineno", 0) or getattr(node, "lineno", 0),
        col=getattr(node, "col_offset", 0),
        end_col=getattr(node, "end_col_offset", 0) or 0,
        cwe=cwe,
        more_info=f"{DOCS}#{rule}",
        details=details(**extra),
    )


def check_exec_rules(scan: Scan) -> list[Finding]:
    """The findings of the rules on one scanned module, in source order."""
    return _check(scan, 0)


def _check(scan: Scan, depth: int) -> list[Finding]:
    findings: list[Finding] = []
    names = scan.names
    for ref, call in scan.calls:
        if ref is None:
            continue
        api_name, api = _api(ref.name, names)
        if api is not None:
            findings.extend(_spawn(api_name, api, call, names))
        elif ref.name in _DYNAMIC_CODE and call.args:
            findings.extend(_dynamic_code(ref.name, call, names, depth))
        elif ref.name.endswith((".communicate", ".stdin.write")):
            findings.extend(_fed_from_download(ref, call, names))
        findings.extend(_passed_spawn(call, names))
    findings.extend(_computed(scan))
    findings.sort(key=lambda f: (f.line, f.col, RULES.index(f.rule)))
    return findings


# -- spawns ------------------------------------------------------------------------------------


def _api(name: str, names: Names) -> tuple[str, _Api | None]:
    if name.startswith("posix."):  # os's functions live in posix
        name = "os." + name[len("posix.") :]
    api = _APIS.get(name)
    if api is not None:
        return name, api
    if "." not in name:  # `from os import *`
        for module in names.star_modules:
            if f"{module}.{name}" in _APIS:
                return f"{module}.{name}", _APIS[f"{module}.{name}"]
        return name, None
    last = name.rpartition(".")[2]
    if last in _LOOP_APIS:
        return name, _LOOP_APIS[last]
    if last in _LIBC_SHELL and _FOREIGN.search(name):
        return name, _Api("native", 0, "shell")
    if last in _LIBC_EXEC and _FOREIGN.search(name):
        return name, _Api("native", 0, "libc")
    return name, None


def _arg(call: ast.Call, index: int, keyword: str | None = None) -> ast.AST | None:
    """The argument at `index`, or given as `keyword=`."""
    if index < len(call.args) and type(call.args[index]) is not ast.Starred:
        return call.args[index]
    return _keyword(call, keyword) if keyword else None


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _truthy(node: ast.AST | None) -> bool:
    """Whether a `shell=` argument may be true (anything but a false literal may be)."""
    if node is None:
        return False
    return not (type(node) is ast.Constant and not node.value)


def _positional(call: ast.Call, start: int, names: Names) -> list[str]:
    out: list[str] = []
    for node in call.args[start:]:
        if type(node) is ast.Starred:
            out.extend(names.sequence(node.value) or [HOLE])
        else:
            out.append(names.string(node) or HOLE)
    return out


@dataclass
class _Command:
    """What a spawn runs: command strings a shell parses (None: no shell), or an argv."""

    shell: list[str] | None = None
    argv: list[str] | None = None


def _command(api: _Api, call: ast.Call, names: Names) -> _Command:
    if api.kind == "shell" or api.form == "shell":
        node = _arg(call, api.at) or _keyword(call, "cmd") or _keyword(call, "command")
        return _Command(shell=(names.strings(node) if node is not None else []) or [HOLE])
    if api.kind == "subprocess":
        node = _arg(call, 0, "args")
        if node is None:
            return _Command()
        if _truthy(_keyword(call, "shell")):
            items = names.sequence(node) if type(node) in (ast.List, ast.Tuple) else None
            values = [items[0]] if items else names.strings(node)
            return _Command(shell=values or [HOLE])
        argv = names.sequence(node)
        if argv is None:
            text = names.string(node)
            argv = [text] if text is not None else None
        return _via_shell(argv)
    if api.kind == "args":
        return _via_shell(_positional(call, api.at, names))
    if api.form == "libc":
        return _Command()
    program = names.string(call.args[api.at]) if api.at < len(call.args) else None
    if program is None and api.form != "argv":
        return _Command()
    if api.form == "l":
        rest = _positional(call, api.at + 2, names)
        return _via_shell([program or HOLE] + (rest[:-1] if api.env_last else rest))
    if api.form == "v":
        argv = names.sequence(call.args[api.at + 1]) if api.at + 1 < len(call.args) else None
        return _via_shell([program or HOLE] + (argv[1:] if argv else [HOLE]))
    node = _arg(call, 0, "argv")  # pty.spawn: a list, or one program name
    argv = names.sequence(node) if node is not None else None
    if argv is None and node is not None:
        text = names.string(node)
        argv = [text] if text is not None else None
    return _via_shell(argv)


def _via_shell(argv: list[str] | None) -> _Command:
    """An argv that runs `sh -c COMMAND` is a spawn through a shell."""
    if argv is None:
        return _Command()
    command = shell.shell_command(argv)
    return _Command(shell=[command], argv=argv) if command is not None else _Command(argv=argv)


def _download(command: _Command) -> str | None:
    """What the command does, as a predicate ("runs a command that downloads with curl and …")."""
    texts = [t for t in command.shell or () if t.strip(HOLE + " ")]
    if command.argv and command.shell is None:
        texts.append(shell.join(command.argv))
    for text in texts:
        found = shell.download_and_run(text)
        if found:
            return f"runs a command that {found}"
    return None


def _spawn(api_name: str, api: _Api, call: ast.Call, names: Names, passed_to: str | None = None) -> Iterator[Finding]:
    command = _command(api, call, names) if passed_to is None else _passed_command(api, call, names)
    how = f"{api_name} (passed to {passed_to})" if passed_to else api_name
    found = _download(command)
    if found is None and command.argv is not None and command.shell is None:
        found = _stdin_download(command.argv, _keyword(call, "input"), names)
    if found:
        yield _finding(
            DOWNLOAD_AND_RUN,
            Level.HIGH,
            494,
            f"{how} {found}: code from the network would run without review",
            call,
            api=api_name,
            description=found,
        )
    if command.shell is not None:
        constant = all(HOLE not in text for text in command.shell)
        if constant:
            message = f"{how} runs a command through a shell; pass an argument list without a shell instead"
        else:
            message = (
                f"{how} runs a command built at run time through a shell: a value with shell syntax in it "
                "becomes a command (command injection); pass an argument list without a shell instead"
            )
        yield _finding(SHELL_SPAWN, Level.HIGH, 78, message, call, api=api_name, constant=constant)
    if api.kind == "native":
        what = (
            "calls libc through a foreign-function interface"
            if _FOREIGN.search(api_name)
            else "replaces or forks the process below the subprocess module"
        )
        yield _finding(
            NATIVE_SPAWN,
            Level.HIGH,
            78,
            f"{how} starts a program and {what}; use subprocess.run with an argument list",
            call,
            api=api_name,
        )


def _stdin_download(argv: list[str], data: ast.AST | None, names: Names) -> str | None:
    """`subprocess.run(["sh"], input=urlopen(url).read())`: an interpreter fed a download on stdin."""
    interpreter = shell.stdin_interpreter(argv)
    fetch = _fetch_in(data, names) if interpreter and data is not None else None
    return f"runs {interpreter} on what {fetch} downloads" if fetch else None


def _fetch_in(node: ast.AST, names: Names) -> str | None:
    """The network call (`requests.get`, `urllib.request.urlopen`, …) inside an expression, if any."""
    for inner in ast.walk(node):
        if type(inner) is ast.Call:
            ref = names.ref(inner.func)
            if ref is not None and _FETCH.match(ref.name):
                return ref.name.split("()", 1)[0]
    return None


def _fed_from_download(ref: Ref, call: ast.Call, names: Names) -> Iterator[Finding]:
    """`Popen(["sh"], stdin=PIPE).communicate(urlopen(url).read())`, or `p.stdin.write(…)`."""
    data = _arg(call, 0, "input")
    receiver = call.func.value if type(call.func) is ast.Attribute else None
    if receiver is not None and ref.name.endswith(".stdin.write") and type(receiver) is ast.Attribute:
        receiver = receiver.value
    popen = _bound_call(receiver, names)
    if data is None or popen is None:
        return
    popen_ref = names.ref(popen.func)
    if popen_ref is None or _api(popen_ref.name, names)[1] != _APIS["subprocess.Popen"]:
        return
    command = _command(_APIS["subprocess.Popen"], popen, names)
    found = _stdin_download(command.argv, data, names) if command.argv and command.shell is None else None
    if found:
        yield _finding(
            DOWNLOAD_AND_RUN,
            Level.HIGH,
            494,
            f"subprocess.Popen {found}: code from the network would run without review",
            call,
            api="subprocess.Popen",
            description=found,
        )


def _bound_call(node: ast.AST | None, names: Names) -> ast.Call | None:
    """The call an expression is (directly, or through the name it was assigned to)."""
    if type(node) is ast.Call:
        return node
    if type(node) is ast.Name:
        for _, value in reversed(names.bindings.get(node.id, ())):
            if type(value) is ast.Call:
                return value
    return None


def _passed_spawn(call: ast.Call, names: Names) -> Iterator[Finding]:
    """A spawn API handed over as a value: `map(os.system, cmds)`, `Thread(target=os.system, …)`,
    `functools.partial(os.system, "…")`. Its command is among the call's other string arguments."""
    values = [*call.args, *(k.value for k in call.keywords)]
    value: Any  # dispatched on its exact type (see names.Node)
    for value in values:
        kind = type(value)
        # Only a name that may be bound to an API, or an attribute named like one, is resolved.
        if not (
            (kind is ast.Name and (value.id in names.bindings or value.id in _API_LAST))
            or (kind is ast.Attribute and value.attr in _API_LAST)
        ):
            continue
        ref = names.ref(value)
        if ref is None:
            continue
        api_name, api = _api(ref.name, names)
        if api is not None and (api.kind in ("shell", "native") or api.form == "shell"):
            callee = names.ref(call.func)
            yield from _spawn(api_name, api, call, names, passed_to=callee.name if callee else "a call")


def _passed_command(api: _Api, call: ast.Call, names: Names) -> _Command:
    if api.kind != "shell" and api.form != "shell":
        return _Command()  # an exec function handed over: what it runs is not spelled out here
    texts: list[str] = []
    for value in [*call.args, *(k.value for k in call.keywords)]:
        if type(value) in (ast.List, ast.Tuple):
            texts.extend(names.sequence(value) or [])
        elif type(value) not in (ast.Name, ast.Attribute) or names.string(value) is not None:
            text = names.string(value)
            if text is not None:
                texts.append(text)
    return _Command(shell=texts or [HOLE])


# -- code run from a string ------------------------------------------------------------------

_DYNAMIC_CODE = frozenset({"exec", "eval", "compile", "builtins.exec", "builtins.eval", "builtins.compile"})
_MAX_NESTED = 3  # exec("exec('…')"): strings read as code this deep
_MAX_NESTED_CODE = 100_000


def _dynamic_code(name: str, call: ast.Call, names: Names, depth: int) -> Iterator[Finding]:
    """`exec(requests.get(url).text)`: code downloaded and run in Python. `exec("import os; os.system(…)")`,
    `exec(base64.b64decode("…"))`: the string is code, and the rules read it as such (findings placed
    on the call)."""
    argument = call.args[0]
    fetch = _fetch_in(argument, names)
    if fetch is None and type(argument) is ast.Name:  # code = urlopen(url).read(); exec(code)
        fetch = next(
            (
                f
                for _, value in names.bindings.get(argument.id, ())
                if not isinstance(value, str) and (f := _fetch_in(value, names))
            ),
            None,
        )
    if fetch:
        yield _finding(
            CODE_DOWNLOAD,
            Level.HIGH,
            494,
            f"{name} runs Python code that {fetch} downloads: code from the network would run without review",
            call,
            api=name,
            fetch=fetch,
        )
    if depth >= _MAX_NESTED:
        return
    for text in names.strings(argument):
        if HOLE in text or len(text) > _MAX_NESTED_CODE:
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        for inner in _check(scan(tree), depth + 1):
            yield replace(
                inner,
                line=call.lineno,
                end_line=call.end_lineno or call.lineno,
                col=call.col_offset,
                end_col=call.end_col_offset or 0,
                message=f"in the code given to {name}: {inner.message}",
            )


# -- computed names ----------------------------------------------------------------------------


def _computed(scan: Scan) -> Iterator[Finding]:
    """Sites where a called function or an imported module is named at run time. A getattr or a
    namespace lookup counts when what it reaches is called; an import always does."""
    names = scan.names
    seen: set[int] = set()
    for ref, call in scan.calls:
        if ref is None:
            continue
        sites = list(ref.computed)
        if ref.name in ("__import__", "builtins.__import__", "importlib.__import__", "importlib.import_module"):
            imported = names.ref(call)
            sites += [s for s in (imported.computed if imported else ()) if s.node is call]
        for site in sites:
            if site.literal or id(site.node) in seen or _confined(site):
                continue
            seen.add(id(site.node))
            yield _computed_finding(site)


def _confined(site: Computed) -> bool:
    """A computed name that cannot reach a spawn, an import or eval: a method of the object itself
    (`getattr(self, name)`), a dispatch name with a fixed prefix (`getattr(module, "do_" + cmd)`,
    not one a sensitive name starts with), or a module inside a package of the application
    (`import_module(f"myapp.plugins.{name}")`, a relative `import_module("." + name, __package__)`)."""
    prefix = site.pattern.split(HOLE, 1)[0]
    if site.kind == "module":
        if prefix.startswith(".") or site.pattern == "__name__":
            return True
        top, dot, _ = prefix.partition(".")
        return bool(dot) and top not in sys.stdlib_module_names
    if site.owner in _SELF:
        return True
    if HOLE not in site.pattern:
        return False  # assembled from literals: a name spelled so that no one sees it
    return (
        len(prefix) >= 3
        and prefix.endswith("_")
        and not prefix.startswith("_")
        and not any(name.startswith(prefix) for name in _SENSITIVE_ATTRIBUTES)
    )


def _computed_finding(site: Computed) -> Finding:
    code = ast.unparse(site.node)
    code = code if len(code) <= 80 else code[:77] + "..."
    exact = HOLE not in site.pattern
    if site.kind == "module":
        what = (
            f"imports the module {site.pattern!r} under a name assembled at run time"
            if exact
            else "imports a module named at run time"
        )
    else:
        target = f"{site.owner}.{site.pattern}" if site.owner else site.pattern
        what = f"calls {target} under a name assembled at run time" if exact else "calls a function named at run time"
    return _finding(
        COMPUTED_NAME,
        Level.HIGH if exact else Level.MEDIUM,
        470,
        f"{code} {what}: what it reaches is hidden from review; name it directly "
        "(or look it up in a dict of allowed functions)",
        site.node,
        pattern=site.pattern,
    )
