"""What the Node sandbox calls after the module body, and how it reaches it: the functions, methods
and callbacks a JavaScript or TypeScript suggestion adds or changes (exercise.py's job for Python).

A module's own bindings are invisible from outside it (CommonJS wraps the module in a function,
ESM has a scope of its own), so the plan also says how to rewrite the program for the run: small
insertions that hand the bootstrap a way to each target, without moving a line of the program.

- a binding the module declares (`function f`, `const f = () => …`, `class C`, `const api = {…}`):
  a getter `() => f` registered at the top of the scope that declares it (the program's start, or
  just inside a top-level block's `{`); called after the module body, it reads the binding as it
  is then. Function declarations are hoisted, so what a failed module body defined is reachable.
- CommonJS exports (`module.exports.f = …`, `exports.f = …`, `module.exports = {…}`): a getter of
  `module.exports` (or `exports`) and the property path.
- a value with no name (`export default function () {}`, `export default {…}`, a callback passed to
  a module-level call such as `app.get('/x', (req, res) => …)`): the expression is wrapped where it
  stands, `S(k, 1, <expr>)`, which registers the value and returns it unchanged.

`S` is `globalThis[Symbol.for('sandgate.exercise')]`, a non-writable function the bootstrap defines
before the program. The program can reach it too, and feed it other values: only the exercise's
reach suffers, never the record (the supervisor records what the calls do, whoever made them).

Pure: the plan comes from tree-sitter's tree and the suggestion's lines. Positions are 1-based
lines and 0-based columns in characters of the original text; TypeScript is stripped with
positions kept (`stripTypeScriptTypes`, mode "strip") before the insertions are made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandgate.checks.js_parse import JsTree, Node, parse_js
from sandgate.sandbox.exercise import MAX_TARGETS

# What runs in the Node sandbox and is exercised (JSX and TSX are static-only).
STATIC_ONLY = (".jsx", ".tsx")
TYPESCRIPT = (".ts", ".mts", ".cts")
REGISTRY = "globalThis[Symbol.for('sandgate.exercise')]"
_FUNCTIONS = ("arrow_function", "function_expression", "function", "generator_function")
_DECLS = ("function_declaration", "generator_function_declaration")
_CLASSES = ("class_declaration", "abstract_class_declaration")
# A call's method names that register a route handler (Express, Koa's router, Fastify's shorthand).
_ROUTES = frozenset(("get", "post", "put", "delete", "patch", "all", "use", "options", "head", "route"))
_TS_KINDS = {"string": "string", "number": "number", "bigint": "number", "boolean": "boolean"}


@dataclass(frozen=True)
class JsTarget:
    qual: str  # what the findings call it: "f", "C.m", "module.exports.f", "app.get('/x')#2"
    line: int
    reach: int  # which registered value leads to it
    path: tuple[str, ...] = ()  # properties from that value to the target
    # call | new (a constructor) | method (of an instance) | static | get | static-get | set | obj
    # (a method of an object: called with it as `this`) | callback
    how: str = "call"
    # (name, kind) per parameter: kind "" (by name), string/number/boolean/array/object (a TS
    # annotation), "default" (has a default: left undefined), "rest", "pattern" (destructured)
    params: tuple[tuple[str, str], ...] = ()
    route: bool = False  # a route handler: its parameters are (req, res, next)
    # The suggestion's statements in its body: (line, column) where each starts (lines reached).
    want: tuple[tuple[int, int], ...] = ()

    def header(self) -> dict[str, Any]:
        return {
            "qual": self.qual,
            "line": self.line,
            "reach": self.reach,
            "path": list(self.path),
            "how": self.how,
            "params": [list(p) for p in self.params],
            "route": self.route,
            "want": [list(w) for w in self.want],
        }


@dataclass(frozen=True)
class JsPlan:
    targets: tuple[JsTarget, ...]
    # (line, column, text) to insert before the run; none adds or removes a line.
    inserts: tuple[tuple[int, int, str], ...]
    # ESM imports (module, names imported by name): a module the sandbox lacks is served as a
    # stand-in module that exports those names.
    imports: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def pairs(self) -> tuple[tuple[str, int], ...]:
        return tuple((t.qual, t.line) for t in self.targets)

    def header(self) -> dict[str, Any]:
        return {
            "targets": [t.header() for t in self.targets],
            "inserts": [list(i) for i in self.inserts],
            "imports": {m: list(names) for m, names in self.imports},
        }


def _text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


class _Planner:
    def __init__(self, tree: JsTree, first: int, last: int) -> None:
        self.tree, self.first, self.last = tree, first, last
        self.lines = tree.source.split(b"\n")
        self.targets: list[JsTarget] = []
        self.inserts: list[tuple[int, int, str]] = []
        self.getters: dict[tuple[int, int], list[str]] = {}  # scope insertion point -> getter texts
        self.reach_of: dict[tuple[tuple[int, int], str], int] = {}
        self.n = 0

    # -- positions -------------------------------------------------------------------------------

    def pos(self, point: Any) -> tuple[int, int]:
        row, byte_col = point
        line = self.lines[row] if row < len(self.lines) else b""
        return row + 1, len(line[:byte_col].decode("utf-8", "replace"))

    def touches(self, node: Node) -> bool:
        return node.start_point[0] + 1 <= self.last and node.end_point[0] + 1 >= self.first

    # -- reaching ---------------------------------------------------------------------------------

    def getter(self, scope: tuple[int, int], expr: str) -> int:
        """The registry index of `() => expr`, registered at `scope`'s insertion point."""
        key = (scope, expr)
        if key not in self.reach_of:
            self.reach_of[key] = self.n
            self.getters.setdefault(scope, []).append(f"{REGISTRY}({self.n},0,()=>{expr});")
            self.n += 1
        return self.reach_of[key]

    def wrap(self, node: Node) -> int:
        """The registry index of the value of expression `node`, wrapped where it stands."""
        k = self.n
        self.n += 1
        self.inserts.append((*self.pos(node.start_point), f"{REGISTRY}({k},1,"))
        self.inserts.append((*self.pos(node.end_point), ")"))
        return k

    # -- targets ------------------------------------------------------------------------------------

    def add(self, qual: str, node: Node, fn: Node | None, reach: int, **kw: Any) -> None:
        params, want = (self.params(fn), self.want(fn)) if fn is not None else ((), ())
        self.targets.append(JsTarget(qual, node.start_point[0] + 1, reach, params=params, want=want, **kw))

    def scope_walk(self, statements: list[Node], scope: tuple[int, int]) -> None:
        for stmt in statements:
            node = stmt
            if node.type == "export_statement":
                inner = node.child_by_field_name("declaration")
                if inner is None:
                    value = node.child_by_field_name("value")
                    if value is not None and self.touches(value):
                        self.default_export(value)
                    continue
                node = inner
            if node.type in ("if_statement", "try_statement", "statement_block", "labeled_statement"):
                self.blocks(node)
                continue
            if not self.touches(node):
                continue
            if node.type in _DECLS:
                name = _text(node.child_by_field_name("name"))
                self.add(name, node, node, self.getter(scope, name))
            elif node.type in _CLASSES:
                name = _text(node.child_by_field_name("name"))
                self.klass(name, node, self.getter(scope, name))
            elif node.type in ("lexical_declaration", "variable_declaration"):
                for decl in node.named_children:
                    if decl.type == "variable_declarator" and self.touches(decl):
                        self.binding(decl, scope)
            elif node.type == "expression_statement" and node.named_children:
                self.expression(node.named_children[0], scope)

    def blocks(self, node: Node) -> None:
        """Statements under a top-level `if`, `try`, `catch`, `finally` or bare block."""
        for child in node.named_children:
            if child.type == "statement_block":
                row, col = self.pos(child.start_point)
                self.scope_walk(child.named_children, (row, col + 1))
            elif child.type in ("else_clause", "catch_clause", "finally_clause", "if_statement"):
                self.blocks(child)

    def binding(self, decl: Node, scope: tuple[int, int]) -> None:
        name_node, value = decl.child_by_field_name("name"), decl.child_by_field_name("value")
        if name_node is None or name_node.type != "identifier" or value is None:
            return
        name = _text(name_node)
        value = _unwrapped(value)
        if value.type in _FUNCTIONS:
            self.add(name, decl, value, self.getter(scope, name))
        elif value.type == "class":
            self.klass(name, value, self.getter(scope, name))
        elif value.type == "object":
            self.obj(name, value, lambda: self.getter(scope, name), ())

    def expression(self, expr: Node, scope: tuple[int, int]) -> None:
        if expr.type == "assignment_expression":
            left, right = expr.child_by_field_name("left"), expr.child_by_field_name("right")
            if left is None or right is None:
                return
            chain = _member_chain(left)
            if (
                not chain
                or chain[0] not in ("module", "exports")
                or (chain[0] == "module" and chain[1:2] != ["exports"])
            ):
                return
            root = "module.exports" if chain[0] == "module" else "exports"
            path = tuple(chain[2:] if chain[0] == "module" else chain[1:])
            right = _unwrapped(right)
            qual = ".".join([root, *path])
            if right.type in _FUNCTIONS:
                self.add(qual, expr, right, self.getter(scope, root), path=path)
            elif right.type == "class":
                self.klass(qual, right, self.getter(scope, root), path)
            elif right.type == "object":
                self.obj(qual, right, lambda: self.getter(scope, root), path)
        elif expr.type in ("call_expression", "await_expression"):
            call = expr.named_children[0] if expr.type == "await_expression" and expr.named_children else expr
            while call is not None and call.type == "call_expression":
                self.callbacks(call)
                callee = call.child_by_field_name("function")
                call = (
                    callee.child_by_field_name("object")
                    if callee is not None and callee.type == "member_expression"
                    else None
                )

    def callbacks(self, call: Node) -> None:
        args = call.child_by_field_name("arguments")
        callee = call.child_by_field_name("function")
        if args is None or callee is None:
            return
        values = [a for a in args.named_children if a.type != "comment"]
        label = next((_text(a) for a in values if a.type in ("string", "template_string")), "")
        name = " ".join(_text(callee).split())
        if len(name) > 60:
            name = name[:57] + "..."
        method = _text(callee.child_by_field_name("property")) if callee.type == "member_expression" else ""
        for index, arg in enumerate(values, 1):
            if arg.type in _FUNCTIONS and self.touches(arg):
                qual = f"{name}({label[:40]})#{index}"
                self.add(qual, arg, arg, self.wrap(arg), how="callback", route=method in _ROUTES)

    def default_export(self, value: Node) -> None:
        value = _unwrapped(value)
        if value.type in _FUNCTIONS:
            self.add("default", value, value, self.wrap(value))
        elif value.type == "class":
            self.klass("default", value, self.wrap(value))
        elif value.type == "object":
            k = self.wrap(value)
            self.obj("default", value, lambda: k, ())

    def obj(self, qual: str, node: Node, reach: Any, path: tuple[str, ...]) -> None:
        for member in node.named_children:
            if not self.touches(member):
                continue
            if member.type == "method_definition":
                key = _key(member.child_by_field_name("name"))
                if key is None:
                    continue
                how = "get" if _has_token(member, "get") else "set" if _has_token(member, "set") else "obj"
                self.add(f"{qual}.{key}", member, member, reach(), path=(*path, key), how=how)
            elif member.type == "pair":
                key, value = _key(member.child_by_field_name("key")), member.child_by_field_name("value")
                if key is not None and value is not None and _unwrapped(value).type in _FUNCTIONS:
                    self.add(f"{qual}.{key}", member, _unwrapped(value), reach(), path=(*path, key), how="obj")

    def klass(self, qual: str, node: Node, reach: int, path: tuple[str, ...] = ()) -> None:
        body = node.child_by_field_name("body")
        members = [m for m in (body.named_children if body is not None else []) if self.touches(m)]
        found = False
        for member in members:
            if member.type == "method_definition":
                key = _key(member.child_by_field_name("name"))
                if key is None:  # a #private or computed name: not reachable from outside
                    continue
                static = _has_token(member, "static")
                if key == "constructor":
                    how = "new"
                elif _has_token(member, "get"):
                    how = "static-get" if static else "get"
                elif _has_token(member, "set"):
                    how = "static-set" if static else "set"
                else:
                    how = "static" if static else "method"
                self.add(f"{qual}.{key}", member, member, reach, path=(*path, key), how=how)
                found = True
            elif member.type in ("field_definition", "public_field_definition"):
                key = _key(member.child_by_field_name("property") or member.child_by_field_name("name"))
                value = member.child_by_field_name("value")
                if key is not None and value is not None and _unwrapped(value).type in _FUNCTIONS:
                    how = "static" if _has_token(member, "static") else "method"
                    self.add(f"{qual}.{key}", member, _unwrapped(value), reach, path=(*path, key), how=how)
                    found = True
        if not found and self.touches(node):
            ctor = next((m for m in members if _key(m.child_by_field_name("name")) == "constructor"), None)
            self.add(f"{qual}.constructor", node, ctor, reach, path=(*path, "constructor"), how="new")

    # -- parameters and lines ---------------------------------------------------------------------

    def params(self, fn: Node) -> tuple[tuple[str, str], ...]:
        formal = fn.child_by_field_name("parameters")
        if formal is None:
            single = fn.child_by_field_name("parameter")  # `x => …`
            return ((_text(single), ""),) if single is not None else ()
        out: list[tuple[str, str]] = []
        for p in formal.named_children:
            if p.type == "comment":
                continue
            kind, node = "", p
            if p.type in ("required_parameter", "optional_parameter"):
                node = p.child_by_field_name("pattern") or p
                if p.child_by_field_name("value") is not None:
                    kind = "default"
                elif (ann := p.child_by_field_name("type")) is not None:
                    kind = _ts_kind(ann)
            if node.type == "assignment_pattern":
                kind, node = "default", node.child_by_field_name("left") or node
            if node.type == "rest_pattern":
                kind, node = "rest", next((c for c in node.named_children if c.type == "identifier"), node)
            elif node.type in ("object_pattern", "array_pattern") and kind not in ("default",):
                kind = kind or "pattern"
            if _text(node) == "this":  # TS's `this` parameter is not an argument
                continue
            out.append((_text(node) if node.type == "identifier" else "", kind))
        return tuple(out)

    def want(self, fn: Node) -> tuple[tuple[int, int], ...]:
        body = fn.child_by_field_name("body")
        if body is None:
            return ()
        head = fn.start_point[0] + 1
        found: dict[int, int] = {}

        def visit(node: Node) -> None:
            line, col = self.pos(node.start_point)
            statement = node.type.endswith(("_statement", "_declaration")) and node.type != "statement_block"
            if statement and line != head and self.first <= line <= self.last:
                found.setdefault(line, col)
            for child in node.named_children:
                if child.type in _FUNCTIONS or child.type in _DECLS or child.type in ("class", *_CLASSES):
                    continue  # a nested function's lines run when it is called, not this
                visit(child)

        if body.type == "statement_block":
            for child in body.named_children:
                visit(child)
        else:  # an arrow function's expression body
            line, col = self.pos(body.start_point)
            if line != head and self.first <= line <= self.last:
                found[line] = col
        return tuple(sorted(found.items()))

    # -- the plan -------------------------------------------------------------------------------------

    def plan(self) -> JsPlan:
        root = self.tree.root
        statements = [c for c in root.named_children if c.type != "hash_bang_line"]
        start = (1, 0)
        if root.named_children and root.named_children[0].type == "hash_bang_line":
            start = (2, 0)
        for stmt in statements:  # after the directive prologue ('use strict'), which must lead
            if stmt.type == "expression_statement" and stmt.named_children and stmt.named_children[0].type == "string":
                start = self.pos(stmt.end_point)
            elif stmt.type != "comment":
                break
        self.scope_walk(statements, start)
        targets = self.targets[:MAX_TARGETS]
        used = {t.reach for t in targets}
        inserts = [
            (line, col, "".join(g for g in texts if _index(g) in used))
            for (line, col), texts in self.getters.items()
            if any(_index(g) in used for g in texts)
        ]
        # Wraps of values beyond the cap stay: unwrapping one half of a pair would break the code.
        inserts += self.inserts
        return JsPlan(tuple(dict.fromkeys(targets)), tuple(sorted(inserts, key=lambda i: (i[0], i[1]))), _imports(root))


