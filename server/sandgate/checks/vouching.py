"""Comments by which the user vouches for a line of their own code: honoured there, never in a suggestion.

Two checks have such a comment: bandit's `# nosec` (`# nosec`, `# nosec B602`, `# nosec: B602, md5`:
bandit's own reading) and detect-secrets' `# pragma: allowlist secret`. The checks report every
finding whatever the comments say; `without_vouched` then drops the findings in the user's own code
(origin document: no line of the finding is one the suggestion adds or changes, `Placed.in_suggestion`)
that a comment on their lines vouches for. A finding on a line the suggestion touches keeps its
decision whatever comment that line carries: the model would only have to write it (`x()  # nosec`,
or `  # nosec` appended to the end of the user's line).

No other comment turns a check off: Sandgate's rules, the security packs (Python, JavaScript and
TypeScript) and the capability analysis read none (`# noqa`, `// eslint-disable…`, `// nosec` included).
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable

from bandit.core.manager import _parse_nosec_comment

from sandgate.findings import Finding, Origin
from sandgate.lines import split_lines

# As detect-secrets' own filter reads it (detect_secrets.filters.allowlist), in any comment style.
_ALLOWLIST = re.compile(r"pragma:\s*allowlist[ -]secret", re.IGNORECASE)


def without_vouched(findings: Iterable[Finding], code: str) -> list[Finding]:
    """`findings` less those in the user's own code (origin document) whose lines vouch for them:
    a secret on a line with `# pragma: allowlist secret`, a bandit finding that a `# nosec`
    comment skips as bandit reads it."""
    findings = list(findings)
    secrets = [f for f in findings if f.source == "secrets" and f.origin is Origin.DOCUMENT]
    bandit = [f for f in findings if f.source == "bandit" and f.origin is Origin.DOCUMENT]
    if not (secrets and _ALLOWLIST.search(code)) and not (bandit and "nosec" in code):
        return findings  # the usual case, at the cost of two scans of the list
    lines = split_lines(code)  # as the checks and `Placed` number them
    dropped: set[int] = set()
    for f in secrets:
        if 1 <= f.line <= len(lines) and _ALLOWLIST.search(lines[f.line - 1]) is not None:
            dropped.add(id(f))
    if bandit and "nosec" in code:
        nosec = _nosec_comments(code, lines, bandit)
        dropped.update(id(f) for f in bandit if _skipped_by_nosec(f, nosec))
    return [f for f in findings if id(f) not in dropped]


def _nosec_comments(code: str, lines: list[str], findings: list[Finding]) -> dict[int, set[str]]:
    """line → the bandit tests its `# nosec` comment names (empty: all), for the lines of `findings`
    that carry one. A comment, not text in a string: the code is tokenized as bandit does."""
    wanted = {n for f in findings for n in _lines_of(f) if 1 <= n <= len(lines) and "nosec" in lines[n - 1]}
    found: dict[int, set[str]] = {}
    if not wanted:
        return found
    last = max(wanted)
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.start[0] > last:
                break  # tokenizing is most of the cost: no further than the last line wanted
            if token.type == tokenize.COMMENT and token.start[0] in wanted:
                tests = _parse_nosec_comment(token.string)
                if tests is not None:
                    found[token.start[0]] = tests
    except (tokenize.TokenError, SyntaxError):
        pass  # as bandit: the comments read so far count
    return found


def _lines_of(f: Finding) -> range:
    return range(f.line, max(f.end_line, f.line) + 1)


def _skipped_by_nosec(f: Finding, nosec: dict[int, set[str]]) -> bool:
    """bandit's rule (`BanditTester._get_nosecs_from_contexts`): the tests named on the finding's
    line and on the first line of its range that has a `# nosec`; none named means every test."""
    own = nosec.get(f.line)
    first = next((nosec[n] for n in _lines_of(f) if n in nosec), None)
    if own is None and first is None:
        return False
    tests = (own or set()) | (first or set())
    return not tests or f.rule in tests
