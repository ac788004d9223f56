"""The security rule pack, enforced: findings of source `pack` on one parsed module.

Rules are data (`checks.rule_pack`, `security_pack.toml`); this module applies them:

- `taint` rules: outside data (`checks.taint`) that reaches one of the rule's sinks — an argument
  of a call, a container stored into (`resp.headers[k] = v`), what a Flask route returns — without
  one of the rule's sanitizers or guards on the way;
- `call` rules: a call whose callee matches and one of whose `when` conditions holds (an argument
  equals a constant, names `*.MODE_ECB`, is a literal, is below a number, is missing, …);
- `assign` rules: an attribute set to such a value (`ctx.check_hostname = False`);
- `check` rules: the few that read more than one call (credentials by name and literal, `random`
  where secrets are made).

The policy picks the rules (`[pack] enable`, `disable`) and re-rates them (`[pack] severity`):
`active_rules`. Everything shares the module's one `checks.names.scan` and one taint pass.
"""

from __future__ import annotations

import ast
import bisect
import fnmatch
import functools
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from sandgate.checks.names import HOLE, Names, Scan, scan
from sandgate.checks.parsing import parse
from sandgate.checks.rule_pack import Pack, PackRule, Sink
from sandgate.checks.taint import KINDS, FunctionFlow, Taint, collect_body, flows, settle
from sandgate.findings import Finding, Level, details

SOURCE = "pack"
Node = Any


def _glob_key(glob: str) -> str:
    """The index key of a glob: its last dotted part, or "*" when that part has a wildcard."""
    last = glob.rsplit(".", 1)[-1].removesuffix("()")
    return "*" if any(c in last for c in "*?[") else last


@dataclass(frozen=True)
class _Entry:
    rule: PackRule
    pattern: re.Pattern
    sink: Sink | None


class _Index:
    """Callee globs of the active rules by their last part: a call looks up only its candidates."""

    def __init__(self, rules: Iterable[PackRule]) -> None:
        self.by_last: dict[str, list[_Entry]] = {}
        self.by_first: dict[str, list[_Entry]] = {}
        self.anywhere: list[_Entry] = []
        self._candidates: dict[tuple[str, str], list[_Entry]] = {}
        self.stores: list[_Entry] = []
        self.returns: list[tuple[PackRule, Sink]] = []
        self.checks: list[PackRule] = []
        for rule in rules:
            if rule.kind == "check":
                self.checks.append(rule)
            if rule.kind == "taint":
                for sink in rule.sinks:
                    for glob in sink.calls:
                        self._add(glob, rule, sink)
                    for glob in sink.stores:
                        self.stores.append(_Entry(rule, _compile(glob), sink))
                    if sink.returns:
                        self.returns.append((rule, sink))
            elif rule.kind in ("call", "check"):
                for glob in rule.calls:
                    self._add(glob, rule, None)
            elif rule.kind == "assign":
                for glob in rule.targets:
                    self.stores.append(_Entry(rule, _compile(glob), None))

    def _add(self, glob: str, rule: PackRule, sink: Sink | None) -> None:
        entry = _Entry(rule, _compile(glob), sink)
        last = _glob_key(glob)
        first = glob.split(".", 1)[0]
        if last != "*":
            self.by_last.setdefault(last, []).append(entry)
        elif not any(c in first for c in "*?[") and "." in glob:
            self.by_first.setdefault(first, []).append(entry)  # `requests.*`: by the module
        else:
            self.anywhere.append(entry)

    def candidates(self, name: str) -> list[_Entry]:
        key = (name.rsplit(".", 1)[-1].removesuffix("()"), name.split(".", 1)[0])
        found = self._candidates.get(key)
        if found is None:
            found = self._candidates[key] = self.by_last.get(key[0], []) + self.by_first.get(key[1], []) + self.anywhere
        return found


def _compile(glob: str) -> re.Pattern:
    return re.compile(fnmatch.translate(glob))


