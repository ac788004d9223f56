"""bandit, in-process: one manager per thread, reused for every suggestion.

Spawning the bandit CLI costs about 200 ms a run; its manager costs about 4 ms for a
typical suggestion once bandit is imported. The manager keeps per-run state, so each thread
gets its own and the state is reset before every run. This drives bandit's file parser on an
in-memory buffer (a private method, pinned with bandit==1.9.4 and covered by tests) so that
`# nosec` handling stays bandit's own.
"""

from __future__ import annotations

import io
import logging
import re
import threading

from bandit.core import config as b_config
from bandit.core import docs_utils
from bandit.core import manager as b_manager
from bandit.core import metrics as b_metrics

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

    def check(self, code: str) -> list[Finding]:
        """bandit's findings on `code`. Raises `SyntaxError` or `BanditError`."""
        manager = self._manager()
        manager.results, manager.skipped, manager.scores = [], [], []
        manager.metrics = b_metrics.Metrics()
        # bandit tokenizes the whole file to find `# nosec` comments (~15% of its time); with no
        # "nosec" in the code every comment would map to "none", so skip the scan. Same results.
        manager.ignore_nosec = "nosec" not in code
        files = [_FILENAME]
        manager.files_list = files
        manager._parse_file(_FILENAME, io.BytesIO(code.encode("utf-8")), files)
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
