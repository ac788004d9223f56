"""The policy's own code rules: denied imports, denied calls, and hosts named in string literals.

Calls are resolved through the file's imports (`import os as o; o.system(...)` is
`os.system`), so an alias does not slip past a rule.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from urllib.parse import urlsplit

from sandgate.findings import Finding, Level, details
from sandgate.policy.model import CodePolicy, NetworkPolicy

_URL = re.compile(r"\b(?:https?|wss?|ftp)://[^\s'\"<>]+", re.IGNORECASE)
_HOSTNAME = re.compile(r"^(?=.{4,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$|^\d{1,3}(?:\.\d{1,3}){3}$")
# Calls whose string arguments are host names, not file names or keys.
_NETWORK_CALLS = re.compile(r"(?:^|\.)(?:connect|create_connection|getaddrinfo|gethostbyname\w*|HTTPS?Connection|urlopen|Request|request|get|post|put|delete|head|patch|FTP\w*|SMTP\w*|Telnet)$")


def host_allowed(host: str, network: NetworkPolicy) -> bool:
    """Deny wins over allow; patterns are exact names or `*.domain` (which covers subdomains only),
    as the egress proxy reads them (`sandgate.egress.rules`). A literal names no port, so an allow
    entry matches whatever its port (`127.0.0.1:8080` allows "127.0.0.1"); a deny entry denies
    the host only without a port (with one, other ports stay open to the host)."""
    from sandgate.egress.rules import normalise_host, parse_pattern

    host = normalise_host(host)
    for text in network.deny_hosts:
        pattern = parse_pattern(text)
        if pattern.port is None and pattern.matches_host(host):
            return False
    return any(parse_pattern(text).matches_host(host) for text in network.allow_hosts)


class _Visitor(ast.NodeVisitor):
    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        self.imports: list[tuple[str, ast.AST]] = []
        self.calls: list[tuple[str, ast.Call]] = []
        self.hosts: list[tuple[str, ast.AST]] = []

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imports.append((alias.name, node))
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:  # `import a.b` binds `a`
                top = alias.name.split(".")[0]
                self.aliases[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level == 0:
            self.imports.append((module, node))
        for alias in node.names:
            self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}" if module else alias.name

    def _dotted(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self._dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def visit_Call(self, node: ast.Call) -> None:
        name = self._dotted(node.func)
        if name:
            self.calls.append((name, node))
            if _NETWORK_CALLS.search(name):
                for arg in node.args:
                    for const in _string_constants(arg):
                        if _HOSTNAME.match(const.value):
                            self.hosts.append((const.value, const))
        if name == "__import__" and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            self.imports.append((node.args[0].value, node))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            for match in _URL.finditer(node.value):
                host = urlsplit(match.group(0)).hostname
                if host:
                    self.hosts.append((host, node))


def _string_constants(node: ast.AST) -> list[ast.Constant]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node]
    if isinstance(node, ast.Tuple) and node.elts:
        return _string_constants(node.elts[0])
    return []


def _finding(rule: str, severity: Level, message: str, node: ast.AST, **extra: object) -> Finding:
    return Finding(
        source="policy",
        rule=rule,
        severity=severity,
        confidence=Level.HIGH,
        message=message,
        line=getattr(node, "lineno", 0),
        end_line=getattr(node, "end_lineno", 0) or getattr(node, "lineno", 0),
        col=getattr(node, "col_offset", 0),
        end_col=getattr(node, "end_col_offset", 0) or 0,
        details=details(**extra),
    )


def _denied(name: str, patterns: tuple[str, ...]) -> str | None:
    """The pattern that denies `name` (a module covers its submodules)."""
    for pattern in patterns:
        if name == pattern or name.startswith(pattern + ".") or fnmatch.fnmatchcase(name, pattern):
            return pattern
    return None


def check_code_rules(tree: ast.AST, code: CodePolicy, network: NetworkPolicy) -> list[Finding]:
    visitor = _Visitor()
    visitor.visit(tree)
    findings: list[Finding] = []
    for module, node in visitor.imports:
        pattern = _denied(module, code.deny_imports)
        if pattern:
            findings.append(_finding("import.denied", Level.MEDIUM, f"import of {module!r} is denied by the policy (code.deny_imports: {pattern!r})", node, module=module))
    for name, node in visitor.calls:
        pattern = _denied(name, code.deny_calls)
        if pattern:
            findings.append(_finding("call.denied", Level.MEDIUM, f"call to {name!r} is denied by the policy (code.deny_calls: {pattern!r})", node, call=name))
    reported: set[tuple[str, int]] = set()
    for host, node in visitor.hosts:
        key = (host.lower(), getattr(node, "lineno", 0))
        if key in reported or host_allowed(host, network):
            continue
        reported.add(key)
        findings.append(_finding("host.not-allowed", Level.LOW, f"host {host!r} is not in the policy's network.allow_hosts", node, host=host))
    return findings