def active_rules(pack: Pack, enable: Iterable[str] = (), disable: Iterable[str] = (), severity: Iterable[str] = ()):
    """The pack's rules as the policy has them: rules off by default that `enable` names are on,
    rules `disable` names are off (globs over ids), and `severity` entries (`glob=level`) re-rate."""
    enable, disable = tuple(enable), tuple(disable)
    levels = [(glob, Level.parse(level)) for glob, _, level in (entry.rpartition("=") for entry in severity)]
    out = []
    for rule in pack.rules:
        on = rule.enabled or any(fnmatch.fnmatchcase(rule.id, g) for g in enable)
        if not on or any(fnmatch.fnmatchcase(rule.id, g) for g in disable):
            continue
        for glob, level in levels:
            if fnmatch.fnmatchcase(rule.id, glob):
                rule = replace(rule, severity=level)
        out.append(rule)
    return tuple(out)


def run_pack(code: str, pack: Pack, rules: tuple[PackRule, ...] | None = None) -> list[Finding]:
    """Parse `code` and apply `rules` (default: the pack's rules on by default). For examples,
    tests and benchmarks; the pipeline calls `check_pack` on the tree it has."""
    tree = parse(code)
    return check_pack(tree, scan(tree), pack, rules if rules is not None else active_rules(pack), code)


_INDEXES: dict[int, tuple[tuple[PackRule, ...], _Index]] = {}
_INDEXES_LOCK = threading.Lock()


# `name = "literal"`, `name: str = "…"`, `name="…"` (a keyword or a default), `"name": "…"`,
# `x["name"] = "…"`, `name == "…"`.
_NAMED_LITERAL = re.compile(
    r"""(?P<name>[A-Za-z_][\w.]*|["'][\w.-]+["']\]?)(?:\s*:\s*[\w\[\], |.]+?)?\s*(?:==|!=|=|:)\s*"""
    r"""[rbuRBU]?(?P<q>["'])(?P<value>[^"'\n]*)(?P=q)(?=\s*(?:[,)\]};#]|and\b|or\b|$))""",
    re.MULTILINE,
)


