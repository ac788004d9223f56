"""Where data from outside goes inside one function: the rule pack's taint pass.

Per function (and once for the module's own statements), values are tainted when they come from a
*source* — a web request's data (Flask, Django, FastAPI/Starlette, a route's path parameters), the
command line (`input()`, `sys.argv`, `parse_args()`), or the environment — and stay tainted through
assignments, f-strings, `%`, `+`, `.format`, containers, attribute and item reads, string methods
and calls of functions the pass does not know (a helper is assumed to pass its arguments on).
Calls that return clean data (`int`, `len`, `uuid.UUID`, …) end the taint; *sanitizers* and
*guards* (an `if` that tests the value: `x in ALLOWED`, `url_has_allowed_host_and_scheme(x, …)`,
`x.startswith(…)`) are recorded on it (`Taint.through`), and each rule says which of them make it
safe for its sink.

Flow-insensitive within a function (a name's taint is the join of all its assignments; a guard
anywhere in the function counts), intra-procedural, and never a reason to raise: the pack's rules
read the result (`FunctionFlow.taint`) at their sinks.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sandgate.checks.names import Names

Node = Any  # AST nodes dispatched on by exact type (see checks.names)

# Strongest first: a web request's data is anyone's, the command line the user's, the environment
# the deployment's.
KINDS = ("web", "cli", "env")


@dataclass(frozen=True)
class Taint:
    kind: str  # one of KINDS
    origin: str  # what it came from, for messages: "request.args", "sys.argv", "route parameter 'name'"
    through: frozenset[str] = frozenset()  # sanitizers applied and guards tested on the way
    formatted: bool = False  # spliced into a string (f-string, %, +, .format, join)

    def joined(self, other: Taint | None) -> Taint:
        """Either value: the stronger source, the sanitizers both went through."""
        if other is None or other == self:
            return self
        first, second = (self, other) if KINDS.index(self.kind) <= KINDS.index(other.kind) else (other, self)
        return Taint(first.kind, first.origin, self.through & other.through, self.formatted or other.formatted)

    def via(self, name: str) -> Taint:
        return Taint(self.kind, self.origin, self.through | {name}, self.formatted)

    def spliced(self) -> Taint:
        return self if self.formatted else Taint(self.kind, self.origin, self.through, True)


def join(a: Taint | None, b: Taint | None) -> Taint | None:
    if a is None:
        return b
    return a.joined(b)


@dataclass(frozen=True)
class Sources:
    """What counts as outside data (the pack's `[taint]` table)."""

    web_roots: tuple[str, ...]  # "flask.request", "request", "self.request"
    web_attrs: frozenset[str]  # "args", "form", "GET", "query_params", …
    cli: tuple[str, ...]  # dotted names (calls end in "()"): "input()", "sys.argv"
    env: tuple[str, ...]
    clean: frozenset[str]  # calls whose result carries no taint: "int", "len", "uuid.UUID"
    route_decorators: frozenset[str]  # decorator methods that make a route: "route", "get", …
    safe_annotations: frozenset[str]  # parameter types that cannot carry a payload: "int", "UUID"

    @functools.cached_property
    def heads(self) -> frozenset[str]:
        """The first names a source's dotted name can start with (`flask`, `request`, `sys`, …)."""
        heads = {root.split(".", 1)[0] for root in self.web_roots}
        for prefix in self.cli + self.env:
            if not prefix.startswith("*."):
                heads.add(prefix.split(".", 1)[0].removesuffix("()"))
        return frozenset(heads)

    @functools.cached_property
    def wild_methods(self) -> frozenset[str]:
        """Methods that are sources on any object (`*.parse_args()`)."""
        return frozenset(p[2:].removesuffix("()") for p in self.cli + self.env if p.startswith("*."))

    def kind_of(self, name: str) -> tuple[str, str] | None:
        """(kind, origin) when the dotted `name` is outside data."""
        for root in self.web_roots:
            if name.startswith(root) and len(name) > len(root) and name[len(root)] == ".":
                attr = _FIRST_WORD.match(name, len(root) + 1)
                if attr is not None and attr.group() in self.web_attrs:
                    return "web", f"{root.rsplit('.', 1)[-1]}.{attr.group()}"
        for kind, prefixes in (("cli", self.cli), ("env", self.env)):
            for prefix in prefixes:
                if name == prefix or name.startswith(prefix + ".") or name.startswith(prefix + "["):
                    return kind, prefix.removesuffix("()")
                if prefix.startswith("*.") and name.endswith(prefix[1:]):  # "*.parse_args()"
                    return kind, prefix[2:].removesuffix("()")
                if prefix.startswith("*.") and (prefix[1:] + ".") in name:
                    return kind, prefix[2:].removesuffix("()")
        return None


_FIRST_WORD = re.compile(r"\w+")
# Names of a source's parts the taint never reaches: who the user is, how the request came.
_NOT_DATA = frozenset({"method", "user", "session", "endpoint", "url_rule", "is_json", "scheme", "is_secure"})


@dataclass
class FunctionFlow:
    """The taint of the names and expressions of one function body."""

    names: Names
    sources: Sources
    node: ast.AST  # the FunctionDef, or the Module for its own statements
    route: str | None = None  # "flask" or "fastapi" when the function is a route handler
    env: dict[str, Taint] = field(default_factory=dict)
    tests: list[ast.AST] = field(default_factory=list)  # the tests of if, while and assert
    branches: list[tuple[int, int, ast.AST]] = field(default_factory=list)  # (first, last line, test) of each if
    _guards: dict[str, set[str]] | None = None  # name -> guards tested on it (from `tests`, lazily)
    assigned: dict[str, list[ast.AST]] = field(default_factory=dict)  # name -> values assigned in the body
    calls: list[ast.Call] = field(default_factory=list)
    returns: list[ast.Return] = field(default_factory=list)
    stores: list[tuple[ast.Subscript, ast.AST]] = field(default_factory=list)  # `x[k] = value`
    attr_stores: list[tuple[ast.Attribute, ast.AST]] = field(default_factory=list)  # `x.a = value`
    # (name, value): what assignments give a name, for `context` (the name a call's value is made for)
    named_values: list[tuple[str, ast.AST]] = field(default_factory=list)
    docstrings: list[ast.Constant] = field(default_factory=list)  # string constants that are statements
    _roots: dict[str, bool] = field(default_factory=dict)
    active: bool = True  # False: the module has no source at all, nothing is tainted
    parent: FunctionFlow | None = None  # the flow of the body that defines this function
    _settled: bool = False

    def settle(self) -> None:
        """The taint of every name of the body: the enclosing function's (settled first), the
        route's parameters, then what the assignments give, to a fixpoint."""
        self._settled = True
        parent = self.parent
        if parent is not None and parent.parent is not None:  # not the module's own statements
            if not parent._settled:
                parent.settle()
            self.env.update(parent.env)
        if parent is not None:
            _taint_parameters(self, self.node, self.sources)  # type: ignore[arg-type]
        _settle(self)

    def under(self, line: int) -> list[ast.AST]:
        """The tests of the `if` statements (and their `elif`/`else`) around `line`."""
        return [test for first, last, test in self.branches if first <= line <= last]

    def context(self, call: ast.AST) -> str:
        """The name the value of `call` is assigned to (`token = "".join(random.choice(…))`: token):
        the innermost assigned value whose span holds the call."""
        where = (call.lineno, call.col_offset)  # type: ignore[attr-defined]
        best, size = "", None
        for name, value in self.named_values:
            start = (getattr(value, "lineno", 0), getattr(value, "col_offset", 0))
            end = (getattr(value, "end_lineno", 0) or 0, getattr(value, "end_col_offset", 0) or 0)
            if start <= where < end:
                span = (end[0] - start[0], end[1] - start[1])
                if size is None or span < size:
                    best, size = name, span
        return best

    # -- expressions ---------------------------------------------------------------------

    def taint(self, node: Node, depth: int = 0) -> Taint | None:
        """The taint `node` carries (None: none known)."""
        if depth > 30 or not self.active:
            return None
        if not self._settled:
            self.settle()
        kind = type(node)
        if kind is ast.Name:
            found = self.env.get(node.id)
            if found is not None:
                if self._guards is None:  # read the tests once something is tainted
                    self._guards = {}
                    for test in self.tests:
                        _note_guards(self, test)
                for guard in self._guards.get(node.id, ()):
                    found = found.via(guard)
            return found
        if kind is ast.Constant:
            return None
        if kind is ast.JoinedStr:
            out = None
            for value in node.values:
                if type(value) is ast.FormattedValue:
                    part = self.taint(value.value, depth + 1)
                    if part is not None and value.conversion == ord("r"):
                        part = part.via("repr")
                    out = join(out, part)
            return out.spliced() if out is not None else None
        if kind is ast.BinOp:
            out = join(self.taint(node.left, depth + 1), self.taint(node.right, depth + 1))
            if out is not None and type(node.op) in (ast.Add, ast.Mod):
                return out.spliced()
            return out
        if kind is ast.Attribute or kind is ast.Subscript:
            source = self._source(node)
            if source is not None:
                return source
            out = self.taint(node.value, depth + 1)
            if kind is ast.Subscript and out is None:
                return None
            return out
        if kind is ast.Call:
            return self._call(node, depth)
        if kind is ast.Await:
            return self.taint(node.value, depth + 1)
        if kind in (ast.List, ast.Tuple, ast.Set):
            out = None
            for item in node.elts:
                out = join(out, self.taint(item.value if type(item) is ast.Starred else item, depth + 1))
            return out
        if kind is ast.Dict:
            out = None
            for item in node.values:
                out = join(out, self.taint(item, depth + 1))
            return out
        if kind is ast.IfExp:
            return join(self.taint(node.body, depth + 1), self.taint(node.orelse, depth + 1))
        if kind is ast.BoolOp:
            out = None
            for item in node.values:
                out = join(out, self.taint(item, depth + 1))
            return out
        if kind in (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp):
            # The loop variables carry what they iterate over; the result is what the element makes
            # of them (`[int(i) for i in args]` is clean).
            saved = dict(self.env)
            try:
                for loop in node.generators:
                    item = self.taint(loop.iter, depth + 1)
                    for target in _names_in(loop.target):
                        if item is None:
                            self.env.pop(target, None)
                        else:
                            self.env[target] = item
                if kind is ast.DictComp:
                    return join(self.taint(node.key, depth + 1), self.taint(node.value, depth + 1))
                return self.taint(node.elt, depth + 1)
            finally:
                self.env = saved
        if kind is ast.Starred:
            return self.taint(node.value, depth + 1)
        if kind is ast.NamedExpr:
            return self.taint(node.value, depth + 1)
        return None

    def _root(self, node: Node) -> str | None:
        while type(node) in (ast.Attribute, ast.Subscript, ast.Call):
            node = node.func if type(node) is ast.Call else node.value
        return node.id if type(node) is ast.Name else None

    def _may_be_source(self, root: str) -> bool:
        """Whether a chain starting at `root` can reach a source (resolving only those: cheap)."""
        cached = self._roots.get(root)
        if cached is None:
            ref = self.names.ref(ast.Name(root))
            name = ref.name if ref is not None else root
            first = name.split(".", 1)[0].removesuffix("()")
            heads = self.sources.heads
            cached = first in heads or root in heads
            self._roots[root] = cached
        return cached

    def _source(self, node: Node) -> Taint | None:
        if type(node) is ast.Call and type(node.func) is ast.Attribute and node.func.attr in self.sources.wild_methods:
            return Taint("cli", node.func.attr)
        root = self._root(node)
        if root is None or root in self.env or not self._may_be_source(root):
            return None
        ref = self.names.ref(node)
        if ref is None:
            return None
        found = self.sources.kind_of(ref.name)
        if found is None:
            return None
        tail = ref.name.rsplit(".", 1)[-1].removesuffix("()")
        if tail in _NOT_DATA:
            return None
        return Taint(found[0], found[1])

    def _call(self, node: ast.Call, depth: int) -> Taint | None:
        source = self._source(node)
        if source is not None:
            return source
        ref = self.names.ref(node.func)
        name = ref.name if ref is not None else ""
        if name in self.sources.clean:
            return None
        func = node.func
        out = None
        if type(func) is ast.Attribute:
            if func.attr in _CLEAN_METHODS:
                return None
            out = self.taint(func.value, depth + 1)
            if out is not None and func.attr in ("join", "format"):
                out = out.spliced()
        for arg in node.args:
            out = join(out, self.taint(arg, depth + 1))
        for keyword in node.keywords:
            out = join(out, self.taint(keyword.value, depth + 1))
        if out is None:
            return None
        if type(func) is ast.Attribute and func.attr in ("format", "join"):
            out = out.spliced()
        if name:
            out = out.via(name)
        if type(func) is ast.Attribute:
            out = out.via("." + func.attr)  # a method, by its name: `.replace`, `.startswith`
        return out

    # -- facts about names ---------------------------------------------------------------

    def formatted(self, node: Node, names: Names) -> bool:
        """Whether `node` is a string spliced together with a value not known in the module (an
        f-string, `%`, `+`, `.format` with a part `Names.string` cannot spell): directly, or as a
        name assigned so in this function."""
        if type(node) is ast.Name:
            return any(_spliced(value, names) for value in self.assigned.get(node.id, ()))
        return _spliced(node, names)


_CLEAN_METHODS = frozenset(
    {"count", "isdigit", "isalnum", "isnumeric", "isdecimal", "isalpha", "startswith", "endswith", "find", "index"}
)


def _spliced(node: Node, names: Names) -> bool:
    kind = type(node)
    if kind is ast.JoinedStr:
        return any(type(v) is ast.FormattedValue and _unknown(v.value, names) for v in node.values)
    if kind is ast.BinOp and type(node.op) in (ast.Add, ast.Mod):
        if type(node.op) is ast.Mod and names.string(node.left) is None:
            return False  # arithmetic, not a template
        parts = node.right.elts if type(node.op) is ast.Mod and type(node.right) is ast.Tuple else [node.right]
        if type(node.op) is ast.Add:
            parts = _added(node)  # `"… IN (" + marks + ")"`: each operand of the chain
            if not any(type(p) is ast.Constant and isinstance(p.value, str) for p in parts):
                return any(_spliced(p, names) for p in parts)
        return any(_unknown(p, names) or _spliced(p, names) for p in parts)
    if kind is ast.Call and type(node.func) is ast.Attribute and node.func.attr == "format":
        return names.string(node.func.value) is not None and any(
            _unknown(a, names) for a in [*node.args, *(k.value for k in node.keywords)]
        )
    return False


def _added(node: Node) -> list[Node]:
    if type(node) is ast.BinOp and type(node.op) is ast.Add:
        return _added(node.left) + _added(node.right)
    return [node]


def _unknown(node: Node, names: Names) -> bool:
    from sandgate.checks.shell import HOLE

    if type(node) is ast.Name and node.id in names.bindings:
        bound = names.bindings[node.id][-1][1]
        if not isinstance(bound, str) and _placeholders(bound, names):
            return False
    if _placeholders(node, names):
        return False
    text = names.string(node)
    return text is None or HOLE in text


_MARKS = frozenset({"?", "%s", ":?", "%(name)s"})


def _placeholders(node: Node, names: Names) -> bool:
    """`",".join("?" for _ in ids)`, `", ".join(["%s"] * len(ids))`: query parameters' marks."""
    if type(node) is not ast.Call or type(node.func) is not ast.Attribute or node.func.attr != "join":
        return False
    if names.string(node.func.value) is None or len(node.args) != 1:
        return False
    items: Node = node.args[0]
    if type(items) in (ast.GeneratorExp, ast.ListComp):
        items = items.elt
    elif type(items) is ast.BinOp and type(items.op) is ast.Mult:
        items = items.left if type(items.left) in (ast.List, ast.Constant) else items.right
        if type(items) is ast.List and len(items.elts) == 1:
            items = items.elts[0]
    return type(items) is ast.Constant and items.value in _MARKS


# -- building the flows ----------------------------------------------------------------------


def flows(
    tree: ast.Module, names: Names, sources: Sources, fastapi: bool, calls: list[ast.Call], active: bool = True
) -> list[FunctionFlow]:
    """One `FunctionFlow` per function of `tree` (nested ones inherit their parent's taint), and
    one for the module's own statements, each with its taint settled. `calls` are the module's
    calls (the scan has them): each goes to the innermost function around it. `active` False: the
    caller knows the module names no source (nothing is tainted, the rest is still collected).

    Only statements are walked (expressions are read where a statement holds them): the scan
    already walked every node, and this runs on every keystroke's vet."""
    roots: dict[str, bool] = {}  # shared: what a name resolves to is the module's
    module = FunctionFlow(names, sources, tree, _roots=roots, active=active)
    out = [module]
    pending: list[tuple[ast.AST, FunctionFlow]] = []
    _collect(module, tree.body, pending)
    while pending:
        node, parent = pending.pop()
        flow = FunctionFlow(names, sources, node, _roots=roots, active=active)
        flow.parent = parent
        flow.route = _route(node, names, sources, fastapi)  # type: ignore[arg-type]
        _note_defaults(flow, node.args)  # type: ignore[attr-defined]
        _collect(flow, node.body, pending)  # type: ignore[attr-defined]
        out.append(flow)
    _place_calls(out, calls)
    return out  # each flow settles its taint on its first question (most are never asked one)


def _place_calls(out: list[FunctionFlow], calls: list[ast.Call]) -> None:
    """Each call to the innermost function whose lines hold it (the module's flow otherwise)."""
    spans = sorted(((_span(f.node), i) for i, f in enumerate(out) if i), reverse=True)
    for call in calls:
        line = call.lineno
        owner = out[0]
        for (start, end), i in spans:  # latest start first: the innermost that holds the line
            if start <= line <= end:
                owner = out[i]
                break
        owner.calls.append(call)


def _span(node: Node) -> tuple[int, int]:
    return node.lineno, node.end_lineno or node.lineno


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def _collect(flow: FunctionFlow, body: list[ast.stmt], pending: list[tuple[ast.AST, FunctionFlow]]) -> None:
    """The assignments, returns, stores, tests and docstrings of one body's statements (not of
    nested definitions, which are queued in `pending`)."""
    stack: list[Node] = list(reversed(body))
    assigned = flow.assigned
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind in _DEFS:
            pending.append((node, flow))
            continue
        if kind is ast.ClassDef:
            stack.extend(reversed(node.body))
            continue
        if kind is ast.Return:
            flow.returns.append(node)
        elif kind is ast.Assign:
            for target in node.targets:
                _note_target(flow, target, node.value)
        elif kind is ast.AnnAssign:
            if node.value is not None:
                _note_target(flow, node.target, node.value)
        elif kind is ast.AugAssign:
            if type(node.target) is ast.Name:
                assigned.setdefault(node.target.id, []).append(
                    ast.BinOp(left=node.target, op=node.op, right=node.value)
                )
            else:
                _note_target(flow, node.target, node.value)
        elif kind is ast.For or kind is ast.AsyncFor:
            _note_target(flow, node.target, node.iter)
        elif kind is ast.With or kind is ast.AsyncWith:
            for item in node.items:
                if item.optional_vars is not None:
                    _note_target(flow, item.optional_vars, item.context_expr)
        elif kind is ast.If or kind is ast.While or kind is ast.Assert:
            flow.tests.append(node.test)
            if kind is ast.If:
                flow.branches.append((node.lineno, node.end_lineno or node.lineno, node.test))
        elif kind is ast.Expr:
            value = node.value
            if type(value) is ast.Constant and isinstance(value.value, str):
                flow.docstrings.append(value)
            elif type(value) is ast.Await:
                value = value.value
        for name in _BODIES:
            inner = getattr(node, name, None)
            if inner:
                stack.extend(reversed(inner))


def _note_target(flow: FunctionFlow, target: Node, value: Node) -> None:
    kind = type(target)
    if kind is ast.Name:
        flow.assigned.setdefault(target.id, []).append(value)
        flow.named_values.append((target.id, value))
        if type(value) is ast.NamedExpr:
            _note_target(flow, value.target, value.value)
    elif kind in (ast.Tuple, ast.List):
        for item in target.elts:
            _note_target(flow, item.value if type(item) is ast.Starred else item, value)
    elif kind is ast.Subscript:
        flow.stores.append((target, value))
        root = target.value
        if type(root) is ast.Name:  # `data["k"] = tainted`: the container holds it
            flow.assigned.setdefault(root.id, []).append(value)
        key = target.slice
        if type(key) is ast.Constant and isinstance(key.value, str):
            flow.named_values.append((key.value, value))
    elif kind is ast.Attribute:
        flow.attr_stores.append((target, value))
        flow.named_values.append((target.attr, value))


def _note_guards(flow: FunctionFlow, test: Node) -> None:
    """Names a test checks, and how: `in` (an allow-list), a validator's name, `.startswith`, `==`."""
    guards = flow._guards
    assert guards is not None
    for node in _walk_expr(test):
        kind = type(node)
        if kind is ast.Compare:
            how = "in" if any(type(op) in (ast.In, ast.NotIn) for op in node.ops) else "=="
            if how == "==" and not any(type(op) in (ast.Eq, ast.NotEq) for op in node.ops):
                continue
            for side in [node.left, *node.comparators]:
                for name in _names_in(side):
                    guards.setdefault(name, set()).add(how)
        elif kind is ast.Call:
            ref = flow.names.ref(node.func)
            how = ref.name if ref is not None else ""
            if type(node.func) is ast.Attribute:
                method = "." + node.func.attr
                for name in _names_in(node.func.value):
                    guards.setdefault(name, set()).add(method)
            for arg in node.args:
                for name in _names_in(arg):
                    guards.setdefault(name, set()).add(how)


def _walk_expr(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        item = stack.pop()
        yield item
        for child in ast.iter_child_nodes(item):
            stack.append(child)


def _names_in(node: Node) -> list[str]:
    """The names a guard's operand stands for: `x`, `x.lower()`, `os.path.realpath(x)`."""
    out = []
    for item in _walk_expr(node):
        if type(item) is ast.Name:
            out.append(item.id)
    return out


def _note_defaults(flow: FunctionFlow, args: ast.arguments) -> None:
    """A parameter's default is one of its values (`def connect(password="admin")`)."""
    positional = args.posonlyargs + args.args
    pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True))
    pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
    for arg, default in pairs:
        flow.named_values.append((arg.arg, default))


