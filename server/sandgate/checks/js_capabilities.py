"""What a JavaScript or TypeScript module can do, read from its tree: the capabilities of
`checks.capabilities`, for the JS units.

The same kinds, severities and rule names as Python's (`capability.<kind>`), so the presets, the
summary ("adds: network → collector.example.net (sends $AWS_SECRET_ACCESS_KEY)") and the findings
do not depend on the language: network destinations (`fetch`, `axios`, `http(s)`, `net`, `tls`,
`dns`, `WebSocket`), processes (`child_process`, with the command's shell pipeline read as
Python's is), sensitive reads, writes and deletions outside the project, persistence, a shell
wired to a socket, dynamic code, deserialization, TLS checks turned off, and environment reads of
secret names. Flows follow `js_scan`'s bindings (flow-insensitive, per scope, enclosing scopes
included): a secret source — `process.env.NAME` of a secret name, `process.env` whole, what was
read from a secret path, a callback's parameter fed by such a read — reaching a network call,
a process or a file outside the project. An environment secret in a request's `headers` or
`auth` is how an API is called, not a leak. Pure functions; never raises on odd code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from urllib.parse import urlsplit

from sandgate.checks.capabilities import (
    _HTTP_METHODS,
    _SECRET_NAME,
    _SECRET_PATH,
    _SHELLS,
    Capability,
    Sinks,
    _home,
    _join,
    _shorten,
    reported_read,
)
from sandgate.checks.js_parse import Node, parse_js, text
from sandgate.checks.js_scan import FUNCTIONS, Call, JsScan, Sources, Values, arguments, dotted, scan, string_value
from sandgate.checks.js_scan import HOLE as JS_HOLE
from sandgate.checks.shell import HOLE

_MAX_DEPTH = 12


def _fs(*names: str) -> frozenset[str]:
    """`fs.x`, `fs/promises.x`, `fs.promises.x` and the `…Sync` forms are the same file operation."""
    out: set[str] = set()
    for name in names:
        for base in ("fs", "fs/promises", "fs.promises", "fs-extra", "graceful-fs"):
            out.add(f"{base}.{name}")
            out.add(f"{base}.{name}Sync")
    return frozenset(out)


_READS = _fs("readFile", "createReadStream", "open", "readdir", "opendir", "cp", "copy")
_WRITES = _fs("writeFile", "appendFile", "createWriteStream", "outputFile", "writeJson", "outputJson")
_COPIES = _fs("copyFile", "rename", "cp", "copy", "move", "symlink", "link")  # (from, to)
_DELETES = _fs("rm", "rmdir", "unlink", "remove", "emptyDir")
_PROCESS = re.compile(
    r"^(child_process\.(exec|execSync|execFile|execFileSync|spawn|spawnSync|fork)"
    r"|execa(\.(command|commandSync|sync|node))?|shelljs\.exec|cross-spawn(\.sync)?|Bun\.spawn(Sync)?)$"
)
_SHELL_STRING = re.compile(r"^(child_process\.(exec|execSync)|shelljs\.exec|execa\.command(Sync)?)$")
_NET = re.compile(
    r"^(fetch|node-fetch|undici\.(fetch|request|stream)|axios(\.(get|post|put|patch|delete|head|request|options))?"
    r"|got(\.(get|post|put|patch|delete|head|stream))?|needle(\.(get|post|put|request))?"
    r"|superagent\.(get|post|put|patch|delete)|request(\.(get|post|put))?|https?\.(get|request)"
    r"|net\.(connect|createConnection)|tls\.connect|http2\.connect|dgram\.createSocket\(\)\.send"
    r"|dns(/promises)?\.(lookup|resolve\w*)|dns\.promises\.(lookup|resolve\w*))$"
)
_SOCKETS = re.compile(r"^(net\.(connect|createConnection|Socket)|tls\.connect|WebSocket|ws)$")
_AUTH_PROPS = frozenset({"headers", "auth", "Authorization", "authorization", "cookies", "cert", "key"})
_DYNAMIC = frozenset(
    {
        "eval", "Function", "vm.runInNewContext", "vm.runInThisContext", "vm.runInContext", "vm.Script",
        "vm.compileFunction", "vm.SourceTextModule", "setTimeout", "setInterval",
    }
)  # fmt: skip
_DESERIALIZERS = frozenset({"node-serialize.unserialize", "serialize-to-js.deserialize", "funcster.deepDeserialize"})
_HOME_CALLS = frozenset({"os.homedir", "os.userInfo().homedir", "process.cwd"})
_HOME_ENV = frozenset({"HOME", "USERPROFILE"})
_PATH_JOIN = frozenset({"path.join", "path.resolve", "path.posix.join", "path.posix.resolve"})
_JS_PERSISTENCE = re.compile(r"(^|/)\.git/hooks/|(^|/)\.npmrc$|(^|/)\.yarnrc|(^|/)\.node_repl_history$")
_ENV = "process.env"
# `Values` without request data: the capability analysis asks only what strings spell.
_NO_SOURCES = Sources((), frozenset(), ())


def capabilities(scanned: JsScan) -> list[Capability]:
    """Everything the scanned module can do, in source order, without repeats."""
    return _Analysis(scanned).run()


@lru_cache(maxsize=16)
def document_capabilities(code: str, grammars: tuple[str, ...]) -> frozenset[tuple[str, str, str]] | None:
    """The capability keys of a whole document (before the suggestion); None when it does not
    parse. Cached: an editor vets several candidates against the same document."""
    tree = parse_js(code, grammars)
    if tree.broken:
        return None
    return frozenset(c.key for c in capabilities(scan(tree)))


def _unhole(value: str) -> str:
    return value.replace(JS_HOLE, HOLE)


class _Analysis(Sinks):
    project_persistence = _JS_PERSISTENCE

    def __init__(self, scanned: JsScan) -> None:
        super().__init__()
        self.scan = scanned
        self.values = Values(scanned, _NO_SOURCES)
        self._taint: dict[int, frozenset[str]] = {}
        self._busy: set[tuple[int, str]] = set()
        self._secret_callbacks = self._callbacks_of_secret_reads()
        self._socket_scopes = {
            c.scope.id for c in scanned.calls if _SOCKETS.match(c.name) or c.name.endswith("net.Socket")
        }

    def lines(self, node: Node) -> tuple[int, int]:
        return node.start_point[0] + 1, node.end_point[0] + 1

    def wired_to_socket(self, where: Node) -> bool:
        return self._near_socket(where)

    def run(self) -> list[Capability]:
        self._env_reads()
        for call in self.scan.calls:
            try:
                self._call(call)
            except RecursionError:  # pathological nesting: what was found stands
                continue
        for prop in self.scan.props:
            if prop.key == "rejectUnauthorized" and prop.value is not None and prop.value.type == "false":
                self.add("verify-off", "TLS certificate verification", prop.node)
        for assign in self.scan.assigns:
            if assign.target.endswith("env.NODE_TLS_REJECT_UNAUTHORIZED"):
                if self.values.spelled(assign.value, assign.scope) == "0":
                    self.add("verify-off", "TLS certificate verification", assign.node)
        leaked = {c.target for c in self.out.values() if c.kind == "secret-to-network"}
        found = [c for c in self.out.values() if not (c.kind == "network" and c.target in leaked)]
        return sorted(found, key=lambda c: (c.line, c.kind))

    # -- what each call does ---------------------------------------------------------------------

    def _call(self, call: Call) -> None:
        name, args = call.name, call.args
        if name in _READS and args:
            path = self._path(args[0], call.scope)
            if path and reported_read(path):
                suffix = " (scans it)" if "readdir" in name or "opendir" in name else ""
                self.add("sensitive-read", path.rstrip("/") + suffix, call.node)
        if name in _WRITES and args:
            content = args[1] if len(args) > 1 else None
            self._write(self._path(args[0], call.scope), call.node, self._taint_of(content, call.scope))
        if name in _COPIES and len(args) >= 2:
            source = self._path(args[0], call.scope)
            taint = frozenset({source}) if source and _SECRET_PATH.search(source) else frozenset()
            self._write(self._path(args[1], call.scope), call.node, taint)
        if name in _DELETES and args:
            self._delete(self._path(args[0], call.scope), call.node)
        if _PROCESS.match(name) and args:
            self._process(call)
        elif _NET.match(name) or call.new and name in ("WebSocket", "ws", "EventSource"):
            self._network(call)
        # The code is the first argument; `new Function(a, b, body)`'s is the last. A timer's name
        # argument is a function far more often than a string.
        code = args[-1] if name == "Function" and args else args[0] if args else None
        if name in _DYNAMIC and code is not None and not self.values.constant(code, call.scope):
            if name not in ("setTimeout", "setInterval") or code.type not in FUNCTIONS | {"identifier"}:
                self.add("dynamic-code", f"{name.rsplit('.', 1)[-1]}(…)", call.node)
        if name in _DESERIALIZERS:
            self.add("deserialization", name, call.node)
        if name.endswith((".write", ".end", ".send")) and args:
            self._sent(call)

    def _sent(self, call: Call) -> None:
        """`req.write(data)`, `req.end(data)`, `socket.write(data)`, `ws.send(data)` on a connection
        this module opened: what is written goes to that connection's host."""
        function = call.node.child_by_field_name("function")
        receiver = function.child_by_field_name("object") if function is not None else None
        if receiver is None:
            return
        made = [receiver] if receiver.type in ("call_expression", "new_expression") else []
        if receiver.type == "identifier":
            made = [
                v
                for v in self.scan.values(text(receiver), call.scope)
                if v.type in ("call_expression", "new_expression")
            ]
        for node in made:
            new = node.type == "new_expression"
            inner = dotted(node.child_by_field_name("constructor" if new else "function"), self.scan.aliases)
            if _NET.match(inner) or _SOCKETS.match(inner):
                opened = Call(inner, node, arguments(node), call.scope, new)
                taint: set[str] = set()
                for arg in call.args:
                    taint |= self._taint_of(arg, call.scope)
                if taint:
                    self.add("secret-to-network", self._host(opened), call.node, ", ".join(sorted(taint)))
                return

    def _env_reads(self) -> None:
        for name, node in self._secret_env_names():
            self.add("secret-env", f"${name}", node)

    def _secret_env_names(self) -> Iterator[tuple[str, Node]]:
        """`process.env.NAME`, `process.env['NAME']` and `const { NAME } = process.env` of secret names."""
        if _ENV not in self.scan.tree.text:
            return
        root = self.scan.tree.root
        stack = [root]
        while stack:
            node = stack.pop()
            if node.type in ("member_expression", "subscript_expression"):
                name = self._env_name(node)
                parent = node.parent
                written = parent is not None and parent.type == "assignment_expression" and parent.child(0) == node
                if name and not written and _SECRET_NAME.search(name.upper()):
                    yield name, node
            elif node.type == "variable_declarator":
                pattern, value = node.child_by_field_name("name"), node.child_by_field_name("value")
                if pattern is not None and pattern.type == "object_pattern" and value is not None:
                    if dotted(value) == _ENV:
                        for prop in pattern.named_children:
                            key = prop.child_by_field_name("key") or prop
                            name = text(key)
                            if _SECRET_NAME.search(name.upper()):
                                yield name, node
            stack.extend(reversed(node.named_children))

    def _env_name(self, node: Node) -> str | None:
        """NAME of `process.env.NAME` / `process.env['NAME']`; None for anything else."""
        chain = dotted(node)
        if chain.startswith(_ENV + ".") and chain.count(".") == 2 and not chain.endswith("[]"):
            return chain.rsplit(".", 1)[-1]
        return None

    def _process(self, call: Call) -> None:
        args, scope = call.args, call.scope
        taint: set[str] = set()
        for arg in args:
            if arg.type == "object" and self._env_option_only(arg):
                continue  # `{ env: { ...process.env, X } }`: the child's environment, inherited anyway
            taint |= self._taint_of(arg, scope)
        via = ", ".join(sorted(taint))
        shell_opt = any(
            p.key == "shell" and p.value is not None and p.value.type != "false" and _inside(p.node, call.node)
            for p in self.scan.props
        )
        first = args[0]
        if _SHELL_STRING.match(call.name) or shell_opt and first.type != "array":
            command = _unhole(self.values.spelled(first, scope))
            if shell_opt and len(args) > 1 and args[1].type == "array":
                command += " " + " ".join(_unhole(self.values.spelled(a, scope)) for a in args[1].named_children)
            self._shell(command, call.node, via, scope)
            return
        program = _unhole(self.values.spelled(first, scope)).rsplit("/", 1)[-1] or HOLE
        rest = args[1].named_children if len(args) > 1 and args[1].type == "array" else []
        words = [_unhole(self.values.spelled(a, scope)) for a in rest]
        if program in _SHELLS and "-c" in words:
            index = words.index("-c")
            if index + 1 < len(words):
                self._shell(words[index + 1], call.node, via, scope)
                return
        self._program(program, words, call.node, via, where=scope)

    def _env_option_only(self, node: Node) -> bool:
        pairs = [c for c in node.named_children if c.type == "pair"]
        return bool(pairs) and all(text(p.child_by_field_name("key")) in ("env", "cwd", "stdio") for p in pairs)

    def _near_socket(self, scope: Node) -> bool:
        """A socket is made in this scope or one around it (`net.connect` beside `spawn('/bin/sh')`)."""
        return any(s.id in self._socket_scopes for s in self.scan.scopes(scope)) or any(
            c.scope.id == scope.id or _inside(c.scope, scope) for c in self.scan.calls if _SOCKETS.match(c.name)
        )

    def _network(self, call: Call) -> None:
        host = self._host(call)
        taint: set[str] = set()
        for arg in call.args:
            taint |= self._taint_of(arg, call.scope, auth=True)
        if call.name.startswith("dns"):  # the name looked up is what leaves
            taint |= self._taint_of(call.args[0], call.scope) if call.args else set()
        method = self._method(call)
        if taint:
            self.add("secret-to-network", host, call.node, ", ".join(sorted(taint)), method)
        else:
            self.add("network", host, call.node, method=method)

    def _method(self, call: Call) -> str:
        """The HTTP method a call says, as Python's analysis reads it: `axios.post` → POST; a
        `method: 'PUT'` in the options (`fetch(url, { method })`, `https.request({ method })`)."""
        verb = call.name.rsplit(".", 1)[-1]
        if call.name.startswith("axios.") and verb.upper() in _HTTP_METHODS:
            return verb.upper()
        for arg in call.args:
            node = self._prop(arg, ("method",)) if arg.type == "object" else None
            if node is not None:
                value = _unhole(self.values.spelled(node, call.scope)).upper()
                return value if value in _HTTP_METHODS else ""
        return ""

    def _host(self, call: Call) -> str:
        args, scope = call.args, call.scope
        if not args:
            return "a host set elsewhere"
        if call.name.startswith(("net.", "tls.")) and len(args) > 1 and args[0].type == "number":
            node: Node | None = args[1]  # `net.connect(4444, '203.0.113.5')`
        elif args[0].type == "object":
            node = self._prop(args[0], ("hostname", "host", "url", "baseURL"))
        else:
            node = args[0]
        if node is None:
            return "a host set elsewhere"
        value = _unhole(self.values.spelled(node, scope))
        if value.startswith(HOLE) or not value:
            return "a host computed at run time"
        if "://" not in value:
            return _shorten(value.split("/")[0].split(":")[0])
        try:
            host = urlsplit(value).hostname
        except ValueError:
            host = None
        return host or HOLE

    @staticmethod
    def _prop(obj: Node, keys: tuple[str, ...]) -> Node | None:
        for pair in obj.named_children:
            if pair.type == "pair" and text(pair.child_by_field_name("key")).strip("'\"") in keys:
                return pair.child_by_field_name("value")
        return None

    # -- files ---------------------------------------------------------------------------------

    def _path(self, node: Node | None, scope: Node, depth: int = 0) -> str | None:
        """The path an expression spells, `~` for the home folder, HOLE for unknown parts."""
        if node is None or depth > 8:
            return None
        kind = node.type
        if kind in ("await_expression", "parenthesized_expression", "as_expression", "non_null_expression"):
            return self._path(node.named_children[0], scope, depth + 1) if node.named_children else None
        if kind == "call_expression":
            name = dotted(node.child_by_field_name("function"), self.scan.aliases)
            args = arguments(node)
            if name in _HOME_CALLS and not args:
                return "~"
            if name in _PATH_JOIN and args:
                return _join([self._path(a, scope, depth + 1) or HOLE for a in args])
            if name in ("path.normalize", "String", "fs.realpathSync") and args:
                return self._path(args[0], scope, depth + 1)
            return None
        if kind in ("member_expression", "subscript_expression"):
            chain = dotted(node, self.scan.aliases)
            if chain in _HOME_CALLS or self._env_name(node) in _HOME_ENV:
                return "~"
            item = self._item(node, scope) if kind == "subscript_expression" else None
            return self._path(item, scope, depth + 1) if item is not None else None
        if kind == "template_string":
            parts = []
            for child in node.named_children:
                if child.type == "template_substitution":
                    inner = child.named_children[0] if child.named_children else None
                    parts.append(self._path(inner, scope, depth + 1) or HOLE)
                else:
                    parts.append(text(child))
            return _home("".join(parts))
        if kind == "binary_expression" and text(node.child_by_field_name("operator")) == "+":
            left = self._path(node.child_by_field_name("left"), scope, depth + 1)
            right = self._path(node.child_by_field_name("right"), scope, depth + 1)
            if left is None and right is None:
                return None
            return _home((left or HOLE) + (right or HOLE))
        if kind == "identifier":
            values = self.scan.values(text(node), scope)
            if len(values) == 1:
                return self._path(values[0], scope, depth + 1)
            return None
        value = string_value(node)
        return _home(value) if value is not None else None

    def _item(self, node: Node, scope: Node) -> Node | None:
        """The element a literal index picks from an array or object literal a name is bound to
        (`FILES[0]`, `PATHS['aws']`), as Python's `Names.item` reads one; None otherwise."""
        obj, index = node.child_by_field_name("object"), node.child_by_field_name("index")
        if obj is None or index is None or obj.type != "identifier":
            return None
        values = self.scan.values(text(obj), scope)
        if len(values) != 1:
            return None
        table = values[0]
        items = [c for c in table.named_children if c.type != "comment"]
        if table.type == "array" and index.type == "number" and text(index).isdigit():
            if any(c.type == "spread_element" for c in items):
                return None
            position = int(text(index))
            return items[position] if position < len(items) else None
        key = string_value(index)
        if table.type == "object" and key is not None and all(c.type == "pair" for c in items):
            found = [c for c in items if text(c.child_by_field_name("key")).strip("'\"") == key]
            return found[-1].child_by_field_name("value") if found else None
        return None

    # -- secrets and where they go --------------------------------------------------------------

    def _callbacks_of_secret_reads(self) -> dict[int, str]:
        """Functions passed to a read of a secret path (`fs.readFile(p, (err, data) => …)`), and
        `.then(…)` callbacks on one: their parameters hold the secret. function node id -> path."""
        out: dict[int, str] = {}
        for call in self.scan.calls:
            path: str | None = None
            if call.name in _READS and call.args:
                path = self._path(call.args[0], call.scope)
            elif call.name.endswith(".then"):
                function = call.node.child_by_field_name("function")
                receiver = function.child_by_field_name("object") if function is not None else None
                if receiver is not None and receiver.type == "call_expression":
                    inner = dotted(receiver.child_by_field_name("function"), self.scan.aliases)
                    if inner in _READS and arguments(receiver):
                        path = self._path(arguments(receiver)[0], call.scope)
            if path and _SECRET_PATH.search(path):
                for arg in call.args:
                    if arg.type in FUNCTIONS:
                        out[arg.id] = path
        return out

    def _taint_of(self, node: Node | None, scope: Node, auth: bool = False, depth: int = 0) -> frozenset[str]:
        """The secret sources whose value reaches `node`. `auth`: an environment secret under a
        `headers`/`auth` property is authentication, not a leak (a file's secret there still is)."""
        if node is None or depth > _MAX_DEPTH:
            return frozenset()
        key = node.id * 2 + auth
        cached = self._taint.get(key)
        if cached is not None:
            return cached
        self._taint[key] = frozenset()  # a cycle through bindings adds nothing
        found = frozenset(self._sources(node, scope, auth, depth))
        self._taint[key] = found
        return found

    def _sources(self, node: Node, scope: Node, auth: bool, depth: int) -> Iterator[str]:
        kind = node.type
        if kind in FUNCTIONS or kind in ("string", "number", "true", "false", "null", "comment"):
            return
        if kind == "pair" and auth and text(node.child_by_field_name("key")).strip("'\"") in _AUTH_PROPS:
            found = self._taint_of(node.child_by_field_name("value"), scope, False, depth + 1)
            yield from (s for s in found if not s.startswith("$"))
            return
        if kind in ("member_expression", "subscript_expression"):
            chain = dotted(node)
            if chain == _ENV:
                yield _ENV
                return
            name = self._env_name(node)
            if name is not None:
                if _SECRET_NAME.search(name.upper()):
                    yield f"${name}"
                return
        if kind == "identifier" or kind == "shorthand_property_identifier":  # `{ stats, extra }` too
            yield from self._name_sources(text(node), scope, depth)
            return
        if kind == "call_expression":
            name = dotted(node.child_by_field_name("function"), self.scan.aliases)
            if name in _READS:
                args = arguments(node)
                path = self._path(args[0], scope) if args else None
                if path and _SECRET_PATH.search(path):
                    yield path
        for child in node.named_children:
            yield from self._taint_of(child, scope, auth, depth + 1)

    def _name_sources(self, name: str, scope: Node, depth: int) -> Iterator[str]:
        if name == "process":  # `process` alone is not its environment
            return
        for s in self.scan.scopes(scope):
            busy = (s.id, name)
            if busy in self.scan.bindings:
                if busy in self._busy:
                    return
                self._busy.add(busy)
                try:
                    for value in self.scan.bindings[busy]:
                        if dotted(value) == _ENV and _destructured(value):
                            # `const { AWS_SECRET_ACCESS_KEY } = process.env`: that one variable
                            if _SECRET_NAME.search(name.upper()):
                                yield f"${name}"
                            continue
                        yield from self._taint_of(value, s, False, depth + 1)
                finally:
                    self._busy.discard(busy)
                return
            if name in self.scan.params.get(s.id, ()):
                path = self._secret_callbacks.get(s.id)
                if path is not None:
                    yield path
                return


def _destructured(value: Node) -> bool:
    declarator = value.parent
    pattern = declarator.child_by_field_name("name") if declarator is not None else None
    return pattern is not None and pattern.type == "object_pattern"


def _inside(node: Node, outer: Node) -> bool:
    return outer.start_byte <= node.start_byte and node.end_byte <= outer.end_byte