class _LineIndex:
    def __init__(self, text: str) -> None:
        self.starts = [0]
        at = text.find("\n")
        while at >= 0:
            self.starts.append(at + 1)
            at = text.find("\n", at + 1)

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and 0-based column of `offset`."""
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1]


# A module without any of these words names no source: the taint pass has nothing to follow.
_SOURCE_WORDS = re.compile(
    r"request|input|argv|environ|getenv|stdin|parse_args|route|\.get\(|\.post\(|def \w+\(\s*(?:self,\s*)?req"
)


def check_pack(tree: ast.Module, scanned: Scan, pack: Pack, rules: tuple[PackRule, ...], code: str) -> list[Finding]:
    """The findings of `rules` on one parsed and scanned module whose text is `code`, in source
    order. A module that names no source skips the taint pass."""
    if not rules:
        return []
    with _INDEXES_LOCK:  # the document checks, the vets and the model guard scan side by side
        cached = _INDEXES.get(id(rules))
        if cached is not None and cached[0] is rules:
            index = cached[1]
        else:
            index = _Index(rules)
            _INDEXES[id(rules)] = (rules, index)  # the tuple is kept: its id stays its own
            while len(_INDEXES) > 64:  # policies change rarely; examples check one rule at a time
                _INDEXES.pop(next(iter(_INDEXES)))
    refs = {id(call): ref.name for ref, call in scanned.calls if ref is not None}
    imported = tuple(module for module, _ in scanned.imports)
    fastapi = any(m == "fastapi" or m.startswith(("fastapi.", "starlette")) for m in imported)
    checker = _Checker(scanned.names, pack, refs, imported, index)
    checker.calls = scanned.calls
    checker.helpers = {f.name: f for f in _functions(tree)}
    active = _SOURCE_WORDS.search(code) is not None
    for flow in flows(tree, scanned.names, pack.sources, fastapi, [c for _, c in scanned.calls], active):
        checker.flow(flow)
    for rule in index.checks:
        if rule.check == "credential-strings":
            checker.credential_strings(rule, scanned)
        elif rule.check == "credential-names":
            checker.credential_names(rule, code)
    found = checker.found
    for rule_id, line, col in list(found):
        rule = next(r for r in rules if r.id == rule_id)
        if any((other, line, col) in found for other in rule.yields_to):
            del found[(rule_id, line, col)]  # the stronger finding says it all
    return sorted(found.values(), key=lambda f: (f.line, f.col, f.rule))


class _Checker:
    def __init__(self, names: Names, pack: Pack, refs: dict[int, str], imported: tuple[str, ...], index: _Index):
        self.names = names
        self.pack = pack
        self.refs = refs
        self.imported = imported
        self.index = index
        self.found: dict[tuple[str, int, int], Finding] = {}
        self.docstrings: set[int] = set()
        self.docstring_nodes: list[ast.Constant] = []
        self.helpers: dict[str, ast.FunctionDef] = {}  # the module's own top-level functions
        self.summaries: dict[int, dict[str, list[tuple[PackRule, str, frozenset[str]]]]] = {}
        self.calls: list = []

    def add(
        self,
        rule: PackRule,
        node: ast.AST,
        message: str,
        confidence: Level | None = None,
        flow: FunctionFlow | None = None,
        **extra: object,
    ):
        line = getattr(node, "lineno", 0)
        if rule.unless_under and flow is not None:
            pattern = _regex(rule.unless_under)
            if any(pattern.search(ast.unparse(test)) for test in flow.under(line)):
                return  # the code offers the choice: a caller's setting, not a decision made here
        key = (rule.id, line, getattr(node, "col_offset", 0))
        if key in self.found:
            return
        self.found[key] = Finding(
            source=SOURCE,
            rule=rule.id,
            severity=rule.severity,
            confidence=confidence if confidence is not None else rule.confidence,
            message=message,
            line=line,
            end_line=getattr(node, "end_lineno", 0) or line,
            col=getattr(node, "col_offset", 0),
            end_col=getattr(node, "end_col_offset", 0) or 0,
            cwe=rule.cwe,
            more_info=rule.link,
            fix=rule.fix,
            details=details(**extra),
        )

    # -- one function -------------------------------------------------------------------

    @property
    def docstring_lines(self) -> list[tuple[int, int]]:
        spans = getattr(self, "_docstring_lines", None)
        if spans is None:
            spans = self._docstring_lines = [(d.lineno, d.end_lineno or d.lineno) for d in self.docstring_nodes]
        return spans

    def flow(self, flow: FunctionFlow) -> None:
        self.docstring_nodes.extend(flow.docstrings)
        self.docstrings.update(id(d) for d in flow.docstrings)
        function = getattr(flow.node, "name", "")
        for call in flow.calls:
            name = self.refs.get(id(call))
            if name is None:
                continue
            if name in self.helpers and flow.active:
                self._helper_call(flow, call, name)
            for entry in self.index.candidates(name):
                if not entry.pattern.match(name):
                    continue
                rule = entry.rule
                if rule.unless_imported and self._imports(rule.unless_imported):
                    continue
                if entry.sink is not None:
                    self._sink_call(rule, entry.sink, flow, call, name)
                elif rule.kind == "call":
                    if self._when(rule, call, flow, function, name):
                        self.add(rule, call, f"{rule.message} ({name})", flow=flow, call=name)
                elif rule.check == "random-for-secrets":
                    self._random(rule, flow, call, name, function)
        for target, value in flow.stores:
            container = self.names.ref(target.value)
            if container is None:
                continue
            for entry in self.index.stores:
                if entry.sink is not None and entry.pattern.match(container.name):
                    self._tainted(entry.rule, flow, value, target, f"{container.name}[…]", entry.sink)
        for attr_target, value in flow.attr_stores:
            owner = self.names.ref(attr_target)
            if owner is None:
                continue
            for entry in self.index.stores:
                if entry.sink is None and entry.pattern.match(owner.name):
                    if any(self._holds(c, value, flow, None, "", owner.name) for c in entry.rule.when):
                        self.add(
                            entry.rule, attr_target, f"{entry.rule.message} ({ast.unparse(attr_target)})", flow=flow
                        )
        for rule, sink in self.index.returns:
            if flow.route == sink.returns:
                for ret in flow.returns:
                    self._returned(rule, sink, flow, ret)

    def _imports(self, modules: tuple[str, ...]) -> bool:
        return any(i == m or i.startswith(m + ".") for i in self.imported for m in modules)

    # -- taint ---------------------------------------------------------------------------

    def _sink_call(self, rule: PackRule, sink: Sink, flow: FunctionFlow, call: ast.Call, name: str) -> None:
        if sink.if_keyword is not None and not any(
            k.arg == sink.if_keyword and not (type(k.value) is ast.Constant and not k.value.value)
            for k in call.keywords
        ):
            return
        for value in _sink_values(sink, call):
            if self._tainted(rule, flow, value, call, name, sink):
                return

    # -- helpers of the module ------------------------------------------------------------

    def _helper_call(self, flow: FunctionFlow, call: ast.Call, name: str) -> None:
        """A call of one of the module's own functions with outside data as an argument that the
        function hands to a sink (one level: `def ping(host): os.system("ping " + host)`)."""
        helper = self.helpers.get(name)
        if helper is None:
            return
        summary = self._summary(helper)
        if not summary:
            return
        params = [a.arg for a in helper.args.posonlyargs + helper.args.args]
        for index, arg in enumerate(call.args):
            if type(arg) is ast.Starred or index >= len(params):
                break
            self._through_helper(flow, call, name, arg, summary.get(params[index], ()))
        for keyword in call.keywords:
            if keyword.arg is not None:
                self._through_helper(flow, call, name, keyword.value, summary.get(keyword.arg, ()))

    def _through_helper(self, flow, call, name, value, reached) -> None:
        if not reached:
            return
        taint = flow.taint(value)
        for rule, sink_name, through in reached:
            if self._reaches(rule, taint) and taint is not None and not (through & rule.sanitizers):
                self.add(
                    rule,
                    call,
                    f"{rule.message}: {taint.origin} reaches {sink_name} in {name}()",
                    _lowered(rule.confidence, taint),
                    source=taint.origin,
                    sink=sink_name,
                    helper=name,
                )

    def _summary(self, helper: ast.FunctionDef) -> dict[str, list[tuple[PackRule, str, frozenset[str]]]]:
        """Which parameters of `helper` reach which taint sink, and through what (computed once)."""
        cached = self.summaries.get(id(helper))
        if cached is not None:
            return cached
        summary: dict[str, list[tuple[PackRule, str, frozenset[str]]]] = {}
        self.summaries[id(helper)] = summary  # a recursive helper sees an empty summary
        params = [a.arg for a in helper.args.posonlyargs + helper.args.args + helper.args.kwonlyargs]
        first, last = helper.lineno, helper.end_lineno or helper.lineno
        sinks: list[tuple[PackRule, Sink, str, ast.Call]] = []  # the helper's calls that are taint sinks
        for ref, call in self.calls:
            if ref is not None and first <= call.lineno <= last:
                for entry in self.index.candidates(ref.name):
                    if entry.sink is not None and entry.pattern.match(ref.name):
                        sinks.append((entry.rule, entry.sink, ref.name, call))
        if not sinks:
            return summary
        for param in params:  # one probe each: a value joined from two parameters keeps one origin
            if param in ("self", "cls"):
                continue
            probe = FunctionFlow(self.names, self.pack.sources, helper, _settled=True)
            probe.env = {param: Taint("web", param)}
            collect_body(probe, helper)
            settle(probe)
            for rule, sink, sink_name, call in sinks:
                for value in _sink_values(sink, call):
                    taint = probe.taint(value)
                    if taint is not None:
                        summary.setdefault(param, []).append((rule, sink_name, taint.through))
                        break
        return summary

    def _tainted(self, rule: PackRule, flow: FunctionFlow, value: Node, at: ast.AST, where: str, sink: Sink) -> bool:
        taint = flow.taint(value)
        if not self._reaches(rule, taint):
            return False
        assert taint is not None
        if sink.formatted and not (taint.formatted or flow.formatted(value, self.names)):
            return False
        self.add(
            rule,
            at,
            f"{rule.message}: {taint.origin} reaches {where}",
            _lowered(rule.confidence, taint),
            source=taint.origin,
            sink=where,
        )
        return True

    def _reaches(self, rule: PackRule, taint: Taint | None) -> bool:
        return taint is not None and taint.kind in rule.sources and not (taint.through & rule.sanitizers)

    def _returned(self, rule: PackRule, sink: Sink, flow: FunctionFlow, ret: ast.Return) -> None:
        value: Node = ret.value
        if type(value) is ast.Tuple and value.elts:  # `return body, 200`
            value = value.elts[0]
        if value is None or type(value) is ast.Call:  # a response object: the call sinks judge it
            return
        taint = flow.taint(value)
        if self._reaches(rule, taint) and taint is not None and taint.formatted:
            self.add(
                rule,
                ret,
                f"{rule.message}: {taint.origin} is returned as the response body",
                _lowered(rule.confidence, taint),
                source=taint.origin,
            )

    # -- conditions ------------------------------------------------------------------------

    def _when(self, rule: PackRule, call: ast.Call, flow: FunctionFlow, function: str, name: str) -> bool:
        if not rule.when:
            return True
        return any(self._holds(c, _argument(call, c), flow, call, function, name) for c in rule.when)

    def _holds(
        self, c: dict[str, Any], value: Node | None, flow: FunctionFlow, call, function: str = "", name: str = ""
    ) -> bool:
        """Whether every key of condition `c` holds of `value` (None: the argument is absent)."""
        if "calls" in c:
            if not any(fnmatch.fnmatchcase(name, g) for g in c["calls"]):
                return False
            if len(c) == 1:
                return True
        if "also" in c:
            if call is None or not self._holds(c["also"], _argument(call, c["also"]), flow, call, function, name):
                return False
        if c.get("missing"):
            return value is None
        if "context" in c:
            where = flow.context(call) if call is not None else ""
            context = _regex(c["context"])
            if not (context.search(where) or context.search(function)):
                return False
            if len(c) == 1:
                return True
        if value is None:
            return False
        if "equals" in c and not _equals(value, c["equals"]):
            return False
        if "names" in c:
            ref = self.names.ref(value)
            if ref is None or not any(fnmatch.fnmatchcase(ref.name, g) for g in c["names"]):
                return False
        if "below" in c:
            number = _int(value, self.names, flow)
            if number is None or number >= c["below"]:
                return False
        if "literal" in c:
            if _literal(value, self.names, flow) != c["literal"]:
                return False
        if "formatted" in c and flow.formatted(value, self.names) != c["formatted"]:
            return False
        if "contains" in c:
            items = value.elts if type(value) in (ast.List, ast.Tuple, ast.Set) else [value]
            if not any(_equals(i, c["contains"]) for i in items):
                return False
        if "has_item" in c:
            key, wanted = c["has_item"]
            if type(value) is not ast.Dict or not any(
                k is not None and _equals(k, key) and _equals(v, wanted)
                for k, v in zip(value.keys, value.values, strict=True)
            ):
                return False
        if "matches" in c:
            text = self.names.string(value)
            if text is None or not _regex(c["matches"]).search(text):
                return False
        if "mentions" in c:
            words = " ".join(_identifiers(value))
            if not _regex(c["mentions"]).search(words):
                return False
        if "tainted" in c and (flow.taint(value) is not None) != c["tainted"]:
            return False
        return True

    # -- checks ----------------------------------------------------------------------------

    def _random(self, rule: PackRule, flow: FunctionFlow, call: ast.Call, name: str, function: str) -> None:
        (pattern,) = _patterns(rule, "names")
        where = flow.context(call)
        for text in (where, function):
            if text and pattern.search(text):
                self.add(rule, call, f"{rule.message}: {name} makes {text!r}", call=name, name=text)
                return

    def credential_names(self, rule: PackRule, code: str) -> None:
        """A string literal given a secret's name: assigned, passed, a dict item, a default, or
        compared with (`password == "letmein"`). Read from the text (`named_literals`), outside
        docstrings."""
        lines: _LineIndex | None = None
        for offset, name, value in named_literals(rule, code):
            if not credential_literal(rule, name, value):
                continue
            lines = lines or _LineIndex(code)
            line, col = lines.position(offset)
            if any(start <= line <= end for start, end in self.docstring_lines):
                continue
            node = ast.Constant(value)
            node.lineno, node.end_lineno, node.col_offset = line, line, col
            node.end_col_offset = col + len(value) + 2
            self.add(rule, node, f"{rule.message}: {name!r} is given a literal ({_redacted(value)})", name=name)

    def credential_strings(self, rule: PackRule, scanned: Scan) -> None:
        patterns = [re.compile(p, re.I) for p in rule.params["patterns"]]
        placeholders = re.compile(rule.params["placeholders"], re.I)
        for const in scanned.strings:
            if id(const) in self.docstrings:
                continue
            text = str(const.value)
            for pattern in patterns:
                match = pattern.search(text)
                if match and not placeholders.search(match.group("secret")):
                    self.add(rule, const, f"{rule.message} ({_redacted(match.group('secret'))})")
                    break


def named_literals(rule: PackRule, code: str) -> Iterator[tuple[int, str, str]]:
    """Every string literal given a name (`name = "…"`, `name="…"`, `"name": "…"`,
    `x["name"] = "…"`, `name == "…"`) on a line with one of a `credential-names` rule's `words`:
    (offset of its opening quote in `code`, the name, the value). Text only: works on partial
    code, and on the context `checks.redaction` keeps from the model."""
    (words,) = _patterns(rule, "words")
    done = -1
    for word in words.finditer(code):  # only the lines with a secret's word in them
        start = code.rfind("\n", 0, word.start()) + 1
        if start <= done:
            continue
        end = code.find("\n", word.end())
        done = end = len(code) if end < 0 else end
        line = code[start:end]
        if '"' not in line and "'" not in line:  # no literal on it
            continue
        for match in _NAMED_LITERAL.finditer(line):
            yield start + match.start("value") - 1, match.group("name").strip("'\"]"), match.group("value")


def credential_literal(rule: PackRule, name: str, value: str) -> bool:
    """Whether a `credential-names` rule calls `value`, given to `name`, a hard-coded credential:
    a secret's name (`names`, not `ignore_names`), a value that is no placeholder, no message and
    no environment variable's name."""
    names, ignore, placeholders = _patterns(rule, "names", "ignore_names", "placeholders")
    if not names.search(name) or ignore.search(name.rsplit(".", 1)[-1]):
        return False
    if not value or placeholders.search(value) or value.lower() == name.lower() or len(value) > 200:
        return False
    return not (" " in value.strip() or value.isupper() and "_" in value)  # a message; an env var's name


