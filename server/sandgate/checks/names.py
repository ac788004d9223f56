"""What the names in a Python module stand for: one walk over the tree, shared by the code checks.

`scan(tree)` walks the parsed module once and keeps what the checks need: the imports, every call
with the dotted name its callee resolves to, the string constants, and the module's bindings.
`Names` resolves an expression to the dotted name it reaches, through

- imports and aliases (`import os as o; o.system` is `os.system`),
- assignments (`run = subprocess.run`, `libc = ctypes.CDLL(None)`: `ctypes.CDLL().system`),
- literal lookups that are a direct access in disguise (`getattr(os, "system")`,
  `__import__("os").system`, `importlib.import_module("os")`, `vars(os)["system"]`,
  `globals()["eval"]`, `sys.modules["os"]`),

and notes each part of a name that is *computed* (`getattr(x, name)`, `__import__("o" + "s")`):
those are `Computed` sites, which `checks.exec_rules` judges. `Names.string` resolves a string
expression to what is known of it (literals, f-strings, `+`, `%`, `.format`, `.join`, constants
assigned in the module, a few decodings), with `HOLE` for unknown parts.

Bindings are flow-insensitive (a name's last binding in the source wins; a string name keeps all
its values): good enough for a suggestion, and never a reason to raise.
"""

from __future__ import annotations

import ast
import base64
import binascii
import codecs
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from sandgate.checks.shell import HOLE

__all__ = ["HOLE", "Computed", "Ref", "Names", "Scan", "scan"]

_MAX_DEPTH = 24
# An AST node the walkers dispatch on by exact type (`type(node) is ast.Name`: cheaper than
# isinstance in the hot path), which mypy cannot narrow: typed loosely on purpose.
Node = Any
_MAX_VALUES = 8  # string values kept per name


@dataclass(frozen=True)
class Computed:
    """A part of a name chosen at run time: `getattr(owner, <pattern>)`, `__import__(<pattern>)`, …"""

    node: ast.AST
    kind: str  # "attribute" (getattr, vars()[…], globals()[…]) or "module" (__import__, import_module, sys.modules[…])
    owner: str  # the object looked in ("" for a module name or the module's own namespace)
    pattern: str  # what is known of the name; HOLE for unknown parts
    literal: bool = False  # a single string literal (`getattr(os, "system")`): a direct access in disguise


@dataclass(frozen=True)
class Ref:
    """The dotted name an expression reaches (`os.system`, `ctypes.CDLL().system`), and the computed
    parts on the way."""

    name: str
    computed: tuple[Computed, ...] = ()

    def attr(self, name: str, *computed: Computed) -> Ref:
        return Ref(f"{self.name}.{name}", self.computed + computed)


_GETATTR = frozenset({"getattr", "builtins.getattr"})
_IMPORTERS = frozenset({"__import__", "builtins.__import__", "importlib.__import__", "importlib.import_module"})
_NAMESPACES = frozenset({"globals", "locals", "builtins.globals", "builtins.locals"})
_BUILTIN_NAMESPACES = frozenset({"__builtins__", "builtins.__dict__", "__builtins__.__dict__"})


