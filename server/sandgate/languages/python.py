"""The Python unit: CPython's own compiler decides what compiles, bandit and the code rules check,
the sandbox runs it.

Regions are found with CPython itself (its error locations point at the broken line) and a
line-level split into top-level statements; completing a cut suggestion scans it for open
brackets and an open string. Measured: vetting a region costs about one more compile of the
document (~7 ms for a 1,000-line file here; the statements' verdicts are cached between
requests), and the inline-overhead benchmark's row for a document that does not compile
(`bench/gateway.py`) stays within the same targets. No error-tolerant parser is needed for Python.
"""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache
from typing import Any

from sandgate.checks import capabilities
from sandgate.checks.names import scan
from sandgate.checks.parsing import parse
from sandgate.languages.unit import Language, longest_parsing_head

# A column-0 line that continues the statement before it rather than starting one.
_CONTINUES = re.compile(r"(else|elif|except|finally)\b|[)\]}]")
_DEFINES = re.compile(r"(?:async\s+)?(def|class)\s+([A-Za-z_][A-Za-z0-9_]*)")
_OPEN, _CLOSE = "([{", ")]}"


class PythonSyntax:
    def parse(self, code: str) -> Any:
        """The tree the static checks take; raises SyntaxError (or ValueError) when it does not parse."""
        return parse(code)

    def parses(self, code: str) -> bool:
        try:
            parse(code)
        except (SyntaxError, ValueError, UnicodeError):
            return False
        return True

    def compile_error(self, code: str) -> SyntaxError | None:
        """What keeps `code` from compiling as a module (None: it runs). CPython's compiler, not the
        AST: `return` outside a function parses but cannot run."""
        try:
            compile(code, "<region>", "exec", dont_inherit=True)
        except SyntaxError as exc:
            return exc
        except (ValueError, UnicodeError) as exc:  # a NUL byte, a lone surrogate
            return SyntaxError(str(exc))
        return None

    def chunk_compiles(self, code: str) -> bool:
        return _compiles_cached(code)

    def statement_starts(self, lines: list[str]) -> list[int]:
        """The lines that start a top-level statement: at column 0, not a comment or a blank, not a
        continuation (`else:`, a closing bracket), not the `def` under a decorator, not inside a
        triple-quoted string (a docstring's unindented lines)."""
        starts, previous, inside = [0], "", None
        for index, line in enumerate(lines):
            if (
                index
                and inside is None
                and line
                and line[0] not in " \t#\r\n\f"
                and not _CONTINUES.match(line)
                and not previous.startswith("@")
            ):
                starts.append(index)
            inside = _string_state(line, inside)
            if line.strip():
                previous = line
        return starts

    def complete(self, text: str) -> str | None:
        """`text` with its open string and brackets closed, or None when nothing is open."""
        closers = _closers(text)
        return text + closers if closers else None

    def truncate(self, text: str, indent: str) -> str | None:
        """The longest run of `text`'s first lines that parses on its own (its cut last statement
        dropped), or None."""
        return longest_parsing_head(self, text, indent)

    def dedent(self, text: str) -> str:
        return textwrap.dedent(text)

    def describe(self, line: str) -> str | None:
        match = _DEFINES.match(line)
        if not match:
            return None
        return f"`{match.group(2)}()`" if match.group(1) == "def" else f"`class {match.group(2)}`"


_TRIPLE = re.compile(r'"""|\'\'\'|#')


def _string_state(line: str, inside: str | None) -> str | None:
    """The triple-quoted string open after `line` (None: none), given the one open before it. Rough
    on purpose (one-line strings holding quotes can fool it): it only keeps docstrings whole."""
    for match in _TRIPLE.finditer(line):
        token = match.group()
        if inside is None and token == "#":
            break  # a comment: the rest of the line
        if inside is None and token != "#":
            inside = token
        elif token == inside:
            inside = None
    return inside


@lru_cache(maxsize=1024)
def _compiles_cached(code: str) -> bool:
    """Top-level statements rarely change between two requests: their verdict is kept."""
    return PythonSyntax().compile_error(code) is None


def _closers(text: str) -> str:
    """The quote and brackets that close what `text` leaves open (a cut-off call or string)."""
    stack: list[str] = []
    quote: str | None = None
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if quote is not None:
            if char == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            if char == "\n" and len(quote) == 1:
                return ""  # an unterminated one-line string that the line ends: not a cut
            i += 1
            continue
        if char == "#":
            newline = text.find("\n", i)
            if newline < 0:
                break
            i = newline
            continue
        if char in "'\"":
            quote = text[i : i + 3] if text.startswith(char * 3, i) else char
            i += len(quote)
            continue
        if char in _OPEN:
            stack.append(_CLOSE[_OPEN.index(char)])
        elif char in _CLOSE:
            if not stack or stack[-1] != char:
                return ""
            stack.pop()
        i += 1
    return (quote or "") + "".join(reversed(stack))


def _static_checks(vetter: Any, code: str, tree: Any) -> tuple[list, list]:
    return vetter.static_findings(code, tree)


def _capabilities(vetter: Any, tree: Any) -> list:
    return capabilities.capabilities(vetter.scanned(tree, scan), tree)


PYTHON = Language(
    name="python",
    language_ids=frozenset({"python"}),
    extensions=(".py", ".pyw", ".pyi"),
    syntax=PythonSyntax(),
    static_checks=_static_checks,
    capabilities=_capabilities,
    document_capabilities=capabilities.document_capabilities,
    runtime="python",
)