def _functions(tree: ast.Module) -> list[ast.FunctionDef]:
    return [node for node in tree.body if isinstance(node, ast.FunctionDef)]


def _sink_values(sink: Sink, call: ast.Call) -> list[Node]:
    """The values a sink reads of one call (a %-template's %r and numeric arguments left out)."""
    values: list[Node] = []
    if sink.args is None:
        values.extend(call.args)
    else:
        values.extend(call.args[i] for i in sink.args if i < len(call.args))
    values.extend(k.value for k in call.keywords if k.arg in sink.keywords)
    if sink.receiver and type(call.func) is ast.Attribute:
        values.append(call.func.value)
    quoted = _quoted_arguments(call)
    return [v for v in values if id(v) not in quoted]


_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?([a-zA-Z%])")


def _quoted_arguments(call: ast.Call) -> set[int]:
    """Arguments a literal %-template (a logging call's) formats with %r or as a number: the value
    cannot break out of its line."""
    if not call.args or type(call.args[0]) is not ast.Constant or not isinstance(call.args[0].value, str):
        return set()
    kinds = [k for k in _PLACEHOLDER.findall(call.args[0].value) if k != "%"]
    return {id(arg) for arg, k in zip(call.args[1:], kinds, strict=False) if k in "rdifeEgGxXo"}


