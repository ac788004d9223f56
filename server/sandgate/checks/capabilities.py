"""What a module can do, read from its code: capabilities, and where secrets flow.

`capabilities(scan, tree)` lists what the code can do — network destinations, sensitive reads,
writes and deletions outside the project, persistence (dotfiles, crontab, autostart, systemd
units), processes and shell pipelines, dynamic code, deserialization, verification turned off,
environment reads of secret names — and, with a simple data flow, where a secret source (a
secret file's content, a secret-named variable, `os.environ` whole) reaches a sink (the network,
a process, a file outside the project). The pipeline computes them for the document with and
without the suggestion (`added`): what the suggestion *adds* becomes findings (source
`capability`, rule `capability.<kind>`) and the one-line summary people see first
(`adds: network → metrics-collector.example.net (sends ~/.aws/credentials)`).

The flow is flow-insensitive like `checks.names` (a name stands for all its bindings, `with … as`
and `for` targets included, a parameter for the arguments its module passes): whatever is
computed from a secret carries it. An environment secret in an HTTP call's `headers=` or
`auth=` is authentication, not a leak. Pure functions; never raises on odd code.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import urlsplit

from sandgate.checks import shell
from sandgate.checks.names import HOLE, Names, Node, Scan, _raw, _walk
from sandgate.checks.parsing import parse
from sandgate.findings import Finding, Level, details

SOURCE = "capability"
DOCS = "https://github.com/sandgate/sandgate/blob/main/docs/rules.md#capabilities"

# kind -> (severity, CWE). The presets decide by rule name (`capability.<kind>`); docs/rules.md.
KINDS: dict[str, tuple[Level, int | None]] = {
    "secret-to-network": (Level.HIGH, 200),
    "remote-shell": (Level.HIGH, 78),
    "persistence": (Level.HIGH, 506),
    "delete-home": (Level.HIGH, 73),
    "secret-to-process": (Level.MEDIUM, 214),
    "secret-to-file": (Level.MEDIUM, 538),
    "sensitive-read": (Level.MEDIUM, 522),
    "delete-outside": (Level.MEDIUM, 73),
    "dynamic-code": (Level.MEDIUM, 95),
    "deserialization": (Level.MEDIUM, 502),
    "verify-off": (Level.MEDIUM, 347),
    "network": (Level.LOW, None),
    "process": (Level.LOW, None),
    "write-outside": (Level.LOW, None),
    "secret-env": (Level.LOW, None),
}
RULES = tuple(f"capability.{kind}" for kind in KINDS)

_MAX_DEPTH = 16
_SECRET_NAME = re.compile(
    r"SECRET|TOKEN|PASSW|PASSWD|PWD$|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY|AUTH|DATABASE_URL|DSN$"
)
# Folders that hold a user's credentials (as the sandbox's `secret_paths` table lists them). Every
# file under the first four is a secret (`~/.aws/sso/cache/…` holds tokens as `credentials` does);
# under any of them, a file whose name the module hides (`~/.aws/` + FILES[0], an f-string, a
# parameter) is read as one: hiding the name of a file in a secret folder is no reason to trust it.
_SECRET_DIRS = (r"\.ssh", r"\.aws", r"\.gnupg", r"\.config/gcloud", r"\.kube", r"\.docker", r"\.azure")
_SECRET_PATH = re.compile(
    r"(^|/)(\.ssh|\.aws|\.gnupg|\.config/gcloud)(/|$)|(^|/)\.netrc$|\.git-credentials$|\.docker/config\.json"
    r"|\.kube/config|(^|/)\.pypirc$|^/etc/(shadow|gshadow|sudoers)|(^|/)\.env$"
    r"|/proc/[^/]*/environ|id_(rsa|dsa|ecdsa|ed25519)|(^|/)\.pgpass$|\.vault-token$"
    rf"|(^|/)({'|'.join(_SECRET_DIRS)})/[^/]*{HOLE}"
)
_PERSISTENCE_PATH = re.compile(
    r"^~/\.(bashrc|bash_profile|bash_login|profile|zshrc|zprofile|zshenv|zlogin|config/fish/config\.fish)$"
    r"|^~/\.config/(autostart|systemd)(/|$)|^/etc/(systemd|cron|init\.d|rc\.local|profile|ld\.so\.preload|xdg/autostart)"
    r"|^/(usr/)?lib/systemd/|^/var/spool/cron|^~/\.ssh/(authorized_keys|rc)|^~/Library/LaunchAgents|^/etc/bash\.bashrc|site-packages/[^/]*\.pth$|(user|site)customize\.py$"
)
_PROJECT_ENV = re.compile(r"(^|/)\.env$")
_HOMES = frozenset({"~", "~/", "~/*", "~/.", "/", "/*", "/home", "/home/", "/root", "/root/", "/Users"})
_SCRATCH = ("/tmp/", "/var/tmp/", "/dev/null", "/dev/std", "/proc/self/fd")

_OPENERS = frozenset({"open", "builtins.open", "io.open", "codecs.open"})
_WRITE_MODE = frozenset("wax+")
_PATH_TYPES = frozenset({"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "Path"})
_COPY_TO = frozenset(
    {"shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree", "shutil.move", "os.rename", "os.replace"}
)
_DELETERS = frozenset({"shutil.rmtree", "os.remove", "os.unlink", "os.rmdir", "os.removedirs"})
_SCANNERS = frozenset({"glob.glob", "glob.iglob", "os.listdir", "os.scandir", "os.walk"})
_ENV_GET = frozenset({"os.getenv", "os.environ.get", "os.environ.pop", "os.environ.setdefault", "os.environb.get"})
_HOME_CALLS = frozenset({"pathlib.Path.home", "Path.home", "os.path.expanduser", "os.getcwd"})
_NET_MODULES = re.compile(
    r"^(requests|httpx|urllib3?|urllib\.request|http\.client|aiohttp|socket|smtplib|ftplib|paramiko)\b"
)
_NET_VERBS = frozenset(
    {
        "get", "post", "put", "patch", "delete", "head", "request", "stream", "urlopen", "urlretrieve",
        "connect", "connect_ex", "sendto", "send", "sendall", "create_connection", "gethostbyname",
        "gethostbyname_ex", "getaddrinfo", "sendmail", "send_message", "storbinary", "HTTPConnection",
        "HTTPSConnection", "SMTP", "SMTP_SSL", "FTP", "putrequest",
    }
)  # fmt: skip
# `request(method, url)` (requests, httpx, urllib3, aiohttp) and http.client's `request(method, path)`.
_METHOD_FIRST = frozenset({"request", "stream", "putrequest"})
_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})
_HTTP_CLIENTS = re.compile(r"^(requests|httpx|aiohttp|urllib3)\b")
_AUTH_KEYWORDS = frozenset({"headers", "auth", "cookies", "cert"})
_SPAWN = re.compile(
    r"^(os\.(system|popen|exec\w*|spawn\w*|posix_spawnp?)|subprocess\.(run|call|check_call|check_output|Popen"
    r"|getoutput|getstatusoutput)|pty\.spawn|asyncio\.create_subprocess_(shell|exec))$"
)
_DESERIALIZERS = frozenset(
    {
        "pickle.load", "pickle.loads", "cPickle.loads", "cPickle.load", "dill.load", "dill.loads", "marshal.load",
        "marshal.loads", "shelve.open", "yaml.unsafe_load", "yaml.full_load", "jsonpickle.decode",
        "pandas.read_pickle", "joblib.load",
    }
)  # fmt: skip
_IMPORTERS = frozenset({"__import__", "builtins.__import__", "importlib.import_module", "importlib.__import__"})
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash"})
_DYNAMIC = frozenset({"exec", "eval", "compile", "builtins.exec", "builtins.eval", "builtins.compile"})


@dataclass(frozen=True)
class Capability:
    """One thing the code can do: `kind` (see KINDS), its target (a host, a program, a path), and
    the secret it carries (`via`: "~/.aws/credentials", "$AWS_SECRET_ACCESS_KEY", "os.environ")."""

    kind: str
    target: str
    line: int
    end_line: int
    via: str = ""
    method: str = ""  # the HTTP method when the call says it ("POST"); not part of the key

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind, self.target, self.via

    @property
    def severity(self) -> Level:
        return KINDS[self.kind][0]

    def phrase(self) -> str:
        """What it does, in a few words, for the summary and the finding's message."""
        target, via = self.target, self.via
        match self.kind:
            case "secret-to-network" | "network":
                said = [self.method] if self.method else []
                said += [f"sends {via}"] if via else []
                return f"network → {target}{' (' + ', '.join(said) + ')' if said else ''}"
            case "secret-to-process" | "process":
                return f"runs {target}{' (passes ' + via + ')' if via else ''}"
            case "secret-to-file" | "write-outside":
                return f"writes {target}{' (' + via + ' into it)' if via else ''}"
            case "remote-shell":
                return f"remote shell: {target} wired to a socket"
            case "persistence":
                return f"persistence → {target}"
            case "delete-home":
                return f"deletes the home folder ({target})"
            case "delete-outside":
                return f"deletes {target}"
            case "sensitive-read":
                return f"reads {target}"
            case "secret-env":
                return f"reads {target}"
            case "dynamic-code":
                return f"dynamic code: {target}"
            case "deserialization":
                return f"deserializes with {target}"
            case _:
                return f"turns off {target}"


