"""The JavaScript/TypeScript security pack, enforced: findings of source `pack` on one scanned tree.

Rules are data (`js_security_pack.toml`, read by `checks.rule_pack` with its examples checked):

- `call` rules: a call whose resolved callee matches `calls` (globs) and one of whose `when`
  conditions holds;
- `assign` rules: a member assignment whose target matches `targets` (`*.innerHTML`,
  `process.env.NODE_TLS_REJECT_UNAUTHORIZED`) with a `when` condition on the value;
- `prop` rules: an object literal's property or a JSX attribute named in `targets`
  (`rejectUnauthorized`, `dangerouslySetInnerHTML`) with a `when` condition on its value;
- `check` rules: `prototype-pollution` (a computed key written in a merge).

A condition's keys all hold: `arg` (the argument position, "*" any; default 0) and `option` (a
property of an object-literal argument) pick the value; `missing` (it is absent), `tainted`
(request data reaches it), `built` (a string built at run time), `constant = false` (not a
literal), `equals`, `matches` (a regular expression over the string it spells), `not_leading` (the
value's literal start must not match: a redirect to "/…", a URL with a fixed origin), `downloads`
(a shell command that downloads and runs code), `context` (the names around it: the variable
assigned, the enclosing function), `also` (another condition). Sanitizers are dotted-name globs
of calls whose result is clean (`DOMPurify.sanitize`, `path.basename`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from sandgate.checks import shell
from sandgate.checks.js_parse import JsTree, Node, Positions, parse_js, syntax_error, text
from sandgate.checks.js_scan import FUNCTIONS, HOLE, JsScan, Values, context, dotted, scan, string_value
from sandgate.checks.rule_pack import Pack, PackRule
from sandgate.findings import Finding, details

SOURCE = "pack"
_VALUE_KEYS = ("missing", "tainted", "built", "constant", "equals", "matches", "not_leading", "downloads")
_NOT_STRINGS = frozenset({"object", "array", "arrow_function", "function_expression", "function", "class"})
EXAMPLE_GRAMMARS = ("javascript", "tsx", "typescript")


def run_js_pack(code: str, pack: Pack, rules: tuple[PackRule, ...] | None = None) -> list[Finding]:
    """Parse `code` (JavaScript, else TSX, else TypeScript) and apply `rules` (default: those on by
    default). For examples and tests; the language unit calls `check_js_pack` on its tree."""
    tree = parse_js(code, EXAMPLE_GRAMMARS)
    error = syntax_error(tree)
    if error is not None:
        raise error
    chosen = rules if rules is not None else tuple(r for r in pack.rules if r.enabled)
    return check_js_pack(tree, scan(tree), pack, chosen)


def check_js_pack(tree: JsTree, scanned: JsScan, pack: Pack, rules: Iterable[PackRule]) -> list[Finding]:
    checker = _Checker(tree, scanned, pack)
    rules = tuple(rules)
    for rule in rules:
        for node, value in checker.matches(rule):
            checker.report(rule, node, value)
    found = checker.found
    for rule_id, line, col in list(found):
        rule = next(r for r in rules if r.id == rule_id)
        if any((other, line, col) in found for other in rule.yields_to):
            del found[(rule_id, line, col)]
    return sorted(found.values(), key=lambda f: (f.line, f.col, f.rule))


@lru_cache(maxsize=512)
def _globs(globs: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(fnmatch.translate(g) for g in globs) or r"(?!)")


# A command can download only if it names a fetcher or a URL: the shell parser runs on those alone.
_MAY_FETCH = re.compile(
    "|".join(re.escape(n) for n in sorted(shell._FETCHERS | shell._NETCATS)) + r"|://|/dev/tcp|urlopen|urllib|requests",
    re.IGNORECASE,
)


class _Checker:
    def __init__(self, tree: JsTree, scanned: JsScan, pack: Pack) -> None:
        self.tree = tree
        self.scan = scanned
        self.pack = pack
        self.positions = Positions(tree)
        self.found: dict[tuple[str, int, int], Finding] = {}
        self._values: dict[frozenset[str], Values] = {}
        self._callee_hits: dict[tuple[str, str, bool], bool] = {}

    def values(self, rule: PackRule) -> Values:
        found = self._values.get(rule.sanitizers)
        if found is None:
            found = self._values[rule.sanitizers] = Values(self.scan, self.pack.sources, rule.sanitizers)
        return found

    # -- which nodes a rule matches ------------------------------------------------------------

    def _called(self, pattern: re.Pattern, name: str, new: bool) -> bool:
        """Whether a callee matches a rule's globs (`new X` matches `X` too); names repeat, so kept."""
        key = (pattern.pattern, name, new)
        found = self._callee_hits.get(key)
        if found is None:
            found = self._callee_hits[key] = bool(pattern.fullmatch(name) or (new and pattern.fullmatch(f"new {name}")))
        return found

    def matches(self, rule: PackRule) -> Iterator[tuple[Node, Node | None]]:
        values = self.values(rule)
        if rule.kind == "call":
            pattern = _globs(rule.calls)
            for call in self.scan.calls:
                if not self._called(pattern, call.name, call.new):
                    continue
                for condition in rule.when or ({},):
                    hit = self.holds(condition, call.args, call.node, call.scope, values)
                    if hit is not False:
                        yield call.node, hit
                        break
        elif rule.kind == "assign":
            pattern = _globs(rule.targets)
            for assign in self.scan.assigns:
                if not pattern.fullmatch(assign.target):
                    continue
                for condition in rule.when:
                    hit = self.holds(condition, [assign.value], assign.node, assign.scope, values)
                    if hit is not False:
                        yield assign.node, hit
                        break
        elif rule.kind == "prop":
            pattern = _globs(rule.targets)
            for prop in self.scan.props:
                if not pattern.fullmatch(prop.key):
                    continue
                for condition in rule.when:
                    hit = self.holds(condition, [prop.value] if prop.value else [], prop.node, prop.scope, values)
                    if hit is not False:
                        yield prop.node, hit
                        break
        elif rule.check == "prototype-pollution":
            yield from self.prototype_pollution(rule, values)

    def holds(self, condition: dict[str, Any], args: list[Node], node: Node, scope: Node, values: Values) -> Any:
        """False, or the value the condition holds on (None when it needs no value)."""
        if "context" in condition and not re.search(condition["context"], context(node, self.scan, scope)):
            return False
        if "downloads" in condition:
            command = self._command(args, scope, values)
            if command is None or not _MAY_FETCH.search(command) or shell.download_and_run(command) is None:
                return False
        if "also" in condition and self.holds(condition["also"], args, node, scope, values) is False:
            return False
        if not any(key in condition for key in _VALUE_KEYS if key != "downloads"):
            return None
        for value in self._pick(condition, args):
            if self._value_holds(condition, value, scope, values):
                return value
        return False

    def _pick(self, condition: dict[str, Any], args: list[Node]) -> list[Node | None]:
        at = condition.get("arg", 0)
        chosen = list(args) if at == "*" else ([args[at]] if -len(args) <= at < len(args) else [None])
        option = condition.get("option")
        if option is None:
            return chosen
        picked: list[Node | None] = []
        for value in chosen:
            if value is not None and value.type == "object":
                props = [c for c in value.named_children if c.type == "pair" and _key(c) == option]
                shorthand = [
                    c for c in value.named_children if c.type == "shorthand_property_identifier" and text(c) == option
                ]
                picked.extend(p.child_by_field_name("value") for p in props)
                picked.extend(shorthand)
                if not props and not shorthand:
                    picked.append(None)
            elif at != "*":
                picked.append(None)
        return picked or [None]

    def _value_holds(self, condition: dict[str, Any], value: Node | None, scope: Node, values: Values) -> bool:
        if condition.get("missing") is not None and (value is None) != bool(condition["missing"]):
            return False
        if value is None:
            return bool(condition.get("missing"))
        if "tainted" in condition and values.tainted(value, scope) != bool(condition["tainted"]):
            return False
        if "built" in condition and values.built(value, scope) != bool(condition["built"]):
            return False
        if "constant" in condition:
            if not condition["constant"] and value.type in _NOT_STRINGS:
                return False  # `constant = false` asks for a string that is not a literal
            if values.constant(value, scope) != bool(condition["constant"]):
                return False
        if "equals" in condition and not _equals(value, condition["equals"], scope, values):
            return False
        if "matches" in condition:
            spelled = values.spelled(value, scope)
            if spelled == HOLE or not re.search(condition["matches"], spelled):
                return False
        if "not_leading" in condition and re.search(condition["not_leading"], values.leading(value, scope), re.I):
            return False
        return True

    def _command(self, args: list[Node], scope: Node, values: Values) -> str | None:
        """The shell command a spawn call runs: `exec(cmd)`, or `spawn('sh', ['-c', cmd])`."""
        if not args:
            return None
        first = values.spelled(args[0], scope)
        if len(args) > 1 and args[1].type == "array":
            argv = [first] + [values.spelled(item, scope) for item in args[1].named_children]
            return shell.shell_command(argv) or shell.join(argv)
        return first

    # -- the named checks ----------------------------------------------------------------------

    def prototype_pollution(self, rule: PackRule, values: Values) -> Iterator[tuple[Node, Node | None]]:
        """`target[key] = value` where the key comes from outside (a loop over an object's keys, a
        parameter, the request) in a merge: a nested computed target (`a[k1][k2] = v`), a function
        that calls itself, or request data, with no guard naming `__proto__`, `constructor` or
        `hasOwnProperty`. A literal `__proto__` target always counts."""
        for assign in self.scan.assigns:
            left = assign.left
            if assign.target.endswith("__proto__") or ".__proto__." in assign.target:
                yield assign.node, None
                continue
            if left.type != "subscript_expression":
                continue
            index = left.child_by_field_name("index")
            if index is None or values.constant(index, assign.scope):
                continue
            function = assign.scope
            body = text(function)
            if re.search(rule.params.get("guard", r"__proto__|constructor|hasOwn|prototype"), body):
                continue
            key = text(index) if index.type == "identifier" else ""
            from_outside = values.tainted(index, function) or (
                key and (self.scan.loop_source(key, function) is not None or self.scan.is_param(key, function))
            )
            if not from_outside:
                continue
            nested = left.child_by_field_name("object") is not None and left.child_by_field_name("object").type == (
                "subscript_expression"
            )
            name = self.scan.function_names.get(function.id, "") if function.type in FUNCTIONS else ""
            recursive = bool(name) and re.search(rf"\b{re.escape(name)}\s*\(", _body(function)) is not None
            if nested or recursive or values.tainted(index, function):
                yield assign.node, index

    # -- findings ------------------------------------------------------------------------------

    def report(self, rule: PackRule, node: Node, value: Node | None) -> None:
        line, end_line, col, end_col = self.positions.span(node)
        key = (rule.id, line, col)
        if key in self.found:
            return
        extra: dict[str, Any] = {"node": node.type}
        if value is not None:
            extra["value"] = text(value)[:80]
        self.found[key] = Finding(
            source=SOURCE,
            rule=rule.id,
            severity=rule.severity,
            confidence=rule.confidence,
            message=rule.message,
            line=line,
            end_line=end_line,
            col=col,
            end_col=end_col,
            cwe=rule.cwe,
            more_info=rule.link,
            fix=rule.fix,
            details=details(**extra),
        )


def _key(pair: Node) -> str:
    key = pair.child_by_field_name("key")
    value = string_value(key) if key is not None and key.type == "string" else None
    return value if value is not None else text(key)


def _body(function: Node) -> str:
    body = function.child_by_field_name("body")
    return text(body) if body is not None else ""


def _equals(node: Node, expected: Any, scope: Node, values: Values) -> bool:
    if isinstance(expected, bool):
        return node.type == ("true" if expected else "false")
    if isinstance(expected, int | float):
        return node.type == "number" and text(node) == str(expected) or string_value(node) == str(expected)
    spelled = values.spelled(node, scope)
    return spelled == str(expected)


__all__ = ["check_js_pack", "dotted", "run_js_pack"]