_PATTERNS: dict[tuple[str, str], re.Pattern] = {}


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _patterns(rule: PackRule, *keys: str) -> list[re.Pattern]:
    """The rule's regular-expression parameters, compiled once (case ignored)."""
    out = []
    for key in keys:
        pattern = _PATTERNS.get((rule.id, key))
        if pattern is None:
            pattern = _PATTERNS[(rule.id, key)] = re.compile(rule.params[key], re.I)
        out.append(pattern)
    return out


def rule_pattern(rule: PackRule, key: str) -> re.Pattern:
    """One of a rule's regular-expression parameters, compiled once (case ignored)."""
    return _patterns(rule, key)[0]


def _redacted(value: str) -> str:
    return "*" * min(len(value), 8) if len(value) <= 8 else f"{value[:2]}…({len(value)} chars)"


def _lowered(confidence: Level, taint: Taint) -> Level:
    """Confidence falls a step for the command line, two for the environment."""
    return Level(max(int(Level.LOW), int(confidence) - KINDS.index(taint.kind)))


def _identifiers(node: Node) -> list[str]:
    out = []
    for item in ast.walk(node):
        if isinstance(item, ast.Name):
            out.append(item.id)
        elif isinstance(item, ast.Attribute):
            out.append(item.attr)
    return out