# -- the analysis ------------------------------------------------------------------------------


def capabilities(found: Scan, tree: ast.AST) -> list[Capability]:
    """Everything `tree` (scanned already: `found`) can do, in source order, without repeats."""
    return _Analysis(found, tree).run()


@lru_cache(maxsize=16)
def document_capabilities(code: str) -> frozenset[tuple[str, str, str]] | None:
    """The capability keys of a whole document (the one before the suggestion); None when it does
    not parse. Cached: an editor vets several candidates against the same document."""
    from sandgate.checks.names import scan

    try:
        tree = parse(code)
    except (SyntaxError, ValueError):
        return None
    return frozenset(c.key for c in capabilities(scan(tree), tree))


def added(after: Iterable[Capability], before: Iterable[tuple[str, str, str]]) -> list[Capability]:
    """What `after` can do that `before` (keys) could not."""
    known = set(before)
    return [c for c in after if c.key not in known]


def summary(added_caps: Iterable[Capability], limit: int = 4) -> str | None:
    """`adds: network → host (sends ~/.aws/credentials); runs git`: the strongest first, plain network
    destinations in one phrase; None when the suggestion adds nothing."""
    ranked = sorted(added_caps, key=lambda c: (-c.severity, c.line))
    phrases: list[str] = []
    # A host already named with what is sent to it is not named again as plain network.
    sending = {c.target for c in ranked if c.kind == "secret-to-network"}
    hosts = [c.target for c in ranked if c.kind == "network" and c.target not in sending]
    ranked = [c for c in ranked if c.kind != "network" or c.target in hosts]
    for cap in ranked:
        if cap.kind == "network":
            if cap.target != hosts[0]:
                continue
            shown = list(dict.fromkeys(hosts))
            text = "network → " + ", ".join(shown[:3]) + (f" (+{len(shown) - 3})" if len(shown) > 3 else "")
        else:
            text = cap.phrase()
        if text not in phrases:
            phrases.append(text)
    if not phrases:
        return None
    more = f"; +{len(phrases) - limit} more" if len(phrases) > limit else ""
    return "adds: " + "; ".join(phrases[:limit]) + more