class Names:
    def __init__(self) -> None:
        # name -> its bindings in source order: (position, value node or an import's dotted name)
        self.bindings: dict[str, list[tuple[tuple[int, int], ast.AST | str]]] = {}
        self.star_modules: list[str] = []
        self.attribute_bindings = False  # whether any `a.b = …` is bound (under "a.b")
        self._refs: dict[str, Ref | None] = {}
        self._resolving: set[str] = set()

    def bind(self, name: str, node: ast.AST, value: ast.AST | str) -> None:
        self.bindings.setdefault(name, []).append(((getattr(node, "lineno", 0), getattr(node, "col_offset", 0)), value))

    # -- names -----------------------------------------------------------------------------

    def _lookup(self, name: str) -> Ref | None:
        """What a bound name stands for: its last binding that resolves (import or assignment)."""
        if name in self._refs:
            return self._refs[name]
        if name in self._resolving or len(self._resolving) > _MAX_DEPTH:
            return None
        self._resolving.add(name)
        try:
            found = None
            for _, value in reversed(self.bindings.get(name, ())):
                found = Ref(value) if isinstance(value, str) else self.ref(value)
                if found is not None:
                    break
        finally:
            self._resolving.discard(name)
        self._refs[name] = found
        return found

    def ref(self, node: Node) -> Ref | None:
        """The dotted name `node` reaches, or None when it names nothing (a literal, a lambda, …)."""
        kind = type(node)
        if kind is ast.Name:
            found = self._lookup(node.id) if node.id in self.bindings else None
            return found or Ref(node.id)
        if kind is ast.Attribute:
            if self.attribute_bindings:  # `self.run = subprocess.run` … `self.run(…)`
                raw = _raw(node)
                if raw in self.bindings:
                    bound = self._lookup(raw)
                    if bound is not None:
                        return bound
            base = self.ref(node.value)
            return base.attr(node.attr) if base is not None else None
        if kind is ast.Call:
            return self._call(node)
        if kind is ast.Subscript:
            return self._subscript(node)
        if kind is ast.IfExp:  # `os.system if x else print`: whichever branch names something
            return self.ref(node.body) or self.ref(node.orelse)
        if kind is ast.BoolOp:
            return next((r for r in map(self.ref, node.values) if r is not None), None)
        return None

    def _call(self, node: ast.Call) -> Ref | None:
        callee = self.ref(node.func)
        if callee is None:
            return None
        name, args = callee.name, node.args
        if name in _GETATTR and len(args) in (2, 3):
            owner = self.ref(args[0]) or Ref(HOLE)
            return self._lookup_in(owner, args[1], node, "attribute")
        if name.endswith(".__getattribute__") and len(args) == 1:  # os.__getattribute__("system")
            owner = Ref(name.rsplit(".", 1)[0], callee.computed)
            return self._lookup_in(owner, args[0], node, "attribute")
        if name == "object.__getattribute__" and len(args) == 2:
            return self._lookup_in(self.ref(args[0]) or Ref(HOLE), args[1], node, "attribute")
        if name in _IMPORTERS and args:
            return self._module(
                node,
                args[0],
                top_only=name != "importlib.import_module"
                and len(args) < 4
                and not any(k.arg == "fromlist" for k in node.keywords),
            )
        return Ref(f"{name}()", callee.computed)

    def _lookup_in(self, owner: Ref, key: ast.AST, node: ast.AST, kind: str) -> Ref:
        literal = type(key) is ast.Constant and isinstance(key.value, str)
        pattern = self.string(key) or HOLE
        site = Computed(node, kind, owner.name, pattern, literal)
        return Ref(f"{owner.name}.{pattern}" if owner.name else pattern, owner.computed + (site,))

    def _module(self, node: ast.AST, key: ast.AST, top_only: bool) -> Ref:
        literal = type(key) is ast.Constant and isinstance(key.value, str)
        pattern = self.string(key) or HOLE
        name = pattern.split(".", 1)[0] if top_only and HOLE not in pattern else pattern
        return Ref(name, (Computed(node, "module", "", pattern, literal),))

    def _subscript(self, node: ast.Subscript) -> Ref | None:
        value, key = node.value, node.slice
        owner = None
        if type(value) is ast.Call and not value.args:
            called = self.ref(value.func)
            if called is not None and called.name in _NAMESPACES:
                owner = Ref("")  # the module's own namespace: globals()["eval"] is eval
        elif type(value) is ast.Call and len(value.args) == 1:
            called = self.ref(value.func)
            if called is not None and called.name in ("vars", "builtins.vars"):
                owner = self.ref(value.args[0])
        if owner is None:
            base = self.ref(value)
            if base is None:
                return None
            if base.name in ("sys.modules",):
                return self._module(node, key, top_only=False)
            if base.name in _BUILTIN_NAMESPACES:
                owner = Ref("", base.computed)
            elif base.name.endswith(".__dict__"):
                owner = Ref(base.name[: -len(".__dict__")], base.computed)
            elif type(key) is ast.Constant and isinstance(key.value, str):
                return base.attr(key.value)  # `cdll["libc.so.6"]`: an attribute by another name
            else:
                return Ref(f"{base.name}[]", base.computed)
        ref = self._lookup_in(owner, key, node, "attribute")
        if not owner.name and HOLE not in ref.name:
            bound = self.ref(ast.Name(ref.name))  # globals()["os"] is whatever `os` is bound to
            return Ref(bound.name if bound else ref.name, ref.computed)
        return ref

    # -- strings ---------------------------------------------------------------------------

    def strings(self, node: ast.AST) -> list[str]:
        """Every value a string expression may have (a name assigned more than once has several)."""
        if type(node) is ast.Name and node.id in self.bindings:
            values = self._name_strings(node.id)
            if values:
                return values
        value = self.string(node)
        return [value] if value is not None else []

    def _name_strings(self, name: str, depth: int = 0) -> list[str]:
        values: list[str] = []
        if name in self._resolving or depth > _MAX_DEPTH:
            return values
        self._resolving.add(name)
        try:
            for _, value in self.bindings.get(name, ()):
                if isinstance(value, str):
                    continue
                if type(value) is _Augmented:  # `cmd += " | sh"` continues the value before it
                    tail = self.string(value.value, depth + 1) or HOLE
                    values.append((values[-1] if values else HOLE) + tail)
                    continue
                text = self.string(value, depth + 1)
                if text is not None:
                    values.append(text)
        finally:
            self._resolving.discard(name)
        return values[-_MAX_VALUES:]

    def string(self, node: Node, depth: int = 0) -> str | None:
        """What is known of a string expression: literal parts as they are, HOLE for the rest; None
        when nothing is known."""
        if depth > _MAX_DEPTH:
            return None
        kind = type(node)
        if kind is ast.Constant:
            if isinstance(node.value, str):
                return node.value
            if isinstance(node.value, bytes):
                return node.value.decode("latin-1")
            return None
        if kind is ast.Name:
            values = self._name_strings(node.id, depth + 1)
            return values[-1] if values else None
        if kind is ast.JoinedStr:
            parts = []
            for value in node.values:
                inner = value.value if type(value) is ast.FormattedValue else value
                parts.append(self.string(inner, depth + 1) or HOLE)
            return "".join(parts)
        if kind is ast.BinOp:
            if isinstance(node.op, ast.Add):
                left, right = self.string(node.left, depth + 1), self.string(node.right, depth + 1)
                if left is None and right is None:
                    return None
                return (left or HOLE) + (right or HOLE)
            if isinstance(node.op, ast.Mod):
                template = self.string(node.left, depth + 1)
                if template is None:
                    return None
                items = node.right.elts if type(node.right) is ast.Tuple else [node.right]
                filled = iter([self.string(v, depth + 1) or HOLE for v in items])
                return re.sub(
                    r"%[-#0 +]*\d*(?:\.\d+)?[sdrifxXoeEgGca%]",
                    lambda m: "%" if m.group() == "%%" else next(filled, HOLE),
                    template,
                )
            return None
        if kind is ast.Subscript:
            if type(node.slice) is not ast.Slice:  # `FILES[0]`, `PATHS["aws"]`: a table of literals
                item = self.item(node, depth + 1)
                return self.string(item, depth + 1) if item is not None else None
            text = self.string(node.value, depth + 1)
            if text is None:
                return None
            bounds = [self._int(b) for b in (node.slice.lower, node.slice.upper, node.slice.step)]
            if any(b is _NOT_INT for b in bounds):
                return HOLE
            return text[slice(*bounds)]
        if kind is ast.Call:
            return self._string_call(node, depth)
        if kind is ast.Attribute:
            ref = self.ref(node)
            return _KNOWN_STRINGS.get(ref.name) if ref is not None else None
        return None

    def item(self, node: ast.Subscript, depth: int = 0) -> ast.AST | None:
        """The element a literal index picks from a list, tuple or dict written out in the module
        (`FILES[0]`, `FILES[-1]`, `PATHS["aws"]`, through names bound to it: the last binding, as
        `string` reads a name); None when the container or the index is not known."""
        container: Node = node.value
        for _ in range(4):  # `A = B = [...]`, `FILES = _FILES`
            if type(container) is not ast.Name or depth > _MAX_DEPTH:
                break
            bound = [v for _, v in self.bindings.get(container.id, ()) if isinstance(v, ast.AST)]
            if not bound or type(bound[-1]) is _Augmented:
                return None
            container = bound[-1]
        kind = type(container)
        if kind is ast.Dict:
            key = self.string(node.slice, depth + 1)
            if key is None or HOLE in key or None in container.keys:  # `{**base, …}`: not all known
                return None
            found = [v for k, v in zip(container.keys, container.values, strict=True) if self.string(k) == key]
            return found[-1] if found else None
        if kind in (ast.List, ast.Tuple):
            index = self._int(node.slice)
            elts = container.elts
            if type(index) is not int or any(type(e) is ast.Starred for e in elts):
                return None
            return elts[index] if -len(elts) <= index < len(elts) else None
        return None

    @staticmethod
    def _int(node: ast.AST | None):
        if node is None:
            return None
        if type(node) is ast.Constant and type(node.value) is int:
            return node.value
        if (
            type(node) is ast.UnaryOp
            and isinstance(node.op, ast.USub)
            and type(node.operand) is ast.Constant
            and type(node.operand.value) is int
        ):
            return -node.operand.value
        return _NOT_INT

    def _string_call(self, node: ast.Call, depth: int) -> str | None:
        func, args = node.func, node.args
        if type(func) is ast.Attribute:
            method = func.attr
            if method in ("decode", "encode"):
                return self.string(func.value, depth + 1)
            if method in ("strip", "lstrip", "rstrip", "lower", "upper") and not args:
                text = self.string(func.value, depth + 1)
                return getattr(text, method)() if text is not None else None
            if method == "replace" and len(args) == 2:
                text = self.string(func.value, depth + 1)
                old, new = (self.string(a, depth + 1) for a in args)
                return text.replace(old, new) if text is not None and old is not None and new is not None else text
            if method == "format":
                template = self.string(func.value, depth + 1)
                if template is None:
                    return None
                positional = [self.string(a, depth + 1) or HOLE for a in args]
                named = {k.arg: self.string(k.value, depth + 1) or HOLE for k in node.keywords if k.arg}
                counter = iter(range(len(positional) + 1000))

                def field_value(match: re.Match) -> str:
                    key = match.group(1).split(".")[0].split("[")[0].split("!")[0].split(":")[0]
                    if key == "":
                        index = next(counter)
                        return positional[index] if index < len(positional) else HOLE
                    if key.isdigit():
                        return positional[int(key)] if int(key) < len(positional) else HOLE
                    return named.get(key, HOLE)

                return (
                    re.sub(r"\{([^{}]*)\}", field_value, template.replace("{{", "\0").replace("}}", "\1"))
                    .replace("\0", "{")
                    .replace("\1", "}")
                )
            if method == "join" and len(args) == 1:
                separator = self.string(func.value, depth + 1)
                items = self.sequence(args[0], depth + 1)
                if separator is None:
                    return None
                return separator.join(items) if items is not None else HOLE
        callee = self.ref(func)
        name = callee.name if callee else ""
        if (
            name
            in (
                "base64.b64decode",
                "base64.standard_b64decode",
                "base64.urlsafe_b64decode",
                "base64.b32decode",
                "base64.b16decode",
                "binascii.unhexlify",
                "binascii.a2b_hex",
                "bytes.fromhex",
                "codecs.decode",
            )
            and args
        ):
            text = self.string(args[0], depth + 1)
            return _decode(name, text, self.string(args[1], depth + 1) if len(args) > 1 else None) if text else None
        if name == "chr" and args:
            return _chr(self._int(args[0]))
        if name in ("str", "shlex.quote", "os.fsdecode", "os.fsencode", "shutil.which") and args:
            return self.string(args[0], depth + 1)
        if name in ("bytes", "bytearray") and args:
            first: Node = args[0]
            items = first.elts if type(first) in (ast.List, ast.Tuple) else None
            if items is not None:
                return "".join(chr(v) if type(v) is int and 0 <= v < 256 else HOLE for v in map(self._int, items))
            return self.string(args[0], depth + 1)
        if name in ("os.path.join", "posixpath.join") and args:
            return "/".join(self.string(a, depth + 1) or HOLE for a in args)
        if name == "shlex.join" and args:
            items = self.sequence(args[0], depth + 1)
            return " ".join(shlex.quote(i) for i in items) if items is not None else HOLE
        return None

    def sequence(self, node: Node, depth: int = 0) -> list[str] | None:
        """A list of strings (an argv): each item as far as known, HOLE for unknown items; None when
        the expression is no list that can be read."""
        if depth > _MAX_DEPTH:
            return None
        kind = type(node)
        if kind in (ast.List, ast.Tuple):
            out: list[str] = []
            for item in node.elts:
                if type(item) is ast.Starred:
                    out.extend(self.sequence(item.value, depth + 1) or [HOLE])
                else:
                    out.append(self.string(item, depth + 1) or HOLE)
            return out
        if kind is ast.Name:
            for _, value in reversed(self.bindings.get(node.id, ())):
                if not isinstance(value, str) and type(value) is not _Augmented and node.id not in self._resolving:
                    self._resolving.add(node.id)
                    try:
                        found = self.sequence(value, depth + 1)
                    finally:
                        self._resolving.discard(node.id)
                    if found is not None:
                        return found
            return None
        if kind is ast.BinOp and isinstance(node.op, ast.Add):
            left, right = self.sequence(node.left, depth + 1), self.sequence(node.right, depth + 1)
            return None if left is None and right is None else (left or [HOLE]) + (right or [HOLE])
        if kind is ast.Call:
            func = node.func
            if type(func) is ast.Attribute and func.attr == "split" and not node.args:
                text = self.string(func.value, depth + 1)
                return text.split() if text is not None else None
            callee = self.ref(func)
            if callee is not None and callee.name == "shlex.split" and node.args:
                text = self.string(node.args[0], depth + 1)
                if text is None:
                    return None
                try:
                    return shlex.split(text)
                except ValueError:
                    return text.split()
            if callee is not None and callee.name in ("map",) and len(node.args) == 2:
                mapper = self.ref(node.args[0])
                if mapper is not None and mapper.name == "chr" and type(node.args[1]) in (ast.List, ast.Tuple):
                    return [_chr(v) for v in map(self._int, node.args[1].elts)]
        if kind is ast.GeneratorExp and len(node.generators) == 1:  # chr(c) for c in [99, 117, …]
            loop = node.generators[0]
            if (
                type(loop.iter) in (ast.List, ast.Tuple)
                and type(node.elt) is ast.Call
                and type(loop.target) is ast.Name
            ):
                callee = self.ref(node.elt.func)
                if callee is not None and callee.name == "chr":
                    return [_chr(v) for v in map(self._int, loop.iter.elts)]
        return None