def collect_body(flow: FunctionFlow, node: ast.AST) -> None:
    """`flow`'s assignments, tests and returns from one function's body (nested functions left out)."""
    _collect(flow, node.body, [])  # type: ignore[attr-defined]


def settle(flow: FunctionFlow) -> None:
    """`flow`'s names' taint from the taint it was given (a helper's probe)."""
    _settle(flow)


def _settle(flow: FunctionFlow) -> None:
    """Each assigned name's taint, until nothing changes (a few rounds: chains are short)."""
    if not flow.assigned:
        return
    for _ in range(4):
        changed = False
        for name, values in flow.assigned.items():
            current = flow.env.get(name)
            new = current
            for value in values:
                new = join(new, flow.taint(value))
            if new != current and new is not None:
                flow.env[name] = new
                changed = True
        if not changed:
            break


# -- route handlers ----------------------------------------------------------------------------


def _route(node: ast.FunctionDef, names: Names, sources: Sources, fastapi: bool) -> str | None:
    for decorator in node.decorator_list:
        if type(decorator) is not ast.Call or type(decorator.func) is not ast.Attribute:
            continue
        if decorator.func.attr not in sources.route_decorators:
            continue
        path = decorator.args[0] if decorator.args else None
        if type(path) is ast.Constant and isinstance(path.value, str) and path.value.startswith("/"):
            return "fastapi" if fastapi and decorator.func.attr != "route" else "flask"
    return None