def to_findings(added_caps: Iterable[Capability], first_line: int, last_line: int) -> list[Finding]:
    """One finding per added capability. A capability whose site lies outside the suggestion (the
    document's code now reaches a new host through a constant the suggestion changed) is placed on
    the suggestion's lines: the suggestion added it."""
    out = []
    for cap in added_caps:
        severity, cwe = KINDS[cap.kind]
        inside = cap.line <= last_line and cap.end_line >= first_line
        line, end = (cap.line, cap.end_line) if inside else (first_line, last_line)
        out.append(
            Finding(
                SOURCE,
                f"capability.{cap.kind}",
                severity,
                Level.MEDIUM if HOLE in cap.target else Level.HIGH,
                f"adds: {cap.phrase()}",
                line=line,
                end_line=end,
                cwe=cwe,
                more_info=DOCS,
                details=details(kind=cap.kind, target=cap.target, via=cap.via, **_method(cap)),
            )
        )
    return out


class Sinks:
    """What both languages' analyses do with a sink they found (`checks/js_capabilities.py` is the
    other): the capability of a write, a deletion, a program started and a shell command, kept once
    per (kind, target, via). A subclass says where a node is and whether a shell started at a place
    talks to a socket."""

    # Paths that are persistence even inside the project (beside `_PERSISTENCE_PATH` outside it).
    project_persistence: re.Pattern[str] | None = None

    def __init__(self) -> None:
        self.out: dict[tuple[str, str, str], Capability] = {}

    def lines(self, node: Any) -> tuple[int, int]:
        raise NotImplementedError

    def wired_to_socket(self, where: Any) -> bool:
        """A shell started at `where` talks to the network (a remote shell)."""
        raise NotImplementedError

    def add(self, kind: str, target: str, node: Any, via: str = "", method: str = "") -> None:
        cap = Capability(kind, target, *self.lines(node), via, method)
        held = self.out.setdefault(cap.key, cap)
        if method and not held.method:  # `HTTPSConnection(host)` then `conn.request("POST", …)`
            self.out[cap.key] = dataclasses.replace(held, method=method)

    def _write(self, path: str | None, node: Any, taint: frozenset[str]) -> None:
        inside = self.project_persistence is not None and bool(path and self.project_persistence.search(path))
        if not path or not _outside(path) and not inside:
            return
        if _PERSISTENCE_PATH.search(path) or inside:
            self.add("persistence", path, node)
        elif taint:
            self.add("secret-to-file", path, node, ", ".join(sorted(taint)))
        else:
            self.add("write-outside", path, node)

    def _delete(self, path: str | None, node: Any) -> None:
        if not path:
            return
        if path.rstrip("/") in _HOMES or path in _HOMES or path.rstrip("/*") in ("~", "", "/home", "/root"):
            self.add("delete-home", path, node)
        elif _outside(path):
            self.add("delete-outside", path, node)

    def _program(
        self, program: str, args: list[str], node: Any, via: str, counted: bool = True, where: Any = None
    ) -> None:
        if program == "crontab" and "-l" not in args:
            self.add("persistence", "crontab", node)
        elif program == "systemctl" and "enable" in args:
            self.add("persistence", "systemctl " + " ".join(args), node)
        elif program in ("rm", "shred"):
            for target in (a for a in args if not a.startswith("-")):
                self._delete(_home(target), node)
        if program in _SHELLS and self.wired_to_socket(where):
            self.add("remote-shell", program, node)
        if counted:
            self.add("secret-to-process" if via else "process", program, node, via)

    def _shell(self, command: str, node: Any, via: str, where: Any = None) -> None:
        script = shell.parse(command)
        for cmd in script.commands():
            words = [w.text for w in cmd.words]
            program = words[0].rsplit("/", 1)[-1] if words else ""
            if program in _SHELLS and self.wired_to_socket(where):
                self.add("remote-shell", program, node)
            if program in ("crontab", "systemctl", "rm"):
                self._program(program, words[1:], node, "", counted=False, where=where)
            for redirect in cmd.redirects:
                if redirect.op in (">", ">>", "&>", ">|"):
                    self._write(_home(redirect.target.text), node, frozenset())
        pipeline = any(len(p) > 1 for p in script.pipelines) or len(script.pipelines) > 1
        shown = _shorten(command)
        what = f"a shell pipeline `{shown}`" if pipeline else f"`{shown}` through a shell"
        self.add("secret-to-process" if via else "process", what, node, via)