_NOT_INT = object()
# Attributes whose value is known well enough to read a command: the interpreter running the code.
_KNOWN_STRINGS = {"sys.executable": "python3"}


def _chr(number: object) -> str:
    return chr(number) if type(number) is int and 0 <= number < 0x110000 else HOLE


class _Augmented(ast.AST):
    """A binding by `name += value` (continues the name's previous value)."""

    _fields = ("value",)

    def __init__(self, value: ast.AST) -> None:
        super().__init__()
        self.value = value


def _decode(name: str, text: str, encoding: str | None) -> str:
    try:
        data = text.encode("latin-1")
        if name == "codecs.decode":
            if encoding in ("rot13", "rot_13"):
                return codecs.decode(text, "rot13")
            if encoding in ("hex", "hex_codec"):
                return binascii.unhexlify(data).decode("latin-1")
            if encoding in ("base64", "base64_codec"):
                return base64.b64decode(data).decode("latin-1")
            return HOLE
        if name in ("bytes.fromhex", "binascii.unhexlify", "binascii.a2b_hex", "base64.b16decode"):
            return binascii.unhexlify(re.sub(rb"\s", b"", data)).decode("latin-1")
        if name == "base64.b32decode":
            return base64.b32decode(data).decode("latin-1")
        if name == "base64.urlsafe_b64decode":
            return base64.urlsafe_b64decode(data).decode("latin-1")
        return base64.b64decode(data).decode("latin-1")
    except (ValueError, binascii.Error, UnicodeError):
        return HOLE


