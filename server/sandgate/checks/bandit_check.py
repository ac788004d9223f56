"""bandit, in-process: one manager per thread, reused for every suggestion.

Spawning the bandit CLI costs about 200 ms a run; its manager costs about 4 ms for a
typical suggestion once bandit is imported. The manager keeps per-run state, so each thread
gets its own and the state is reset before every run. The code is walked from the caller's parsed
tree (bandit would tokenize and parse it again); without a tree, bandit's file parser runs on an
in-memory buffer (a private method, pinned with bandit==1.9.4 and covered by tests).

`# nosec` is not honoured here: every finding is reported. Which `# nosec` counts is decided where
it is known whose line carries it (`checks.vouching`): the user's own lines, never a line the
suggestion adds or changes (the model would only have to write the comment).
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
from bandit.core import tester as b_tester
from bandit.core import utils as b_utils
from bandit.core.context import Context as _BanditContext
from bandit.plugins.trojansource import BIDI_CHARACTERS

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
            manager = b_manager.BanditManager(b_config.BanditConfig(), "file", quiet=True, ignore_nosec=True)
            self._local.manager = manager
        return manager

    def check(self, code: str, tree: ast.Module | None = None) -> list[Finding]:
        """bandit's findings on `code`, `# nosec` or not (`checks.vouching` decides which count).
        Raises `SyntaxError` or `BanditError`.

        `tree`: `ast.parse(code)`, when the caller has it (bandit would parse again). bandit
        marks its nodes, so hand over a tree nothing else reads afterwards."""
        manager = self._manager()
        manager.results, manager.skipped, manager.scores = [], [], []
        manager.metrics = b_metrics.Metrics()
        data = code.encode("utf-8")
        if tree is not None:
            # bandit's file pass would tokenize the code for `# nosec` comments (ignored here) and
            # parse it again: walk the caller's tree instead.
            try:
                visitor = _QuickVisitor(
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
                if "coding" not in code and not any(ch in code for ch in _BIDI):
                    # B613 (trojansource) looks for these characters in the text decoded as its
                    # coding cookie says; UTF-8 without a cookie and none of them: it finds nothing.
                    visitor.tester.skip = frozenset(("trojansource",))
                visitor.update_scores(visitor.tester.run_tests(visitor.context, "File"))
            except Exception as exc:  # bandit's own file pass reports these as a skipped file
                raise BanditError(f"exception while scanning file: {type(exc).__name__}: {exc}") from exc
            return [_finding(issue) for issue in visitor.tester.results]
        files = [_FILENAME]
        manager.files_list = files
        with AST_LOCK:  # bandit's own pass parses the code (and, ignore_nosec, reads no comment)
            manager._parse_file(_FILENAME, io.BytesIO(data), files)
        if manager.skipped:
            reason = manager.skipped[0][1]
            if "syntax error" in reason:
                raise SyntaxError(reason)
            raise BanditError(reason)
        return [_finding(issue) for issue in manager.results]


_BIDI = tuple(BIDI_CHARACTERS)


class _QuickTester(b_tester.BanditTester):
    """`BanditTester.run_tests` with `# nosec` ignored (no nosec lines: every result stands), less
    what this module never reads: the scores and the debug logging. Same tests, same order, same
    results (`tests/core/test_bandit_quick.py` compares it with bandit's own file pass)."""

    # Tests known to find nothing in this code (`BanditChecker.check` decides): not run.
    skip: frozenset[str] = frozenset()

    def run_tests(self, raw_context, checktype):
        for test in self.testset.get_tests(checktype):
            if test.__name__ in self.skip:
                continue
            temp_context = raw_context.copy()  # what copy.copy does to a dict
            context = _BanditContext(temp_context)
            try:
                if hasattr(test, "_config"):
                    result = test(context, test._config)
                else:
                    result = test(context)
                if result is not None:
                    filename = temp_context["filename"]
                    result.fname = filename.decode("utf-8") if isinstance(filename, bytes) else filename
                    result.fdata = temp_context["file_data"]
                    if result.lineno is None:
                        result.lineno = temp_context["lineno"]
                    if result.linerange == []:
                        result.linerange = temp_context["linerange"]
                    if result.col_offset == -1:
                        result.col_offset = temp_context["col_offset"]
                    result.end_col_offset = temp_context.get("end_col_offset", 0)
                    result.test = test.__name__
                    if result.test_id == "":
                        result.test_id = test._test_id
                    self.results.append(result)
            except Exception as e:
                self.report_error(test.__name__, context, e)
        return None


class _QuickVisitor(b_node_visitor.BanditNodeVisitor):
    """bandit's node visitor, made cheaper where its walk spends time on nothing (issue 15's budget):
    a node whose type no test targets and no `visit_*` method handles runs no tests (bandit calls its
    tester for an empty list of tests), field-less singletons (`Load`, `Add`, `Eq`…) with no tests
    are not entered at all, and the debug logging and score keeping (unread here) are left out. The
    context each test sees is built as bandit builds it, in the same order of nodes."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.tester = _QuickTester(self.testset, self.debug, self.nosec_lines, self.metrics)
        self._tests = self.testset.tests
        self._handled = {name[6:] for name in dir(self) if name.startswith("visit_")}

    def update_scores(self, scores) -> None:
        pass

    def generic_visit(self, node: ast.AST) -> None:
        # One frame per level of the tree, as bandit's own walk: code nested as deep as bandit can
        # walk, this walks too (the per-node work is inline for that reason).
        tests, handled = self._tests, self._handled
        for field in node._fields:
            try:
                value = getattr(node, field)
            except AttributeError:
                continue
            if isinstance(value, list):
                items, listed = value, True
            elif isinstance(value, ast.AST):
                items, listed = [value], False
            else:
                continue
            last = len(items) - 1
            for idx, item in enumerate(items):
                if not isinstance(item, ast.AST):
                    continue
                name = type(item).__name__
                if not item._fields and name not in tests and name not in handled:
                    continue
                item._bandit_sibling = items[idx + 1] if listed and idx < last else None  # type: ignore[attr-defined]
                item._bandit_parent = node  # type: ignore[attr-defined]
                # The context bandit's `pre_visit` builds, key for key.
                context = {"imports": self.imports, "import_aliases": self.import_aliases}
                if hasattr(item, "lineno"):
                    context["lineno"] = item.lineno
                if hasattr(item, "col_offset"):
                    context["col_offset"] = item.col_offset
                if hasattr(item, "end_col_offset"):
                    context["end_col_offset"] = item.end_col_offset
                context["node"] = item
                context["linerange"] = (
                    list(range(item.lineno, item.end_lineno + 1))  # type: ignore[attr-defined]
                    if hasattr(item, "lineno")  # what b_utils.linerange returns for these
                    else b_utils.linerange(item)
                )
                context["filename"] = self.fname
                context["file_data"] = self.fdata
                self.context = context
                if name in handled:
                    getattr(self, "visit_" + name)(item)
                elif name in tests:
                    self.tester.run_tests(context, name)
                self.generic_visit(item)
                if isinstance(item, (ast.FunctionDef, ast.ClassDef)):
                    self.namespace = b_utils.namespace_path_split(self.namespace)[0]  # type: ignore[has-type]


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