class _Analysis(Sinks):
    def __init__(self, found: Scan, tree: ast.AST) -> None:
        super().__init__()
        self.scan = found
        self.names: Names = found.names
        # Bindings the scan does not keep: `with open(p) as f`, `for p in glob(…)`, parameters.
        self.extra: dict[str, list[ast.AST]] = {}
        self.params: dict[str, list[tuple[str, int]]] = {}  # parameter -> (function, position)
        self.env_reads: list[ast.Subscript] = []
        self._taint: dict[int, frozenset[str]] = {}
        # `os.dup2(sock.fileno(), 0)`: a shell started after it talks to the network.
        self._dup2_socket = any(
            ref is not None
            and ref.name == "os.dup2"
            and call.args
            and type(call.args[0]) is ast.Call
            and type(call.args[0].func) is ast.Attribute
            and call.args[0].func.attr == "fileno"
            for ref, call in found.calls
        )
        self._busy: set[str] = set()
        self._calls_by_name: dict[str, list[ast.Call]] | None = None
        self._collect(tree)

    def _collect(self, tree: ast.AST) -> None:
        for node in _walk(tree):
            kind = type(node)
            if kind is ast.withitem:
                if type(node.optional_vars) is ast.Name:
                    self.extra.setdefault(node.optional_vars.id, []).append(node.context_expr)
            elif kind is ast.For or kind is ast.AsyncFor or kind is ast.comprehension:
                # `for p in ("~/.ssh/*", …)`: each item is a value of `p`
                items = node.iter.elts if type(node.iter) in (ast.Tuple, ast.List) else [node.iter]
                for target in _names_in(node.target):
                    self.extra.setdefault(target, []).extend(items)
            elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
                args = node.args.posonlyargs + node.args.args
                offset = 1 if args and args[0].arg in ("self", "cls") else 0
                for index, arg in enumerate(args):
                    self.params.setdefault(arg.arg, []).append((node.name, index - offset))
            elif kind is ast.Subscript:
                if _raw(node.value) in ("os.environ", "environ"):
                    self.env_reads.append(node)

    def lines(self, node: Any) -> tuple[int, int]:
        line = getattr(node, "lineno", 0)
        return line, getattr(node, "end_lineno", line) or line

    def wired_to_socket(self, where: Any) -> bool:
        return self._dup2_socket

    def run(self) -> list[Capability]:
        for sub in self.env_reads:
            name = self.names.string(sub.slice)
            if name and _SECRET_NAME.search(name.upper()) and self.names.ref(sub.value) is not None:
                self.add("secret-env", f"${name}", sub)
        for ref, call in self.scan.calls:
            name = self._callee(ref.name if ref is not None else "", call)
            try:
                self._call(name, call, ref.computed if ref is not None else ())
            except RecursionError:  # pathological nesting: what was found stands
                continue
        return sorted(self.out.values(), key=lambda c: (c.line, c.kind))

    # -- calls ---------------------------------------------------------------------------------

    def _callee(self, name: str, call: ast.Call) -> str:
        """What a method's receiver is when the scan could not say: `client.get` of `with
        httpx.Client() as client` is `httpx.Client().get`; `self.session.get` of `self.session =
        session or requests.Session()` is `requests.Session().get`."""
        func = call.func
        if type(func) is not ast.Attribute or _NET_MODULES.match(name):
            return name
        receiver = func.value
        raw = _raw(receiver)
        values: list[ast.AST] = []
        if type(receiver) is ast.Name and receiver.id in self.extra and receiver.id not in self.names.bindings:
            values = self.extra[receiver.id]
        elif raw is not None and raw in self.names.bindings:
            values = [v for _, v in self.names.bindings[raw] if isinstance(v, ast.AST)]
        for value in values:
            alternatives = value.values if type(value) is ast.BoolOp else [value]
            for alternative in alternatives:
                ref = self.names.ref(alternative)
                if ref is not None and (_NET_MODULES.match(ref.name) or len(values) == 1 and type(value) is ast.Call):
                    return f"{ref.name}.{func.attr}"
        return name

    def _call(self, name: str, call: ast.Call, computed: tuple) -> None:
        func: Node = call.func
        method = func.attr if type(func) is ast.Attribute else ""
        if name in _ENV_GET and call.args:
            env = self.names.string(call.args[0])
            if env and _SECRET_NAME.search(env.upper()):
                self.add("secret-env", f"${env}", call)
        if name in _OPENERS or method in ("read_text", "read_bytes", "open", "write_text", "write_bytes", "touch"):
            self._file(name, method, call)
        elif name in _COPY_TO and len(call.args) >= 2:
            self._write(self._path(call.args[1]), call, self._taint_of(call.args[0]))
            self._read(self._path(call.args[0]), call)
        if name in _DELETERS or method in ("unlink", "rmdir") and _is_path(self, func.value):
            node = call.args[0] if name in _DELETERS and call.args else getattr(call.func, "value", None)
            self._delete(self._path(node) if node is not None else None, call)
        if name in _SCANNERS or method in ("glob", "rglob", "iterdir"):
            node = call.args[0] if name in _SCANNERS and call.args else getattr(func, "value", None)
            path = self._path(node) if node is not None else None
            if path is not None and method in ("glob", "rglob") and call.args:
                path = _join([path, self._path(call.args[0]) or HOLE])
            if path and (_SECRET_PATH.search(path) or _SECRET_PATH.search(path.rstrip("*/") + "/")):
                self.add("sensitive-read", f"{path.rstrip('/*')} (scans it)", call)
        if _SPAWN.match(name):
            self._process(name, call)
        elif _NET_MODULES.match(name) and name.rsplit(".", 1)[-1] in _NET_VERBS or method in ("sendall", "sendto"):
            self._network(name, call)
        if name in _DYNAMIC and call.args and type(call.args[0]) is not ast.Constant:
            self.add("dynamic-code", f"{name.rsplit('.', 1)[-1]}(…)", call)
        if name in _IMPORTERS and call.args and type(call.args[0]) is not ast.Constant:
            pattern = self.names.string(call.args[0]) or HOLE
            if pattern.startswith(HOLE):  # `import_module(f"myapp.plugins.{name}")` stays in its package
                self.add("dynamic-code", f"computed name {pattern}", call)
        for site in computed:
            if not site.literal and (site.kind == "module" or site.owner in self._imported):
                self.add("dynamic-code", f"computed name {site.owner + '.' if site.owner else ''}{site.pattern}", call)
        if name in _DESERIALIZERS or name == "yaml.load" and not _safe_loader(call, self.names):
            self.add("deserialization", name, call)
        if name.endswith("jwt.decode"):
            if _verify_off(call, self.names):
                self.add("verify-off", "JWT signature verification", call)
        elif _keyword_false(call, "verify") and _NET_MODULES.match(name):
            self.add("verify-off", "TLS certificate verification", call)
        if name in ("ssl._create_unverified_context",):
            self.add("verify-off", "TLS certificate verification", call)
        if method == "write" and call.args:
            opened = self._opened(func.value)
            if opened is not None:
                self._write(opened, call, self._taint_of(call.args[0]))

    @cached_property
    def _imported(self) -> set[str]:
        """Names bound by an import: `getattr(os, name)` looks in a module."""
        return {name for name, bound in self.names.bindings.items() if any(isinstance(v, str) for _, v in bound)}

    def _file(self, name: str, method: str, call: ast.Call) -> None:
        func: Node = call.func
        if name in _OPENERS:
            path = self._path(call.args[0]) if call.args else None
            mode = _mode(call, 1, self.names)
        else:
            path = self._path(func.value) if _is_path(self, func.value) else None
            mode = "w" if method in ("write_text", "write_bytes", "touch") else _mode(call, 0, self.names)
        if path is None:
            return
        if _WRITE_MODE & set(mode):
            content = call.args[0] if method in ("write_text", "write_bytes") and call.args else None
            self._write(path, call, self._taint_of(content) if content is not None else frozenset())
        else:
            self._read(path, call)

    def _opened(self, node: ast.AST) -> str | None:
        """The path a file object was opened for writing at (`with open(p, "a") as f: f.write(…)`)."""
        for value in self._values(node):
            if type(value) is ast.Call:
                ref = self.names.ref(value.func)
                if (
                    ref is not None
                    and ref.name in _OPENERS
                    and value.args
                    and _WRITE_MODE & set(_mode(value, 1, self.names))
                ):
                    return self._path(value.args[0])
        return None

    def _read(self, path: str | None, call: ast.Call) -> None:
        if path and reported_read(path):
            self.add("sensitive-read", path, call)

    def _process(self, name: str, call: ast.Call) -> None:
        first = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg in ("args", "cmd")), None)
        if name.startswith("os.exec") or name.startswith("os.spawn") or name.startswith("os.posix_spawn"):
            first = call.args[1 if name.startswith("os.spawn") else 0] if len(call.args) > 1 else first
        if first is None:
            return
        argv = self.names.sequence(first)
        command = shell.shell_command(argv) if argv else None
        if argv is None or command is None and (name in ("os.system", "os.popen") or "shell" in name):
            command = self.names.string(first)
            argv = None
        # `env=dict(os.environ, …)` is the child's environment (it inherits it anyway), not a leak.
        taint: set[str] = set()
        for arg in call.args:
            taint |= self._taint_of(arg)
        for keyword in call.keywords:
            if keyword.arg != "env":
                taint |= self._taint_of(keyword.value)
        via = ", ".join(sorted(taint))
        if command is not None:
            self._shell(command, call, via)
        elif argv:
            program = argv[0].rsplit("/", 1)[-1] or HOLE
            self._program(program, argv[1:], call, via)

    def _network(self, name: str, call: ast.Call) -> None:
        host = self._host(call, name)
        method = self._method(call, name)
        taint: set[str] = set()
        for arg in call.args:
            taint |= self._taint_of(arg)
        for keyword in call.keywords:
            found = self._taint_of(keyword.value)
            # An API key in a header is how the API is called; a file's secret or the whole
            # environment there is a leak all the same.
            taint |= {t for t in found if not t.startswith("$")} if keyword.arg in _AUTH_KEYWORDS else found
        if type(call.func) is ast.Attribute:  # `sock.sendall(data)` carries what `sock` was made with
            taint |= self._taint_of(call.func.value) if name.endswith(("sendall", "send", "sendto")) else set()
        if taint:
            self.add("secret-to-network", host, call, ", ".join(sorted(taint)), method)
        else:
            self.add("network", host, call, method=method)

    def _method(self, call: ast.Call, name: str) -> str:
        """The HTTP method a call says: `requests.post` → POST; `request("GET", …)`, `method="PUT"`."""
        verb = name.rsplit(".", 1)[-1]
        if verb in _HTTP_VERBS and _HTTP_CLIENTS.match(name):
            return verb.upper()
        if verb not in _METHOD_FIRST:
            return ""
        node = next((k.value for k in call.keywords if k.arg == "method"), call.args[0] if call.args else None)
        text = self.names.string(node) if node is not None else None
        return text.upper() if text and text.upper() in _HTTP_METHODS else ""

    def _host(self, call: ast.Call, name: str) -> str:
        verb = name.rsplit(".", 1)[-1]
        node: ast.AST | None = call.args[0] if call.args else None
        if verb in _METHOD_FIRST:  # `request(method, url, …)`: the first argument is the method
            node = call.args[1] if len(call.args) > 1 else None
        for keyword in call.keywords:
            if keyword.arg in ("url", "host", "address", "fullurl"):
                node = keyword.value
        connection = verb in _METHOD_FIRST and name.startswith("http.client.")
        if connection or verb in ("send", "sendall", "sendmail", "send_message", "storbinary"):
            if type(call.func) is ast.Attribute:
                # the host `conn`, `sock` or `smtp` was opened for (`conn.request` names a path)
                node = self._receiver_address(call.func.value)
        elif name.endswith("sendto") and len(call.args) > 1:
            node = call.args[1]
        if node is None:
            return "a host set elsewhere"
        value: Node
        for value in self._values(node):
            if type(value) is ast.Call:  # `urlopen(Request(url, …))`
                inner = self.names.ref(value.func)
                if inner is not None and inner.name.endswith("Request") and value.args:
                    value = value.args[0]
            if type(value) in (ast.Tuple, ast.List) and value.elts:  # `connect(("203.0.113.5", 4444))`
                value = value.elts[0]
            text = self.names.string(value)
            if text:
                if verb.startswith(("gethostbyname", "getaddrinfo")) or "://" not in text:
                    return _shorten(text.split("/")[0].split(":")[0] if "://" not in text else text)
                try:
                    host = urlsplit(text).hostname
                except ValueError:
                    host = None
                return host or HOLE
        return "a host computed at run time"

    def _receiver_address(self, receiver: ast.AST) -> ast.AST | None:
        """The address a connection object was made for: `socket.create_connection((h, p))`,
        `smtplib.SMTP(h)`, or a `connect((h, p))` called on the same name."""
        for value in self._values(receiver):
            if type(value) is ast.Call:
                ref = self.names.ref(value.func)
                if ref is not None and _NET_MODULES.match(ref.name) and "socket.socket" not in ref.name:
                    host = next((k.value for k in value.keywords if k.arg in ("host", "address")), None)
                    if host is not None or value.args:
                        return host if host is not None else value.args[0]
        raw = _raw(receiver)
        for ref, call in self.scan.calls:
            if ref is not None and raw is not None and ref.name.endswith(".connect") and call.args:
                if _raw(call.func.value) == raw:  # type: ignore[attr-defined]
                    return call.args[0]
        return None

    # -- values and secrets ------------------------------------------------------------------------

    def _values(self, node: Node, depth: int = 0) -> Iterator[ast.AST]:
        """`node`, or what a name stands for (its bindings, `with`/`for` targets), the last binding
        first (as `checks.names` resolves a name)."""
        if type(node) is ast.Name:
            bound = [v for _, v in self.names.bindings.get(node.id, ()) if isinstance(v, ast.AST)]
            bound = bound[::-1] + self.extra.get(node.id, [])
            if bound and depth < 4:
                for value in bound:
                    yield from self._values(value, depth + 1)
                return
        elif type(node) is ast.Subscript and depth < 4:  # `PATHS[0]`: the literal it picks
            item = self.names.item(node)
            if item is not None:
                yield from self._values(item, depth + 1)
                return
        yield node

    def _taint_of(self, node: Node, depth: int = 0) -> frozenset[str]:
        """The secret sources whose value reaches the expression `node`."""
        if node is None or depth > _MAX_DEPTH:
            return frozenset()
        cached = self._taint.get(id(node))
        if cached is not None:
            return cached
        self._taint[id(node)] = frozenset()  # a cycle through bindings adds nothing
        found = frozenset(self._sources(node, depth))
        self._taint[id(node)] = found
        return found

    def _sources(self, node: Node, depth: int) -> Iterator[str]:
        kind = type(node)
        if kind is ast.Constant:
            return
        if kind is ast.Name:
            if node.id in self._busy:
                return
            self._busy.add(node.id)
            try:
                bound = [v for _, v in self.names.bindings.get(node.id, ()) if isinstance(v, ast.AST)]
                for value in bound + self.extra.get(node.id, []):
                    yield from self._taint_of(value, depth + 1)
                if not bound:
                    yield from self._argument_taint(node.id, depth)
            finally:
                self._busy.discard(node.id)
            return
        if kind is ast.Attribute or kind is ast.Subscript or kind is ast.Call:
            ref = self.names.ref(node.func if kind is ast.Call else node)
            name = ref.name if ref is not None else ""
            if name in ("os.environ", "os.environ.copy", "os.environ.items", "os.environ.values", "environ"):
                yield "os.environ"
                return
            if kind is ast.Subscript and _raw(node.value) in ("os.environ", "environ"):
                env = self.names.string(node.slice)
                if env and _SECRET_NAME.search(env.upper()):
                    yield f"${env}"
                return
            if kind is ast.Call and name in _ENV_GET:
                env = self.names.string(node.args[0]) if node.args else None
                if env and _SECRET_NAME.search(env.upper()):
                    yield f"${env}"
                return
            if kind is ast.Call:
                path = self._read_path(name, node)
                if path and _SECRET_PATH.search(path):
                    yield path
            if kind is ast.Attribute:
                raw = _raw(node)
                if raw is not None and raw in self.names.bindings:
                    for _, held in self.names.bindings[raw]:
                        if isinstance(held, ast.AST):
                            yield from self._taint_of(held, depth + 1)
        for child in ast.iter_child_nodes(node):
            if type(child) not in (ast.Load, ast.Store):
                yield from self._taint_of(child, depth + 1)

    def _argument_taint(self, param: str, depth: int) -> Iterator[str]:
        """A parameter carries what the module passes for it (`send(open(key).read())`)."""
        places = self.params.get(param)
        if not places:
            return
        if self._calls_by_name is None:  # built once, on the first parameter followed
            self._calls_by_name = {}
            for ref, call in self.scan.calls:
                if ref is not None:
                    self._calls_by_name.setdefault(ref.name.rsplit(".", 1)[-1], []).append(call)
        for function, index in places:
            for call in self._calls_by_name.get(function, ()):
                for keyword in call.keywords:
                    if keyword.arg == param:
                        yield from self._taint_of(keyword.value, depth + 1)
                if 0 <= index < len(call.args):
                    yield from self._taint_of(call.args[index], depth + 1)

    def _read_path(self, name: str, call: ast.Call) -> str | None:
        if name in _OPENERS and call.args:
            return self._path(call.args[0])
        if type(call.func) is ast.Attribute and call.func.attr in ("read_text", "read_bytes", "open"):
            return self._path(call.func.value) if _is_path(self, call.func.value) else None
        return None

    def _path(self, node: Node, depth: int = 0) -> str | None:
        """The path an expression spells, `~` for the home folder; HOLE for unknown parts."""
        if node is None or depth > 8:
            return None
        kind = type(node)
        if kind is ast.Call:
            ref = self.names.ref(node.func)
            name = ref.name if ref is not None else ""
            if name in _HOME_CALLS and not node.args:
                return "~"
            if name in ("os.path.expanduser", "os.path.expandvars", "os.path.abspath", "os.path.realpath", "str"):
                return self._path(node.args[0], depth + 1) if node.args else None
            if name in ("os.path.join", "posixpath.join") or name in _PATH_TYPES:
                return _join([self._path(a, depth + 1) or HOLE for a in node.args]) if node.args else None
            if name in _ENV_GET and node.args and self.names.string(node.args[0]) == "HOME":
                return "~"
            if name == "site.getusersitepackages":
                return "~/.local/lib/python3/site-packages"
            if name in ("glob.glob", "glob.iglob") and node.args:  # `for p in glob("/var/log/*")`
                return self._path(node.args[0], depth + 1)
            if type(node.func) is ast.Attribute and node.func.attr in ("expanduser", "resolve", "absolute", "joinpath"):
                base = self._path(node.func.value, depth + 1)
                extra = [self._path(a, depth + 1) or HOLE for a in node.args]
                return _join([base, *extra]) if base is not None else None
        elif kind is ast.BinOp and isinstance(node.op, ast.Div):
            left = self._path(node.left, depth + 1)
            return _join([left, self._path(node.right, depth + 1) or HOLE]) if left is not None else None
        elif kind is ast.BinOp and isinstance(node.op, ast.Add):
            left, right = self._path(node.left, depth + 1), self._path(node.right, depth + 1)
            if left is None and right is None:
                return None
            return (left or HOLE) + (right or HOLE)
        elif kind is ast.JoinedStr:
            parts = [self._path(v.value if type(v) is ast.FormattedValue else v, depth + 1) for v in node.values]
            return "".join(p or HOLE for p in parts)
        elif kind is ast.Subscript and _raw(node.value) in ("os.environ", "environ"):
            return "~" if self.names.string(node.slice) == "HOME" else None
        elif kind is ast.Subscript:  # `PATHS[0]` of `PATHS = [Path.home() / ".aws" / "credentials"]`
            item = self.names.item(node)
            if item is not None:
                return self._path(item, depth + 1)
        elif kind is ast.Name:
            for value in self._values(node):
                if value is not node:
                    found = self._path(value, depth + 1)
                    if found is not None:
                        return found
        text = self.names.string(node)
        return _home(text) if text is not None else None


