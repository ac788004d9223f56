"""Moving a secret written in the code to an environment variable: the string literal that holds it
becomes `os.environ["NAME"]`, NAME taken from what it is assigned to (`aws_key = "AKIA…"` →
`AWS_KEY`), and `import os` is added when the file does not import it. Pure: text in, edits out.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

_ASSIGNED = re.compile(r"^\s*(?:self\.)?([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=]*)?=(?!=)")
_KEYWORD = re.compile(r"[(,]\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*$")
_KEY_IN_DICT = re.compile(r"""["']([A-Za-z_][A-Za-z0-9_\-]*)["']\s*:\s*$""")
_IMPORTS_OS = re.compile(r"^\s*import\s+(?:[\w.]+\s*,\s*)*os\b(?!\.)(?!\s+as)", re.MULTILINE)
_FUTURE = re.compile(r"^from\s+__future__\s+import\b.*$", re.MULTILINE)
_STRING_PREFIX = re.compile(r"^[rRuU]?['\"]")


@dataclass(frozen=True)
class EnvMove:
    name: str  # the environment variable
    start: int  # the literal's columns on its line (code points)
    end: int
    replacement: str  # `os.environ["NAME"]`
    import_line: int | None  # 0-based line to insert `import os\n` before, or None when it is imported


def env_name(line: str, before: str) -> str:
    """NAME for the variable: the assigned name, the keyword argument, or the dict key, upper-cased."""
    for pattern, text in ((_KEYWORD, before), (_KEY_IN_DICT, before), (_ASSIGNED, line)):
        found = pattern.search(text)
        if found:
            return re.sub(r"[^A-Z0-9_]", "_", found.group(1).upper())
    return "SECRET"


def _literal_at(line: str, col: int, end_col: int) -> tuple[int, int] | None:
    """The columns of the one plain string literal on `line` that holds [col, end_col)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line + "\n").readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    for tok in tokens:
        if tok.type != tokenize.STRING or tok.start[0] != 1 or tok.end[0] != 1:
            continue
        start, end = tok.start[1], tok.end[1]
        # Bytes and f-strings are left alone: os.environ gives neither.
        if start <= col and end_col <= end and _STRING_PREFIX.match(tok.string):
            return start, end
    return None


def import_line(text: str) -> int | None:
    """Where `import os` goes (after `from __future__` imports, a shebang or the encoding line), or
    None when the file already imports `os` as `os`."""
    if _IMPORTS_OS.search(text):
        return None
    lines = text.split("\n")
    at = 0
    for match in _FUTURE.finditer(text):
        at = text.count("\n", 0, match.end()) + 1
    if at == 0:
        while (
            at < len(lines)
            and at < 2
            and lines[at].startswith("#")
            and ("coding" in lines[at] or lines[at].startswith("#!"))
        ):
            at += 1
    return at


def env_move(text: str, line: int, col: int, end_col: int) -> EnvMove | None:
    """The move for a secret at 0-based `line`, columns [col, end_col) of `text`; None when the secret
    is not a whole plain string literal on one line (a part of an f-string, a bytes value, a comment)."""
    lines = text.split("\n")
    if not 0 <= line < len(lines):
        return None
    source = lines[line]
    found = _literal_at(source, col, max(end_col, col + 1))
    if found is None:
        return None
    start, end = found
    name = env_name(source, source[:start])
    return EnvMove(name, start, end, f'os.environ["{name}"]', import_line(text))