def _index(getter: str) -> int:
    return int(getter[len(REGISTRY) + 1 : getter.index(",")])


def _unwrapped(node: Node) -> Node:
    while node.type in ("parenthesized_expression", "as_expression", "satisfies_expression") and node.named_children:
        node = node.named_children[0]
    return node


def _member_chain(node: Node) -> list[str]:
    """`module.exports.f` -> ["module", "exports", "f"]; [] for anything computed."""
    parts: list[str] = []
    while node.type == "member_expression":
        prop = node.child_by_field_name("property")
        if prop is None or prop.type != "property_identifier":
            return []
        parts.append(_text(prop))
        node = node.child_by_field_name("object")
    if node.type != "identifier":
        return []
    return [_text(node), *reversed(parts)]


def _key(node: Node | None) -> str | None:
    if node is None:
        return None
    if node.type in ("property_identifier", "identifier"):
        return _text(node)
    if node.type == "string":
        return _text(node)[1:-1]
    if node.type == "number":
        return _text(node)
    return None


def _has_token(node: Node, word: str) -> bool:
    """Whether `word` (static, get, set, async) is among the keywords before the member's name."""
    name = node.child_by_field_name("name") or node.child_by_field_name("property")
    for child in node.children:
        if name is not None and child.start_byte >= name.start_byte:
            return False
        if child.type == word:
            return True
    return False