def reported_read(path: str) -> bool:
    """Whether reading `path` is a `sensitive-read`: a secret path, but not the project's own `.env`
    (relative, or under a folder the module computes), which is how an app loads its settings. That
    file is still a secret source: sending what was read from it is a leak all the same."""
    if not _SECRET_PATH.search(path):
        return False
    return not (_PROJECT_ENV.search(path) and not _outside(path))


def _is_path(analysis: _Analysis, node: ast.AST) -> bool:
    """Whether `node` is a pathlib path the module spells (not `requests.get(…).open`)."""
    for value in analysis._values(node):
        if type(value) is ast.BinOp and isinstance(value.op, ast.Div):
            return True
        if type(value) is ast.Call:
            ref = analysis.names.ref(value.func)
            name = ref.name if ref is not None else ""
            if name in _PATH_TYPES or name in _HOME_CALLS or name.startswith("pathlib."):
                return True
            if type(value.func) is ast.Attribute and value.func.attr in ("expanduser", "resolve", "joinpath"):
                return True
    return False


def _method(cap: Capability) -> dict[str, str]:
    return {"method": cap.method} if cap.method else {}


def _names_in(target: ast.AST) -> list[str]:
    if type(target) is ast.Name:
        return [target.id]
    if type(target) in (ast.Tuple, ast.List):
        return [n for elt in target.elts for n in _names_in(elt)]  # type: ignore[attr-defined]
    return []


