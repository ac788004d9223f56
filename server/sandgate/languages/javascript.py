"""The JavaScript and TypeScript units: tree-sitter parses, the JS checks, the Node sandbox runs.

"Compiles" is "tree-sitter's tree has no ERROR or MISSING node" (type errors are not syntax: a
TypeScript document that `tsc` would reject still parses). Top-level statements are column-0
lines that do not continue the one before (a closing bracket, `.then(`, `else`, an operator); a
cut suggestion is completed by closing its open brackets, strings and template literals.

The static checks (`static_checks`): secrets (detect-secrets' patterns and named values work on
any text), the policy's deny lists (`require('m')` / `import … from 'm'` against
`code.deny_imports`, resolved callees against `code.deny_calls`), and the JS security pack
(`checks/js_security_pack.toml`); then the capability analysis (`checks/js_capabilities.py`) on the
same scan. The code runs in the Node sandbox (`sandbox/node_bootstrap.js`):
CommonJS or ESM by extension and syntax, TypeScript by Node's type stripping. JSX and TSX files are
not run (`languages.NOT_RUNNABLE`): the pipeline says so with a `sandbox.unsupported-language`
finding that the presets hold for review.
"""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache, partial
from typing import Any

from sandgate.checks.code_rules import denied
from sandgate.checks.js_capabilities import capabilities, document_capabilities
from sandgate.checks.js_pack import check_js_pack
from sandgate.checks.js_parse import JsTree, Positions, parse_js, syntax_error
from sandgate.checks.js_scan import JsScan, scan
from sandgate.checks.rule_pack import load_js_pack
from sandgate.checks.secrets import find_secrets
from sandgate.findings import Finding, Level, details
from sandgate.languages.unit import Language, longest_parsing_head

# A column-0 line that continues the statement before it rather than starting one.
_CONTINUES = re.compile(r"[)\]}.,?:+\-*/%&|^=<>]|else\b|catch\b|finally\b|as\b|satisfies\b|//|/\*|\*")
_DEFINES = re.compile(
    r"(?:export\s+(?:default\s+)?)?(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?"
    r"(?:(function)\s*\*?\s*([A-Za-z_$][\w$]*)|(class)\s+([A-Za-z_$][\w$]*)"
    r"|(const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]+)?=\s*(?:async\s+)?(?:function\b|\(|[A-Za-z_$][\w$]*\s*=>))"
)
_OPEN, _CLOSE = "([{", ")]}"


class JsSyntax:
    def __init__(self, grammars: tuple[str, ...]) -> None:
        self.grammars = grammars

    def parse(self, code: str) -> JsTree:
        """The tree the static checks take; raises SyntaxError when tree-sitter finds an error."""
        tree = parse_js(code, self.grammars)
        error = syntax_error(tree)
        if error is not None:
            raise error
        return tree

    def parses(self, code: str) -> bool:
        return not parse_js(code, self.grammars).broken

    def compile_error(self, code: str) -> SyntaxError | None:
        return syntax_error(parse_js(code, self.grammars))

    def chunk_compiles(self, code: str) -> bool:
        return _parses_cached(self.grammars, code)

    def statement_starts(self, lines: list[str]) -> list[int]:
        """Lines at column 0 that start a top-level statement: not blank, not a continuation, not
        under a decorator, not inside a template literal or a block comment."""
        starts, previous, inside = [0], "", None
        for index, line in enumerate(lines):
            if (
                index
                and inside is None
                and line
                and line[0] not in " \t\r\n\f"
                and not _CONTINUES.match(line)
                and not previous.startswith("@")
                and not previous.rstrip().endswith(("=", "(", "[", ",", "=>", "+", "&&", "||", "?", ":"))
            ):
                starts.append(index)
            inside = _open_after(line, inside)
            if line.strip():
                previous = line
        return starts

    def complete(self, text: str) -> str | None:
        closers = _closers(text)
        return text + closers if closers else None

    def truncate(self, text: str, indent: str) -> str | None:
        return longest_parsing_head(self, text, indent)

    def dedent(self, text: str) -> str:
        return textwrap.dedent(text)

    def describe(self, line: str) -> str | None:
        match = _DEFINES.match(line.strip())
        if not match:
            return None
        if match.group(1):
            return f"`function {match.group(2)}`"
        if match.group(3):
            return f"`class {match.group(4)}`"
        return f"`{match.group(5)} {match.group(6)} = …`"


@lru_cache(maxsize=1024)
def _parses_cached(grammars: tuple[str, ...], code: str) -> bool:
    return not parse_js(code, grammars).broken


