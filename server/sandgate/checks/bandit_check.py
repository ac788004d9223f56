"""bandit, in-process: one manager per thread, reused for every suggestion.

Spawning the bandit CLI costs about 200 ms a run; its manager costs about 4 ms for a
typical suggestion once bandit is imported. The manager keeps per-run state, so each thread
gets its own and the state is reset before every run. This drives bandit's file parser on an
in-memory buffer (a private method, pinned with bandit==1.9.4 and covered by tests) so that
`# nosec` handling stays bandit's own; code with no "nosec" in it is walked from the caller's
parsed tree instead (bandit would tokenize and parse it again).
"""

from __future__ import annotations

import ast
import io
import logging
import re
import threading

from bandit.core import config as b_config
from bandit.core import docs_utils
from bandit.core import manager as b_manager
from bandit.core import metrics as b_metrics
from bandit.core import node_visitor as b_node_visitor

from sandgate.checks.parsing import AST_LOCK
from sandgate.checks.secrets import redact
from sandgate.findings import Finding, Level

_LOG = logging.getLogger(__name__)
_FILENAME = "suggestion.py"
# bandit warns on every in-memory file that it cannot name a module; that is expected here.
logging.getLogger("bandit").setLevel(logging.ERROR)


class BanditError(RuntimeError):
    """bandit could not check the code (not a syntax error: that is reported apart)."""


class BanditChecker:
    def __init__(self) -> None:
        self._local = threading.local()

    def _manager(self) -> b_manager.BanditManager:
        manager = getattr(self._local, "manager", None)
        if manager is None:
            manager = b_manager.BanditManager(b_config.BanditConfig(), "file", quiet=True)
            self._local.manager = manager
        return manager

    def check(self, code: str, tree: ast.Module | None = None) -> list[Finding]:
        """bandit's findings on `code`. Raises `SyntaxError` or `BanditError`.

        `tree`: `ast.parse(code)`, when the caller has it (bandit would parse again). bandit
        marks its nodes, so hand over a tree nothing else reads afterwards."""
        manager = self._manager()
        manager.results, manager.skipped, manager.scores = [], [], []
        manager.metrics = b_metrics.Metrics()
        data = code.encode("utf-8")
        if tree is not None and "nosec" not in code:
            # With no "nosec" in the code, bandit's file pass would tokenize it for `# nosec`
            # comments (finding none) and parse it again: walk the caller's tree instead.
            try:
                visitor = b_node_visitor.BanditNodeVisitor(
                    _FILENAME, io.BytesIO(data), manager.b_ma, manager.b_ts, manager.debug, {}, manager.metrics
                )
                visitor.generic_visit(tree)
                # What `BanditNodeVisitor.process` runs after the walk: the whole-file tests.
                visitor.context = {
                    "file_data": visitor.fdata,
                    "filename": _FILENAME,
                    "lineno": 0,
                    "linerange": [0, 1],
                    "col_offset": 0,
                }
                visitor.update_scores(visitor.tester.run_tests(visitor.context, "File"))
            except Exception as exc:  # bandit's own file pass reports these as a skipped file
                raise BanditError(f"exception while scanning file: {type(exc).__name__}: {exc}") from exc
            return [_finding(issue) for issue in visitor.tester.results]
        files = [_FILENAME]
        manager.files_list = files
        with AST_LOCK:  # bandit's own pass parses the code
            manager._parse_file(_FILENAME, io.BytesIO(data), files)
        if manager.skipped:
            reason = manager.skipped[0][1]
            if "syntax error" in reason:
                raise SyntaxError(reason)
            raise BanditError(reason)
        return [_finding(issue) for issue in manager.results]


# bandit's hard-coded password tests quote the password in their message.
_QUOTED_SECRET = re.compile(r"'([^']*)'")
_SECRET_TESTS = {"B105", "B106", "B107"}


def _message(issue) -> str:
    text = issue.text
    if issue.test_id in _SECRET_TESTS:
        text = _QUOTED_SECRET.sub(lambda m: repr(redact(m.group(1))), text)
    return f"{text} ({issue.test})"


def _finding(issue) -> Finding:  # bandit.core.issue.Issue
    lines = issue.linerange or [issue.lineno]
    cwe = issue.cwe.id if issue.cwe and issue.cwe.id else None
    return Finding(
        source="bandit",
        rule=issue.test_id,
        severity=Level.parse(issue.severity),
        confidence=Level.parse(issue.confidence),
        message=_message(issue),
        line=issue.lineno,
        end_line=max(lines),
        col=issue.col_offset or 0,
        end_col=issue.end_col_offset or 0,
        cwe=cwe,
        more_info=docs_utils.get_url(issue.test_id),
    )