def _home(text: str) -> str:
    """`$HOME/x`, `${HOME}/x`, `/root/x` → `~/x`."""
    for prefix in ("${HOME}", "$HOME", "/root"):
        if text == prefix or text.startswith(prefix + "/"):
            return "~" + text[len(prefix) :]
    return text


def _join(parts: list[str | None]) -> str | None:
    path = ""
    for part in parts:
        if part is None:
            return None
        path = part if part.startswith(("/", "~")) or not path else f"{path.rstrip('/')}/{part}"
    return _home(path)


def _outside(path: str) -> bool:
    """A path outside the project and scratch: the home folder or an absolute path (the document
    runs in the workspace, so a relative path is the project's)."""
    if path.startswith(_SCRATCH) or path.startswith(HOLE):
        return False
    return path.startswith(("~", "/"))


def _mode(call: ast.Call, index: int, names: Names) -> str:
    for keyword in call.keywords:
        if keyword.arg == "mode":
            return names.string(keyword.value) or ""
    if len(call.args) > index:
        return names.string(call.args[index]) or ""
    return "r"


def _keyword_false(call: ast.Call, name: str) -> bool:
    return any(k.arg == name and type(k.value) is ast.Constant and k.value.value is False for k in call.keywords)


def _verify_off(call: ast.Call, names: Names) -> bool:
    if _keyword_false(call, "verify"):
        return True
    for keyword in call.keywords:
        if keyword.arg == "options" and type(keyword.value) is ast.Dict:
            for key, value in zip(keyword.value.keys, keyword.value.values, strict=False):
                if key is not None and names.string(key) == "verify_signature":
                    return type(value) is ast.Constant and value.value is False
        if keyword.arg == "algorithms":
            items = names.sequence(keyword.value) or []
            if any(i.lower() == "none" for i in items):
                return True
    return False


def _safe_loader(call: ast.Call, names: Names) -> bool:
    loader = next((k.value for k in call.keywords if k.arg == "Loader"), call.args[1] if len(call.args) > 1 else None)
    ref = names.ref(loader) if loader is not None else None
    return ref is not None and ref.name.rsplit(".", 1)[-1] in ("SafeLoader", "CSafeLoader", "BaseLoader")


def _shorten(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "…"