def _argument(call: ast.Call, c: dict[str, Any]) -> Node | None:
    if "keyword" in c:
        for keyword in call.keywords:
            if keyword.arg == c["keyword"]:
                return keyword.value
    if "arg" in c and c["arg"] < len(call.args):
        value = call.args[c["arg"]]
        return None if type(value) is ast.Starred else value
    return None


def _equals(node: Node, wanted: Any) -> bool:
    if type(node) is not ast.Constant:
        return False
    value = node.value
    if isinstance(wanted, str) and isinstance(value, str):
        return value.lower() == wanted.lower()
    return type(value) is type(wanted) and value == wanted


def _int(node: Node, names: Names, flow: FunctionFlow) -> int | None:
    if type(node) is ast.Constant and type(node.value) is int:
        return node.value
    if type(node) is ast.Name:
        values: list[Any] = flow.assigned.get(node.id, []) or [v for _, v in names.bindings.get(node.id, [])]
        for value in reversed(values):
            if type(value) is ast.Constant and type(value.value) is int:
                return value.value
    return None


def _literal(node: Node, names: Names, flow: FunctionFlow) -> bool:
    """A string or bytes the code spells out (a literal, a name assigned one, `b"\\0" * 16`)."""
    if type(node) is ast.Name and node.id in flow.assigned:
        return all(_literal(v, names, flow) for v in flow.assigned[node.id])
    if type(node) is ast.BinOp and type(node.op) is ast.Mult:
        return _literal(node.left, names, flow) or _literal(node.right, names, flow)
    if type(node) is ast.Constant:
        return isinstance(node.value, (str, bytes))
    if type(node) is ast.Call:
        return False
    text = names.string(node)
    return text is not None and HOLE not in text
