"""What the sandbox calls after the module body: the functions and methods a suggestion adds or changes.

Inline suggestions are mostly function bodies that nothing calls when the module is imported; run
as is, the module defines them and does nothing. The bootstrap (header "exercise") calls each
target with stand-in arguments, in the sandboxed process itself, so the supervisor records what
the calls do as it records the rest of the run. Pure: the targets come from the program's syntax
tree and the suggestion's lines.
"""

from __future__ import annotations

import ast

# Beyond this many, the rest are not called (each gets a share of the run's time).
MAX_TARGETS = 12


def _span(node: ast.AST) -> tuple[int, int]:
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno] + [d.lineno for d in decorators])  # type: ignore[attr-defined]
    return first, getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]


def _touches(node: ast.AST, first: int, last: int) -> bool:
    start, end = _span(node)
    return start <= last and end >= first


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements at module level, also those under `if`, `try` and `with` (an import guard)."""
    out: list[ast.stmt] = []
    for node in body:
        out.append(node)
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            out += _top_level(node.body)
            out += _top_level(getattr(node, "orelse", []))
            for handler in getattr(node, "handlers", []):
                out += _top_level(handler.body)
            out += _top_level(getattr(node, "finalbody", []))
    return out


def targets(tree: ast.Module, first: int, last: int) -> tuple[tuple[str, int], ...]:
    """("func" or "Class.method", line) of each module-level function and method of a module-level
    class whose lines touch [first, last]; a class touched outside its methods: its __init__."""
    found: list[tuple[str, int]] = []
    for node in _top_level(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _touches(node, first, last):
            found.append((node.name, node.lineno))
        elif isinstance(node, ast.ClassDef) and _touches(node, first, last):
            methods = [
                n
                for n in node.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and _touches(n, first, last)
            ]
            for method in methods:
                found.append((f"{node.name}.{method.name}", method.lineno))
            if not methods:
                found.append((f"{node.name}.__init__", node.lineno))
    return tuple(dict.fromkeys(found))[:MAX_TARGETS]