def _open_after(line: str, inside: str | None) -> str | None:
    """The template literal or block comment still open after `line` (rough: it only keeps
    multi-line templates and comments whole)."""
    i, n = 0, len(line)
    quote: str | None = None
    while i < n:
        char = line[i]
        if inside == "/*":
            end = line.find("*/", i)
            if end < 0:
                return inside
            inside, i = None, end + 2
            continue
        if inside == "`":
            if char == "\\":
                i += 2
                continue
            if char == "`":
                inside = None
            i += 1
            continue
        if quote is not None:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = None
            i += 1
            continue
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            inside, i = "/*", i + 2
            continue
        if char in "'\"":
            quote = char
        elif char == "`":
            inside = "`"
        i += 1
    return inside


def _closers(text: str) -> str:
    """What closes the brackets, strings and template literals `text` leaves open ("" when
    something does not pair up: then it is not a cut)."""
    stack: list[str] = []  # expected closers; "`" for a template, "}`" marks a `${` inside one
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        top = stack[-1] if stack else None
        if top == "`":  # inside a template literal
            if char == "\\":
                i += 2
                continue
            if char == "`":
                stack.pop()
            elif text.startswith("${", i):
                stack.append("${")
                i += 2
                continue
            i += 1
            continue
        if top in ("'", '"'):
            if char == "\\":
                i += 2
                continue
            if char == top:
                stack.pop()
            elif char == "\n":
                return ""
            i += 1
            continue
        if text.startswith("//", i):
            newline = text.find("\n", i)
            if newline < 0:
                break
            i = newline
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                return "*/" + "".join(_closer(s) for s in reversed(stack))
            i = end + 2
            continue
        if char in "'\"`":
            stack.append(char)
        elif char in _OPEN:
            stack.append(char)
        elif char == "}" and top == "${":
            stack.pop()
        elif char in _CLOSE:
            if not stack or _closer(stack[-1]) != char:
                return ""
            stack.pop()
        i += 1
    return "".join(_closer(s) for s in reversed(stack))


def _closer(opened: str) -> str:
    if opened in _OPEN:
        return _CLOSE[_OPEN.index(opened)]
    if opened == "${":
        return "}"
    return opened


# -- static checks ------------------------------------------------------------------------------


def policy_findings(scanned: JsScan, positions: Positions, policy: Any) -> list[Finding]:
    """The policy's deny lists: modules loaded (`require`, `import`) and calls, by resolved name."""
    found: list[Finding] = []

    def finding(rule: str, message: str, node: Any, **extra: object) -> Finding:
        line, end_line, col, end_col = positions.span(node)
        return Finding(
            "policy", rule, Level.MEDIUM, Level.HIGH, message, line, end_line, col, end_col, details=details(**extra)
        )

    for module, node in scanned.imports:
        pattern = denied(module, policy.code.deny_imports)
        if pattern:
            message = f"import of {module!r} is denied by the policy (code.deny_imports: {pattern!r})"
            found.append(finding("import.denied", message, node, module=module))
    for call in scanned.calls:
        pattern = denied(call.name, policy.code.deny_calls)
        if pattern:
            message = f"call to {call.name!r} is denied by the policy (code.deny_calls: {pattern!r})"
            found.append(finding("call.denied", message, call.node, call=call.name))
    return found


def js_static_findings(vetter: Any, code: str, tree: JsTree | None) -> tuple[list[Finding], list]:
    """Findings of the in-process checks on JS/TS `code` (parsed already: `tree`)."""
    tel = vetter.telemetry
    with tel.check_span("secrets") as span:
        findings = find_secrets(code)
        span.set_findings(len(findings))
    if tree is None:
        return findings, []
    scanned = vetter.scanned(tree, scan)  # the capability analysis reads the same scan
    positions = Positions(tree)
    with tel.check_span("policy") as span:
        rules = policy_findings(scanned, positions, vetter.policy)
        span.set_findings(len(rules))
    findings.extend(rules)
    with tel.check_span("rules") as span:
        own = check_js_pack(tree, scanned, load_js_pack(), vetter.js_pack_rules)
        span.set_findings(len(own))
    findings.extend(own)
    return findings, []


def js_capabilities(vetter: Any, tree: JsTree) -> list:
    return capabilities(vetter.scanned(tree, scan))


JAVASCRIPT = Language(
    name="javascript",
    language_ids=frozenset({"javascript", "javascriptreact"}),
    extensions=(".js", ".mjs", ".cjs", ".jsx"),
    syntax=JsSyntax(("javascript",)),
    static_checks=js_static_findings,
    capabilities=js_capabilities,
    document_capabilities=partial(document_capabilities, grammars=("javascript",)),
    runtime="node",
)
TYPESCRIPT = Language(
    name="typescript",
    language_ids=frozenset({"typescript", "typescriptreact"}),
    extensions=(".ts", ".mts", ".cts", ".tsx"),
    syntax=JsSyntax(("typescript", "tsx")),
    static_checks=js_static_findings,
    capabilities=js_capabilities,
    document_capabilities=partial(document_capabilities, grammars=("typescript", "tsx")),
    runtime="node",
)
