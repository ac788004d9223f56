"""The security rule pack as data: `security_pack.toml` read into `Pack`, its examples checked.

Each rule carries its id, CWE, severity, confidence, message, docs anchor and fix hint, what it
matches (a taint sink, a call with argument conditions, an attribute assignment, or one of the
named checks of `checks.pack_rules`), and examples: every `match` must give a finding of the rule
and no `not_match` may (Codex's execpolicy habit). A rule whose examples fail is a load error
naming the rule, so the pack cannot ship a rule that does not do what it says.

This module reads and validates; `checks.pack_rules` enforces.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sandgate.checks.taint import KINDS, Sources
from sandgate.findings import Level

PACK_PATH = Path(__file__).with_name("security_pack.toml")
JS_PACK_PATH = Path(__file__).with_name("js_security_pack.toml")
DOCS = "https://github.com/sandgate/sandgate/blob/main/docs/static-checks.md"
RULE_KINDS = ("taint", "call", "assign", "check")
CHECKS = ("credential-names", "credential-strings", "random-for-secrets")
_CONDITION_KEYS = frozenset(
    {
        "arg",
        "keyword",
        "equals",
        "names",
        "below",
        "literal",
        "formatted",
        "missing",
        "contains",
        "has_item",
        "matches",
        "mentions",
        "context",
        "tainted",
        "calls",
        "also",
    }
)
_SINK_KEYS = frozenset({"calls", "args", "keywords", "receiver", "if_keyword", "formatted", "stores", "returns"})


# The JavaScript/TypeScript pack (`js_security_pack.toml`, enforced by `checks.js_pack`): the same
# rule fields and examples, its own kinds and conditions (tree-sitter trees, not Python's AST).
JS_RULE_KINDS = ("call", "assign", "prop", "check")
JS_CHECKS = ("prototype-pollution",)
_JS_CONDITION_KEYS = frozenset(
    {
        "arg",
        "option",
        "missing",
        "tainted",
        "built",
        "constant",
        "equals",
        "matches",
        "context",
        "not_leading",
        "downloads",
        "also",
    }
)


@dataclass(frozen=True)
class Dialect:
    """What a pack file may say: its rule kinds, named checks and condition keys."""

    name: str
    kinds: tuple[str, ...]
    checks: tuple[str, ...]
    conditions: frozenset[str]


PYTHON = Dialect("python", RULE_KINDS, CHECKS, _CONDITION_KEYS)
JAVASCRIPT = Dialect("javascript", JS_RULE_KINDS, JS_CHECKS, _JS_CONDITION_KEYS)


class PackError(ValueError):
    """The pack does not load: a malformed rule, or an example that does not do what it says."""


@dataclass(frozen=True)
class Sink:
    calls: tuple[str, ...] = ()  # globs over the callee's dotted name
    args: tuple[int, ...] | None = (0,)  # positions read (None: every positional argument)
    keywords: tuple[str, ...] = ()
    receiver: bool = False  # the object the method is called on counts too (`path.read_text()`)
    if_keyword: str | None = None  # the sink counts only with this keyword true (`shell=True`)
    formatted: bool = False  # only a value spliced into a string counts (SQL built by formatting)
    stores: tuple[str, ...] = ()  # globs over a container stored into: `resp.headers[k] = value`
    returns: str | None = None  # "flask": what a Flask route returns is its response body


@dataclass(frozen=True)
class PackRule:
    id: str
    kind: str
    cwe: int
    severity: Level
    confidence: Level
    message: str
    fix: str
    docs: str
    enabled: bool = True
    # taint
    sinks: tuple[Sink, ...] = ()
    sources: tuple[str, ...] = ("web", "cli")
    sanitizers: frozenset[str] = frozenset()
    # call / assign
    calls: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    when: tuple[dict[str, Any], ...] = ()
    unless_imported: tuple[str, ...] = ()  # no finding when the module imports one of these
    yields_to: tuple[str, ...] = ()  # no finding where one of these rules found the same node
    # No finding inside an `if` whose test matches this (`if verify is False:` in a library that
    # offers the choice); a regular expression over the test's source.
    unless_under: str = ""
    # check
    check: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    match: tuple[str, ...] = ()
    not_match: tuple[str, ...] = ()

    @property
    def link(self) -> str:
        return f"{DOCS}#{self.docs}"


@dataclass(frozen=True)
class Pack:
    rules: tuple[PackRule, ...]
    sources: Any  # taint.Sources (Python), js_scan.Sources (JavaScript)
    dialect: Dialect = PYTHON

    def rule(self, rule_id: str) -> PackRule:
        return next(r for r in self.rules if r.id == rule_id)


def _tuple(value: Any, where: str) -> tuple:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise PackError(f"{where}: expected a list")
    return tuple(value)


def _sink(data: dict[str, Any], where: str) -> Sink:
    unknown = set(data) - _SINK_KEYS
    if unknown:
        raise PackError(f"{where}: unknown sink keys {sorted(unknown)}")
    args = data.get("args", [0])
    return Sink(
        calls=_tuple(data.get("calls", []), where),
        args=None if args == "*" else tuple(args),
        keywords=_tuple(data.get("keywords", []), where),
        receiver=bool(data.get("receiver", False)),
        if_keyword=data.get("if_keyword"),
        formatted=bool(data.get("formatted", False)),
        stores=_tuple(data.get("stores", []), where),
        returns=data.get("returns"),
    )


def _rule(data: dict[str, Any], dialect: Dialect = PYTHON) -> PackRule:
    rule_id = data.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise PackError(f"a rule without an id: {data}")
    where = f"rule {rule_id}"
    kind = data.get("kind")
    if kind not in dialect.kinds:
        raise PackError(f"{where}: kind must be one of {dialect.kinds}, not {kind!r}")
    for key in ("cwe", "severity", "confidence", "message", "fix"):
        if key not in data:
            raise PackError(f"{where}: {key} is missing")
    when = tuple(data.get("when", ()))
    for condition in when:
        unknown = set(condition) - dialect.conditions
        if unknown:
            raise PackError(f"{where}: unknown condition keys {sorted(unknown)}")
    sources = _tuple(data.get("sources", ["web", "cli"]), where)
    if dialect is PYTHON and set(sources) - set(KINDS):
        raise PackError(f"{where}: sources must be among {KINDS}")
    if kind == "check" and data.get("check") not in dialect.checks:
        raise PackError(f"{where}: check must be one of {dialect.checks}")
    if not data.get("match") or not data.get("not_match"):
        raise PackError(f"{where}: every rule needs `match` and `not_match` examples")
    try:
        severity, confidence = Level.parse(data["severity"]), Level.parse(data["confidence"])
    except KeyError as exc:
        raise PackError(f"{where}: unknown level {exc}") from None
    return PackRule(
        id=rule_id,
        kind=kind,
        cwe=int(data["cwe"]),
        severity=severity,
        confidence=confidence,
        message=data["message"],
        fix=data["fix"],
        docs=data.get("docs", rule_id),
        enabled=bool(data.get("enabled", True)),
        sinks=tuple(_sink(s, where) for s in data.get("sinks", ())),
        sources=sources,
        sanitizers=frozenset(data.get("sanitizers", ())),
        calls=_tuple(data.get("calls", []), where),
        targets=_tuple(data.get("targets", []), where),
        when=when,
        unless_imported=_tuple(data.get("unless_imported", []), where),
        yields_to=_tuple(data.get("yields_to", []), where),
        unless_under=data.get("unless_under", ""),
        check=data.get("check", ""),
        params=dict(data.get("params", {})),
        match=_tuple(data["match"], where),
        not_match=_tuple(data["not_match"], where),
    )


def _sources(data: dict[str, Any]) -> Sources:
    return Sources(
        web_roots=tuple(data["web_roots"]),
        web_attrs=frozenset(data["web_attrs"]),
        cli=tuple(data["cli"]),
        env=tuple(data["env"]),
        clean=frozenset(data["clean"]),
        route_decorators=frozenset(data["route_decorators"]),
        safe_annotations=frozenset(data["safe_annotations"]),
    )


def _js_sources(data: dict[str, Any]) -> Any:
    from sandgate.checks.js_scan import Sources as JsSources

    return JsSources(roots=tuple(data["roots"]), attrs=frozenset(data["attrs"]), calls=tuple(data["calls"]))


def parse_pack(text: str, dialect: Dialect = PYTHON) -> Pack:
    """The pack in `text`, its examples not yet checked."""
    data = tomllib.loads(text)
    rules = tuple(_rule(r, dialect) for r in data.get("rule", ()))
    ids = [r.id for r in rules]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PackError(f"rule ids used twice: {duplicates}")
    sources = _sources(data["taint"]) if dialect is PYTHON else _js_sources(data["taint"])
    return Pack(rules, sources, dialect)


Runner = Callable[[str, Pack, tuple[PackRule, ...]], list]


def _python_runner() -> Runner:
    from sandgate.checks.pack_rules import run_pack  # enforcement lives there; it imports this module

    return lambda code, pack, rules: run_pack(code, pack, rules=rules)


def _js_runner() -> Runner:
    from sandgate.checks.js_pack import run_js_pack

    return lambda code, pack, rules: run_js_pack(code, pack, rules=rules)


def check_examples(pack: Pack) -> None:
    """Every rule's `match` examples give a finding of the rule; its `not_match` examples none."""
    run_pack = _python_runner() if pack.dialect is PYTHON else _js_runner()
    for rule in pack.rules:
        for expected, examples in ((True, rule.match), (False, rule.not_match)):
            for number, code in enumerate(examples, start=1):
                try:
                    found = [f for f in run_pack(code, pack, (rule,)) if f.rule == rule.id]
                except SyntaxError as exc:
                    raise PackError(f"rule {rule.id}: example {number} does not parse: {exc}") from None
                if bool(found) != expected:
                    which = "match" if expected else "not_match"
                    raise PackError(
                        f"rule {rule.id}: {which} example {number} "
                        f"{'gives no finding' if expected else 'gives a finding'}:\n{code}"
                    )


# lru_cache does not make a first call wait for another one under way: without the lock, two
# threads loading at once (a document check and the model guard) both checked every example.
_LOADING = threading.Lock()


def load_pack(path: Path = PACK_PATH) -> Pack:
    """The shipped pack, its examples checked (once per process)."""
    with _LOADING:
        return _load_pack(path)


@lru_cache(maxsize=1)
def _load_pack(path: Path) -> Pack:
    pack = parse_pack(path.read_text(encoding="utf-8"))
    check_examples(pack)
    return pack


def load_js_pack(path: Path = JS_PACK_PATH) -> Pack:
    """The shipped JavaScript/TypeScript pack, its examples checked (once per process)."""
    with _LOADING:
        return _load_js_pack(path)


@lru_cache(maxsize=1)
def _load_js_pack(path: Path) -> Pack:
    pack = parse_pack(path.read_text(encoding="utf-8"), JAVASCRIPT)
    check_examples(pack)
    return pack