_FLASK_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _taint_parameters(flow: FunctionFlow, node: ast.FunctionDef, sources: Sources) -> None:
    """A route's parameters (Flask: those in the path; FastAPI: all but typed numbers and
    dependencies) and a Django view's (after `request`) are the request's data."""
    args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
    names = [a.arg for a in args]
    tainted: list[str] = []
    if flow.route == "flask":
        for decorator in node.decorator_list:
            if type(decorator) is ast.Call and decorator.args and type(decorator.args[0]) is ast.Constant:
                for converter, name in _FLASK_PARAM.findall(str(decorator.args[0].value)):
                    if converter not in ("int", "float", "uuid"):
                        tainted.append(name)
    elif flow.route == "fastapi":
        defaults = dict(
            zip([a.arg for a in node.args.args][-len(node.args.defaults) :], node.args.defaults, strict=False)
            if node.args.defaults
            else []
        )
        defaults.update(
            {a.arg: d for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True) if d is not None}
        )
        for arg in args:
            annotation = ast.unparse(arg.annotation) if arg.annotation is not None else ""
            words = set(re.findall(r"\w+", annotation))
            if words & sources.safe_annotations or "Request" in words or "Session" in words:
                continue
            default = defaults.get(arg.arg)
            if default is not None and type(default) is ast.Call and "Depends" in ast.unparse(default.func):
                continue
            tainted.append(arg.arg)
    else:
        index = 1 if names[:1] == ["self"] else 0
        if len(names) > index and names[index] == "request":  # a Django view: URL captures follow
            for arg in args[index + 1 :]:
                annotation = ast.unparse(arg.annotation) if arg.annotation is not None else ""
                if not set(re.findall(r"\w+", annotation)) & sources.safe_annotations:
                    tainted.append(arg.arg)
    for name in tainted:
        if name in names and name not in ("self", "request"):
            flow.env[name] = Taint("web", f"route parameter {name!r}")
