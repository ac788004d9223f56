"""One lock for every `ast.parse` the checks make.

CPython before 3.11.8/3.12.1 can fail `ast.parse` when threads parse at once and a collection
runs finalizers meanwhile ("AST constructor recursion depth mismatch", gh-106905). The checks
are GIL-bound anyway, so serialising the parses costs nothing.
"""

from __future__ import annotations

import ast
import threading

AST_LOCK = threading.Lock()


def parse(code: str) -> ast.Module:
    with AST_LOCK:
        return ast.parse(code)
