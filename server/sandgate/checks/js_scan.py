"""One walk over a JavaScript/TypeScript tree: what the JS rules read (`checks.js_pack`).

- imports: `import … from 'm'`, `import 'm'`, `require('m')`, `import('m')` (a `node:` prefix dropped);
- aliases: local names bound to modules or their members (`const cp = require('child_process')`,
  `const { exec: run } = require('child_process')`, `import * as vm from 'vm'`): a call through an
  alias is named by what it reaches (`run(cmd)` is `child_process.exec`);
- calls (and `new X(…)`), member assignments (`el.innerHTML = …`, `obj[k] = …`), object properties
  and JSX attributes (`rejectUnauthorized: false`, `dangerouslySetInnerHTML={…}`);
- bindings: what each variable is assigned, per function scope, for the value questions below.

Value questions (`Values`): is a value a constant (a literal, or a name bound only to literals), a
string built at run time (a template with `${…}`, or `+` of a literal and something else), or
request data (Express/Koa `req.query|body|params|headers|cookies…`, reached directly, through
variables assigned in the same function or the ones enclosing it, or destructuring)? Data that
passes through a rule's sanitizer call is clean. Not followed: calls into other functions (a
helper's return value is not request data), object fields stored and read back, module-level
state changed by another function, and aliasing through containers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import tree_sitter

from sandgate.checks import js_parse
from sandgate.checks.js_parse import JsTree, Node, text

FUNCTIONS = frozenset(
    {
        "function_declaration",
        "function_expression",
        "function",
        "arrow_function",
        "method_definition",
        "generator_function_declaration",
        "generator_function",
    }
)
_STRINGS = frozenset({"string", "template_string"})
_CONSTANTS = frozenset({"number", "true", "false", "null", "undefined", "regex"})
HOLE = "\x00"  # a run-time part of a string spelled out (`curl ${url} | sh` → "curl \x00 | sh")
# `globalThis.eval(x)` and `window.setTimeout(…)` are the globals themselves.
_GLOBAL_OBJECTS = frozenset({"globalThis", "window", "global"})


def module_name(spec: str) -> str:
    return spec.removeprefix("node:")


@dataclass
class Call:
    name: str  # the callee, dotted and resolved through aliases ("child_process.exec", "db.query")
    node: Node
    args: list[Node]
    scope: Node
    new: bool = False


@dataclass
class Assign:
    target: str  # dotted; a computed part is "[]" ("obj[].x"), a literal key is spelled out
    left: Node
    value: Node
    node: Node
    scope: Node


@dataclass
class Prop:
    key: str  # an object literal's key, or a JSX attribute's name
    value: Node | None
    node: Node
    scope: Node


@dataclass
class JsScan:
    tree: JsTree
    imports: list[tuple[str, Node]] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    assigns: list[Assign] = field(default_factory=list)
    props: list[Prop] = field(default_factory=list)
    # (scope id, name) -> the values assigned to the name in that scope
    bindings: dict[tuple[int, str], list[Node]] = field(default_factory=dict)
    # (scope id, name) -> the object a for-in / for-of loop takes the name from
    loop_vars: dict[tuple[int, str], Node] = field(default_factory=dict)
    params: dict[int, set[str]] = field(default_factory=dict)
    scope_parent: dict[int, Node | None] = field(default_factory=dict)
    function_names: dict[int, str] = field(default_factory=dict)

    def scopes(self, scope: Node | None):
        """`scope` and the scopes around it, innermost first."""
        while scope is not None:
            yield scope
            scope = self.scope_parent.get(scope.id)

    def values(self, name: str, scope: Node) -> list[Node]:
        for s in self.scopes(scope):
            found = self.bindings.get((s.id, name))
            if found is not None:
                return found
            if name in self.params.get(s.id, ()):
                return []
        return []

    def loop_source(self, name: str, scope: Node) -> Node | None:
        for s in self.scopes(scope):
            found = self.loop_vars.get((s.id, name))
            if found is not None:
                return found
        return None

    def is_param(self, name: str, scope: Node) -> bool:
        return name in self.params.get(scope.id, ())


def dotted(node: Node | None, aliases: dict[str, str] | None = None) -> str:
    """`a.b.c` for a member chain (computed parts "[]", literal keys spelled out); "" when the chain
    does not end in a name (a call's result, `this` aside)."""
    parts: list[str] = []
    while node is not None:
        kind = node.type
        if kind in ("member_expression", "optional_chain"):
            prop = node.child_by_field_name("property")
            parts.append(text(prop))
            node = node.child_by_field_name("object")
        elif kind == "subscript_expression":
            index = node.child_by_field_name("index")
            key = string_value(index) if index is not None and index.type == "string" else None
            parts.append(key if key is not None else "[]")
            node = node.child_by_field_name("object")
        elif kind in ("identifier", "this", "super", "property_identifier", "shorthand_property_identifier"):
            name = text(node)
            if aliases and name in aliases:
                name = aliases[name]
            if name in _GLOBAL_OBJECTS and parts:
                break  # `globalThis.eval`, `window.setTimeout`: the global itself
            parts.append(name)
            break
        elif kind in ("parenthesized_expression", "non_null_expression", "await_expression"):
            node = next((c for c in node.named_children), None)
        elif kind == "sequence_expression":  # `(0, eval)(x)`: the last expression is the callee
            node = node.named_children[-1] if node.named_children else None
        elif kind == "call_expression":  # `document.getElementById('x').innerHTML`, `require('fs').readFile`
            module = _required(node)
            if module is not None:
                parts.append(module)
                break
            parts.append("()")
            node = node.child_by_field_name("function")
        else:
            return ""
    return ".".join(reversed(parts)).replace(".()", "()")


def string_value(node: Node | None) -> str | None:
    """The value of a string literal or a template without `${…}`; None otherwise."""
    if node is None:
        return None
    if node.type == "string":
        return "".join(text(c) for c in node.named_children if c.type in ("string_fragment", "escape_sequence"))
    if node.type == "template_string" and not any(c.type == "template_substitution" for c in node.named_children):
        return "".join(text(c) for c in node.named_children if c.type in ("string_fragment", "escape_sequence"))
    return None


def arguments(call: Node) -> list[Node]:
    args = call.child_by_field_name("arguments")
    if args is None:
        return []
    if args.type == "template_string":  # a tagged template: sql`…` is the tag's business
        return []
    return [c for c in args.named_children if c.type != "comment"]


def _pattern_names(pattern: Node) -> list[tuple[str, str | None]]:
    """Names a destructuring pattern binds, with the property each takes (None: the whole value)."""
    out: list[tuple[str, str | None]] = []
    kind = pattern.type
    if kind == "identifier":
        return [(text(pattern), None)]
    if kind == "object_pattern":
        for child in pattern.named_children:
            if child.type == "shorthand_property_identifier_pattern":
                out.append((text(child), text(child)))
            elif child.type == "pair_pattern":
                key, value = child.child_by_field_name("key"), child.child_by_field_name("value")
                if value is not None and value.type == "assignment_pattern":
                    value = value.child_by_field_name("left")
                if value is not None and value.type == "identifier":
                    out.append((text(value), text(key)))
                elif value is not None:
                    out.extend((name, text(key)) for name, _ in _pattern_names(value))
            elif child.type == "object_assignment_pattern":
                left = child.child_by_field_name("left")
                if left is not None:
                    out.append((text(left), text(left)))
            elif child.type == "rest_pattern":
                out.extend((name, None) for name, _ in _pattern_names(child.named_children[0]))
    elif kind in ("array_pattern", "rest_pattern", "assignment_pattern"):
        for child in pattern.named_children:
            if kind == "assignment_pattern" and child != pattern.child_by_field_name("left"):
                continue
            out.extend((name, None) for name, _ in _pattern_names(child))
    return out


def _params(function: Node) -> set[str]:
    params = function.child_by_field_name("parameters") or function.child_by_field_name("parameter")
    if params is None:
        return set()
    if params.type == "identifier":
        return {text(params)}
    names: set[str] = set()
    for child in params.named_children:
        target = child
        if child.type in ("required_parameter", "optional_parameter"):
            target = child.child_by_field_name("pattern") or child
        names.update(name for name, _ in _pattern_names(target))
    return names


def _function_name(node: Node) -> str:
    name = node.child_by_field_name("name")
    if name is not None:
        return text(name)
    parent = node.parent
    if parent is not None and parent.type == "variable_declarator":
        return text(parent.child_by_field_name("name"))
    if parent is not None and parent.type == "pair":
        return text(parent.child_by_field_name("key"))
    if parent is not None and parent.type == "assignment_expression":
        return dotted(parent.child_by_field_name("left")).rsplit(".", 1)[-1]
    return ""


_REQUIRE = frozenset({"require", "import"})


def _required(value: Node | None) -> str | None:
    """The module `require('m')` / `await import('m')` loads; None for anything else."""
    while value is not None and value.type in ("await_expression", "parenthesized_expression"):
        value = value.named_children[0] if value.named_children else None
    if value is None or value.type != "call_expression":
        return None
    function = value.child_by_field_name("function")
    if function is None or text(function) not in _REQUIRE:
        return None
    args = arguments(value)
    spec = string_value(args[0]) if args else None
    return module_name(spec) if spec is not None else None


_KINDS = (
    *sorted(FUNCTIONS),
    "import_statement",
    "variable_declarator",
    "call_expression",
    "new_expression",
    "assignment_expression",
    "augmented_assignment_expression",
    "pair",
    "jsx_attribute",
    "for_in_statement",
)


@cache
def _query(grammar: str) -> tree_sitter.Query:
    """One query for every node kind the scan reads (those the grammar has): tree-sitter finds
    them in C, so Python touches only these nodes, not every token of the tree."""
    language = js_parse.language(grammar)
    kinds = [k for k in _KINDS if language.id_for_node_kind(k, True)]
    return tree_sitter.Query(language, "\n".join(f"({kind}) @n" for kind in kinds))


def scan(tree: JsTree) -> JsScan:
    """The facts of one tree, in source order."""
    out = JsScan(tree)
    root = tree.root
    out.scope_parent[root.id] = None
    captured = tree_sitter.QueryCursor(_query(tree.grammar)).captures(root).get("n", [])
    captured.sort(key=lambda n: (n.start_byte, -n.end_byte))
    open_functions: list[Node] = []
    for node in captured:
        while open_functions and open_functions[-1].end_byte <= node.start_byte:
            open_functions.pop()
        scope = open_functions[-1] if open_functions else root
        kind = node.type
        if kind in FUNCTIONS:
            out.scope_parent[node.id] = scope
            out.params[node.id] = _params(node)
            out.function_names[node.id] = _function_name(node)
            open_functions.append(node)
        elif kind == "import_statement":
            _import(out, node)
        elif kind == "variable_declarator":
            _declare(out, node, scope)
        elif kind in ("call_expression", "new_expression"):
            _call(out, node, scope)
        elif kind in ("assignment_expression", "augmented_assignment_expression"):
            _assign(out, node, scope)
        elif kind == "pair":
            key = node.child_by_field_name("key")
            spelled = string_value(key) if key is not None and key.type == "string" else None
            out.props.append(
                Prop(spelled if spelled is not None else text(key), node.child_by_field_name("value"), node, scope)
            )
        elif kind == "jsx_attribute":
            children = node.named_children
            if children:
                value = children[1] if len(children) > 1 else None
                if value is not None and value.type == "jsx_expression":
                    value = value.named_children[0] if value.named_children else None
                out.props.append(Prop(text(children[0]), value, node, scope))
        elif kind == "for_in_statement":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and right is not None:
                for name, _ in _pattern_names(left):
                    out.loop_vars[(scope.id, name)] = right
                    out.bindings.setdefault((scope.id, name), []).append(right)
    return out


def _import(out: JsScan, node: Node) -> None:
    source = node.child_by_field_name("source")
    spec = string_value(source)
    if spec is None:
        return
    module = module_name(spec)
    out.imports.append((module, node))
    clause = next((c for c in node.named_children if c.type == "import_clause"), None)
    if clause is None:
        return
    for child in clause.named_children:
        if child.type == "identifier":  # the default export: the module itself, for CommonJS modules
            out.aliases[text(child)] = module
        elif child.type == "namespace_import":
            name = next((c for c in child.named_children if c.type == "identifier"), None)
            if name is not None:
                out.aliases[text(name)] = module
        elif child.type == "named_imports":
            for spec_node in child.named_children:
                if spec_node.type != "import_specifier":
                    continue
                imported = spec_node.child_by_field_name("name")
                local = spec_node.child_by_field_name("alias") or imported
                out.aliases[text(local)] = f"{module}.{text(imported)}"


def _declare(out: JsScan, node: Node, scope: Node) -> None:
    name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
    if name is None or value is None:
        return
    module = _required(value)
    if module is None and value.type == "member_expression":  # `const exec = require('cp').exec`
        inner = _required(value.child_by_field_name("object"))
        if inner is not None:
            module = f"{inner}.{text(value.child_by_field_name('property'))}"
    if module is not None:
        for local, prop in _pattern_names(name):
            out.aliases[local] = f"{module}.{prop}" if prop else module
        return
    if name.type == "identifier":
        resolved = dotted(value, out.aliases) if value.type in ("identifier", "member_expression") else ""
        if resolved and resolved.split(".", 1)[0] in _module_roots(out):  # few names: cheap
            out.aliases[text(name)] = resolved  # `const run = cp.exec`
    for local, _ in _pattern_names(name):
        out.bindings.setdefault((scope.id, local), []).append(value)


def _module_roots(out: JsScan) -> set[str]:
    return {m for m, _ in out.imports} | {a.split(".", 1)[0] for a in out.aliases.values()}


def _call(out: JsScan, node: Node, scope: Node) -> None:
    new = node.type == "new_expression"
    function = node.child_by_field_name("constructor" if new else "function")
    if function is None:
        return
    if not new and text(function) in _REQUIRE:
        args = arguments(node)
        spec = string_value(args[0]) if args else None
        if spec is not None:
            out.imports.append((module_name(spec), node))
            return
        # A module named at run time: a call the rules read (`js.dynamic-require`).
        out.calls.append(Call(text(function), node, args, scope, new))
        return
    name = dotted(function, out.aliases)
    if not name:
        return
    out.calls.append(Call(name, node, arguments(node), scope, new))


def _assign(out: JsScan, node: Node, scope: Node) -> None:
    left, value = node.child_by_field_name("left"), node.child_by_field_name("right")
    if left is None or value is None:
        return
    if left.type in ("member_expression", "subscript_expression"):
        out.assigns.append(Assign(dotted(left, None), left, value, node, scope))
    elif left.type == "identifier":
        out.bindings.setdefault((_owner(out, text(left), scope).id, text(left)), []).append(value)
    elif left.type in ("object_pattern", "array_pattern"):
        for local, _ in _pattern_names(left):
            out.bindings.setdefault((_owner(out, local, scope).id, local), []).append(value)


def _owner(out: JsScan, name: str, scope: Node) -> Node:
    """The scope that declares `name` (the innermost when none does)."""
    for s in out.scopes(scope):
        if (s.id, name) in out.bindings or name in out.params.get(s.id, ()):
            return s
    return scope


# -- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sources:
    """What request data is (the pack's [taint])."""

    roots: tuple[str, ...]  # `req.query…`: these objects' `attrs` are request data
    attrs: frozenset[str]
    calls: tuple[str, ...]  # `req.get('x')`, `req.header('x')`…: globs over dotted callees


class Values:
    """Answers about expressions of one scanned tree, with the sanitizers of one rule."""

    def __init__(self, scanned: JsScan, sources: Sources, sanitizers: frozenset[str] = frozenset()) -> None:
        self.scan = scanned
        self.sources = sources
        self.sanitizers = tuple(re.compile(_glob(g)) for g in sanitizers)
        self._source_calls = tuple(re.compile(_glob(g)) for g in sources.calls)
        self._busy: set[int] = set()

    def sanitized(self, call: Node) -> bool:
        function = call.child_by_field_name("function") or call.child_by_field_name("constructor")
        name = dotted(function, self.scan.aliases) if function is not None else ""
        return bool(name) and any(p.fullmatch(name) for p in self.sanitizers)

    def _is_source(self, node: Node) -> bool:
        kind = node.type
        if kind in ("member_expression", "subscript_expression"):
            chain = dotted(node)
            for root in self.sources.roots:
                if chain.startswith(root + "."):
                    attr = chain[len(root) + 1 :].split(".", 1)[0]
                    if attr in self.sources.attrs:
                        return True
            return False
        if kind == "call_expression":
            function = node.child_by_field_name("function")
            name = dotted(function) if function is not None else ""
            return bool(name) and any(p.fullmatch(name) for p in self._source_calls)
        return False

    def tainted(self, node: Node | None, scope: Node, _seen: set[int] | None = None) -> bool:
        """Request data reaches `node` (directly, or through variables of the enclosing scopes)."""
        if node is None:
            return False
        seen = _seen if _seen is not None else set()
        stack = [node]
        while stack:
            n = stack.pop()
            if n.id in seen:
                continue
            seen.add(n.id)
            kind = n.type
            if kind in FUNCTIONS:
                continue
            if self._is_source(n):
                return True
            if kind == "call_expression" and self.sanitized(n):
                continue
            if kind == "identifier":
                if any(self.tainted(v, scope, seen) for v in self.scan.values(text(n), scope)):
                    return True
                continue
            if kind == "subscript_expression" and self._table(n.child_by_field_name("object"), scope):
                continue  # a look-up in a table of literals (`COLUMNS[req.query.sort]`) gives a literal
            if kind in ("member_expression", "subscript_expression"):
                stack.append(n.child_by_field_name("object"))
                index = n.child_by_field_name("index")
                if index is not None:
                    stack.append(index)
                continue
            stack.extend(c for c in n.named_children if c is not None)
        return False

    def _table(self, node: Node | None, scope: Node) -> bool:
        """A name bound only to object or array literals whose values are all literals."""
        if node is None or node.type != "identifier" or node.id in self._busy:
            return False
        self._busy.add(node.id)  # `const t = { a: t[k] }` must not loop
        try:
            return self._literal_table(node, scope)
        finally:
            self._busy.discard(node.id)

    def _literal_table(self, node: Node, scope: Node) -> bool:
        values = self.scan.values(text(node), scope)
        return bool(values) and all(
            v.type in ("object", "array")
            and all(
                self.constant(c.child_by_field_name("value") if c.type == "pair" else c, scope)
                for c in v.named_children
                if c.type != "comment"
            )
            for v in values
        )

    def constant(self, node: Node | None, scope: Node, depth: int = 0) -> bool:
        """A literal, literals joined, or a name bound only to such (a sanitizer's result counts)."""
        if node is None or depth > 8:
            return node is None
        kind = node.type
        if kind in _CONSTANTS or string_value(node) is not None:
            return True
        if kind == "template_string":
            return all(
                self.constant(c.named_children[0] if c.named_children else None, scope, depth + 1)
                for c in node.named_children
                if c.type == "template_substitution"
            )
        if kind == "binary_expression":
            return all(self.constant(node.child_by_field_name(side), scope, depth + 1) for side in ("left", "right"))
        if kind in ("parenthesized_expression", "as_expression", "satisfies_expression", "non_null_expression"):
            return bool(node.named_children) and self.constant(node.named_children[0], scope, depth + 1)
        if kind == "call_expression" and self.sanitized(node):
            return True
        if kind == "subscript_expression" and self._table(node.child_by_field_name("object"), scope):
            return True
        if kind == "identifier":
            values = self.scan.values(text(node), scope)
            return bool(values) and all(self.constant(v, scope, depth + 1) for v in values)
        return False

    def built(self, node: Node | None, scope: Node, depth: int = 0) -> bool:
        """A string put together at run time: a template with a `${…}` that is not a constant, or
        `+` joining a string and something that is not (through variables too)."""
        if node is None or depth > 8:
            return False
        kind = node.type
        if kind == "template_string":
            return not self.constant(node, scope)
        if kind == "binary_expression" and text(node.child_by_field_name("operator")) == "+":
            leaves = list(self._plus_leaves(node))
            stringy = any(leaf.type in _STRINGS or self.built(leaf, scope, depth + 1) for leaf in leaves)
            return stringy and not all(self.constant(leaf, scope) for leaf in leaves)
        if kind in ("parenthesized_expression", "as_expression", "await_expression"):
            return bool(node.named_children) and self.built(node.named_children[0], scope, depth + 1)
        if kind == "call_expression":
            function = node.child_by_field_name("function")
            if function is not None and function.type == "member_expression":
                method = text(function.child_by_field_name("property"))
                if method in ("concat", "join", "replace", "replaceAll", "format"):
                    return not self.constant(node, scope) and not self.sanitized(node)
            return False
        if kind == "identifier":
            return any(self.built(v, scope, depth + 1) for v in self.scan.values(text(node), scope))
        return False

    def _plus_leaves(self, node: Node):
        if node.type == "binary_expression" and text(node.child_by_field_name("operator")) == "+":
            yield from self._plus_leaves(node.child_by_field_name("left"))
            yield from self._plus_leaves(node.child_by_field_name("right"))
        elif node.type == "parenthesized_expression" and node.named_children:
            yield from self._plus_leaves(node.named_children[0])
        else:
            yield node

    def spelled(self, node: Node | None, scope: Node, depth: int = 0) -> str:
        """The string a value spells out, run-time parts as HOLE (`curl ${u} | sh` → "curl \\0 | sh")."""
        if node is None or depth > 8:
            return HOLE
        value = string_value(node)
        if value is not None:
            return value
        kind = node.type
        if kind == "template_string":
            return "".join(
                text(c)
                if c.type in ("string_fragment", "escape_sequence")
                else self.spelled(c.named_children[0] if c.named_children else None, scope, depth + 1)
                for c in node.named_children
            )
        if kind == "binary_expression" and text(node.child_by_field_name("operator")) == "+":
            return "".join(self.spelled(leaf, scope, depth + 1) for leaf in self._plus_leaves(node))
        if kind == "identifier":
            values = self.scan.values(text(node), scope)
            if len(values) == 1:
                return self.spelled(values[0], scope, depth + 1)
        if kind == "number":
            return text(node)
        return HOLE

    def leading(self, node: Node | None, scope: Node) -> str:
        """The literal start of a string value ("" when it starts with a run-time part)."""
        return self.spelled(node, scope).split(HOLE, 1)[0]


def _glob(glob: str) -> str:
    return re.escape(glob).replace(r"\*", ".*").replace(r"\?", ".")


_AROUND = frozenset(
    {"variable_declarator", "pair", "assignment_expression", "augmented_assignment_expression", "jsx_attribute"}
)


def context(node: Node, scanned: JsScan, scope: Node) -> str:
    """The code around an expression: the declaration, property, assignment or statement it is
    part of (up to 300 characters), and the enclosing function's name."""
    names: list[str] = []
    n: Any = node
    while n is not None and n.type not in FUNCTIONS and n.type != "program":
        if n.type in _AROUND or n.type.endswith("statement"):
            names.append(text(n)[:300])
            break
        n = n.parent
    if scope.type in FUNCTIONS:
        names.append(scanned.function_names.get(scope.id, ""))
    return " ".join(name for name in names if name)