# -- the walk --------------------------------------------------------------------------------


@dataclass
class Scan:
    names: Names
    # (module, node): imports, and `__import__` / `import_module` of a string literal.
    imports: list[tuple[str, ast.AST]] = field(default_factory=list)
    # Every call in source order, with what its callee resolves to (None: nothing nameable).
    calls: list[tuple[Ref | None, ast.Call]] = field(default_factory=list)
    # Every string constant, in source order.
    strings: list[ast.Constant] = field(default_factory=list)


def _position(node: ast.AST) -> tuple[int, int]:
    return node.lineno, node.col_offset  # type: ignore[attr-defined]


_LEAF_FIELDS = frozenset({"ctx", "op", "ops"})  # Load/Store of every name, operators: nothing below them


def _walk(tree: ast.AST):
    """Every node of `tree` but expression contexts and operators, depth first. ast.walk costs about
    2.5 times as much, and this runs on every keystroke's vet."""
    stack = [tree]
    pop, push = stack.pop, stack.append
    node_type = ast.AST
    skip = _LEAF_FIELDS
    while stack:
        node = pop()
        yield node
        for name in node._fields:
            if name in skip:
                continue
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, node_type):
                        push(item)
            elif isinstance(value, node_type):
                push(value)


def scan(tree: ast.AST) -> Scan:
    """One walk over `tree`: imports, calls, string constants and bindings."""
    names = Names()
    result = Scan(names)
    calls: list[ast.Call] = []
    strings = result.strings
    imports = result.imports
    for node in _walk(tree):
        kind = type(node)
        if kind is ast.Call:
            calls.append(node)
        elif kind is ast.Constant:
            if type(node.value) is str:
                strings.append(node)
        elif kind is ast.Assign:
            for target in node.targets:
                _bind_target(names, target, node, node.value)
        elif kind is ast.AnnAssign or kind is ast.NamedExpr:
            if node.value is not None:
                _bind_target(names, node.target, node, node.value)
        elif kind is ast.AugAssign:
            if type(node.target) is ast.Name and isinstance(node.op, ast.Add):
                names.bind(node.target.id, node, _Augmented(node.value))
        elif kind is ast.Import:
            for alias in node.names:
                imports.append((alias.name, node))
                if alias.asname:
                    names.bind(alias.asname, node, alias.name)
                else:  # `import a.b` binds `a`
                    top = alias.name.split(".")[0]
                    names.bind(top, node, top)
        elif kind is ast.ImportFrom:
            module = node.module or ""
            if node.level == 0:
                imports.append((module, node))
            for alias in node.names:
                if alias.name == "*":
                    names.star_modules.append(module)
                    continue
                names.bind(alias.asname or alias.name, node, f"{module}.{alias.name}" if module else alias.name)
        elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
            _bind_defaults(names, node.args)
    for bound in names.bindings.values():
        bound.sort(key=lambda b: b[0])
    calls.sort(key=_position)
    strings.sort(key=_position)
    for call in calls:
        ref = names.ref(call.func)
        result.calls.append((ref, call))
        if ref is not None and ref.name in _IMPORTERS and call.args:
            first = call.args[0]
            if type(first) is ast.Constant and isinstance(first.value, str):
                imports.append((first.value, call))
    imports.sort(key=lambda i: _position(i[1]))
    return result


def _bind_target(names: Names, target: Node, node: ast.AST, value: Node) -> None:
    kind = type(target)
    if kind is ast.Name:
        names.bind(target.id, node, value)
    elif kind is ast.Attribute:
        raw = _raw(target)  # `self.run = subprocess.run`: bound under "self.run"
        if raw is not None:
            names.bind(raw, node, value)
            names.attribute_bindings = True
    elif kind in (ast.Tuple, ast.List) and type(value) in (ast.Tuple, ast.List) and len(target.elts) == len(value.elts):
        for inner, item in zip(target.elts, value.elts, strict=True):
            _bind_target(names, inner, node, item)


def _raw(node: Node) -> str | None:
    """`a.b.c` as written, for a chain of names; None for anything else."""
    parts = []
    while type(node) is ast.Attribute:
        parts.append(node.attr)
        node = node.value
    if type(node) is not ast.Name:
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _bind_defaults(names: Names, args: ast.arguments) -> None:
    """`def f(cmd="curl … | sh")`: a parameter's default is one of its values."""
    positional = args.posonlyargs + args.args
    for arg, default in zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True):
        names.bind(arg.arg, default, default)
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if kw_default is not None:
            names.bind(arg.arg, kw_default, kw_default)