def _ts_kind(annotation: Node) -> str:
    node = annotation.named_children[0] if annotation.named_children else annotation
    if node.type == "union_type":
        for part in node.named_children:
            kind = _ts_kind_of(part)
            if kind != "null":
                return kind
        return ""
    return _ts_kind_of(node)


def _ts_kind_of(node: Node) -> str:
    text = _text(node)
    if node.type == "predefined_type":
        return _TS_KINDS.get(text, "null" if text in ("null", "undefined", "void") else "")
    if node.type in ("literal_type",) and text in ("null", "undefined"):
        return "null"
    if node.type == "array_type" or (node.type == "generic_type" and text.startswith(("Array<", "ReadonlyArray<"))):
        return "array"
    if node.type == "object_type" or (node.type == "generic_type" and text.startswith("Record<")):
        return "object"
    if node.type == "union_type":
        return _ts_kind(node)
    return ""


def _imports(root: Node) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Per imported module, the names a stand-in module must export: those imported by name, and
    the properties used on a namespace import (`import * as ax from 'axios'` … `ax.post`)."""
    out: dict[str, list[str]] = {}
    namespaces: dict[str, list[str]] = {}
    for stmt in root.named_children:
        if stmt.type != "import_statement":
            continue
        source = stmt.child_by_field_name("source")
        if source is None:
            continue
        names = out.setdefault(_text(source)[1:-1], [])
        for spec in _descendants(stmt, "import_specifier"):
            name = spec.child_by_field_name("name")
            if name is not None and name.type == "identifier" and _text(name) not in names and _text(name) != "default":
                names.append(_text(name))
        for ns in _descendants(stmt, "namespace_import"):
            alias = next((c for c in ns.named_children if c.type == "identifier"), None)
            if alias is not None:
                namespaces[_text(alias)] = names
    if namespaces:
        stack = [root]
        while stack:
            node = stack.pop()
            if node.type == "member_expression":
                obj, prop = node.child_by_field_name("object"), node.child_by_field_name("property")
                used = namespaces.get(_text(obj)) if obj is not None and obj.type == "identifier" else None
                if used is not None and prop is not None and prop.type == "property_identifier":
                    if _text(prop) not in used and _text(prop) != "default":
                        used.append(_text(prop))
            stack.extend(reversed(node.named_children))  # in document order
    return tuple((m, tuple(n)) for m, n in out.items())


def _descendants(node: Node, kind: str) -> list[Node]:
    found = []
    for child in node.named_children:
        if child.type == kind:
            found.append(child)
        else:
            found += _descendants(child, kind)
    return found


def plan(code: str, first: int, last: int, typescript: bool = False) -> JsPlan:
    """The targets the suggestion's lines [first, last] touch in `code`, and how to reach them."""
    tree = parse_js(code, ("typescript",) if typescript else ("javascript",))
    if tree.broken:
        raise SyntaxError("the program does not parse")
    return _Planner(tree, first, last).plan()
