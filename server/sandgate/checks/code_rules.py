"""The policy's own code rules: denied imports, denied calls, and hosts named in string literals.

Calls are resolved through the file's imports, assignments and literal lookups (`import os as o;
o.system(...)`, `getattr(os, "system")(...)` are `os.system`; see `checks.names`), so an alias
does not slip past a rule.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from urllib.parse import urlsplit

from sandgate.checks.names import Scan
from sandgate.findings import Finding, Level, details
from sandgate.policy.hosts import host_allowed
from sandgate.policy.model import CodePolicy, NetworkPolicy

_URL = re.compile(r"\b(?:https?|wss?|ftp)://[^\s'\"<>]+", re.IGNORECASE)
_HOSTNAME = re.compile(
    r"^(?=.{4,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$|^\d{1,3}(?:\.\d{1,3}){3}$"
)
# Calls whose string arguments are host names, not file names or keys.
_NETWORK_CALLS = re.compile(
    r"(?:^|\.)(?:connect|create_connection|getaddrinfo|gethostbyname\w*|HTTPS?Connection|urlopen|Request|request|get|post|put|delete|head|patch|FTP\w*|SMTP\w*|Telnet)$"
)


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


def denied(name: str, patterns: tuple[str, ...]) -> str | None:
    """The pattern that denies `name` (a module covers its submodules)."""
    for pattern in patterns:
        if name == pattern or name.startswith(pattern + ".") or fnmatch.fnmatchcase(name, pattern):
            return pattern
    return None


def _hosts(scan: Scan) -> list[tuple[str, ast.AST]]:
    """Host names the code names: URLs in any string, bare host names given to network calls."""
    hosts: list[tuple[str, ast.AST]] = []
    for ref, call in scan.calls:
        if ref is not None and _NETWORK_CALLS.search(ref.name):
            for arg in call.args:
                for const in _string_constants(arg):
                    if isinstance(const.value, str) and _HOSTNAME.match(const.value):
                        hosts.append((const.value, const))
    for const in scan.strings:
        for match in _URL.finditer(str(const.value)):
            host = urlsplit(match.group(0)).hostname
            if host:
                hosts.append((host, const))
    hosts.sort(key=lambda h: (h[1].lineno, h[1].col_offset))  # type: ignore[attr-defined]
    return hosts


def check_code_rules(scan: Scan, code: CodePolicy, network: NetworkPolicy) -> list[Finding]:
    """Denied imports and calls, and hosts the network policy does not allow, in one scanned module."""
    findings: list[Finding] = []
    for module, node in scan.imports:
        pattern = denied(module, code.deny_imports)
        if pattern:
            findings.append(
                _finding(
                    "import.denied",
                    Level.MEDIUM,
                    f"import of {module!r} is denied by the policy (code.deny_imports: {pattern!r})",
                    node,
                    module=module,
                )
            )
    for ref, node in scan.calls:
        if ref is None:
            continue
        name = ref.name
        pattern = denied(name, code.deny_calls)
        if pattern:
            findings.append(
                _finding(
                    "call.denied",
                    Level.MEDIUM,
                    f"call to {name!r} is denied by the policy (code.deny_calls: {pattern!r})",
                    node,
                    call=name,
                )
            )
    reported: set[tuple[str, int]] = set()
    for host, node in _hosts(scan):
        key = (host.lower(), getattr(node, "lineno", 0))
        if key in reported or host_allowed(host, network):
            continue
        reported.add(key)
        findings.append(
            _finding(
                "host.not-allowed",
                Level.LOW,
                f"host {host!r} is not in the policy's network.allow_hosts",
                node,
                host=host,
            )
        )
    return findings
