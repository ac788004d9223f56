"""JavaScript and TypeScript parsed in-process with tree-sitter (one parser per thread and grammar).

tree-sitter never fails: it returns a tree with ERROR and MISSING nodes where the code is broken,
so "compiles" here means "no such node" (`first_error`). TypeScript documents are parsed with the
TypeScript grammar, then the TSX one when that fails (a `.tsx` file's JSX), since the unit only
knows the text; a type assertion `<T>x` parses only in the first, JSX only in the second.

Columns: tree-sitter counts bytes of UTF-8; findings count characters (`Positions`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

import tree_sitter
import tree_sitter_javascript
import tree_sitter_typescript

Node = Any  # tree_sitter.Node

GRAMMARS = ("javascript", "typescript", "tsx")


@cache
def language(grammar: str) -> tree_sitter.Language:
    if grammar == "javascript":
        return tree_sitter.Language(tree_sitter_javascript.language())
    if grammar == "typescript":
        return tree_sitter.Language(tree_sitter_typescript.language_typescript())
    if grammar == "tsx":
        return tree_sitter.Language(tree_sitter_typescript.language_tsx())
    raise ValueError(f"no grammar {grammar!r}")


_LOCAL = threading.local()


def _parser(grammar: str) -> tree_sitter.Parser:
    parsers = getattr(_LOCAL, "parsers", None)
    if parsers is None:
        parsers = _LOCAL.parsers = {}
    parser = parsers.get(grammar)
    if parser is None:
        parser = parsers[grammar] = tree_sitter.Parser(language(grammar))
    return parser


@dataclass(frozen=True)
class JsTree:
    """A parsed document: the tree, its source as bytes and text, and the grammar that parsed it."""

    tree: Any
    source: bytes
    text: str
    grammar: str

    @property
    def root(self) -> Node:
        return self.tree.root_node

    @property
    def broken(self) -> bool:
        return self.root.has_error


def parse_js(code: str, grammars: tuple[str, ...]) -> JsTree:
    """The first grammar's tree that has no error; else the first grammar's (broken) tree."""
    source = code.encode("utf-8", "surrogatepass")
    first: JsTree | None = None
    for grammar in grammars:
        parsed = JsTree(_parser(grammar).parse(source), source, code, grammar)
        if not parsed.broken:
            return parsed
        first = first or parsed
    assert first is not None
    return first


def first_error(tree: JsTree) -> Node | None:
    """The first ERROR or MISSING node in source order (None: the code parses cleanly)."""
    node = tree.root
    if not node.has_error:
        return None
    while True:
        if node.is_missing:
            return node
        if node.is_error:
            # tree-sitter's recovery may wrap whole statements that parsed (an unclosed brace far
            # below makes one ERROR from line 1): the error starts at its first part that is not one.
            for child in node.children:
                if child.has_error or child.is_error or child.is_missing:
                    return first_error_in(child)
                if not (child.is_named and (child.type.endswith(_WHOLE) or child.type == "comment")):
                    return child
            return node
        following = next((c for c in node.children if c.has_error or c.is_missing or c.is_error), None)
        if following is None:
            return node
        node = following


_WHOLE = ("statement", "declaration")


def first_error_in(node: Node) -> Node:
    """The first ERROR or MISSING part of `node`, a node with an error."""
    if node.is_missing or (node.is_error and not node.children):
        return node
    for child in node.children:
        if child.has_error or child.is_error or child.is_missing:
            return first_error_in(child)
    return node


def syntax_error(tree: JsTree) -> SyntaxError | None:
    """What keeps `tree` from parsing, as Python's SyntaxError (the region ladder reads `lineno`)."""
    node = first_error(tree)
    if node is None:
        return None
    line = node.start_point[0] + 1
    if node.is_missing:
        message = f"missing {node.type!r}"
    else:
        snippet = tree.source[node.start_byte : min(node.end_byte, node.start_byte + 20)].decode("utf-8", "replace")
        message = f"unexpected {snippet.splitlines()[0]!r}" if snippet.strip() else "unexpected end of input"
    error = SyntaxError(message)
    error.lineno, error.end_lineno = line, node.end_point[0] + 1
    error.offset = node.start_point[1] + 1
    return error


class Positions:
    """1-based lines and character columns of nodes (tree-sitter's columns are UTF-8 bytes)."""

    def __init__(self, tree: JsTree) -> None:
        self.ascii = tree.text.isascii()
        self.lines = tree.source.split(b"\n") if not self.ascii else []

    def _col(self, row: int, byte_col: int) -> int:
        if self.ascii or row >= len(self.lines):
            return byte_col
        return len(self.lines[row][:byte_col].decode("utf-8", "replace"))

    def span(self, node: Node) -> tuple[int, int, int, int]:
        (r0, c0), (r1, c1) = node.start_point, node.end_point
        return r0 + 1, r1 + 1, self._col(r0, c0), self._col(r1, c1)


def text(node: Node) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""
