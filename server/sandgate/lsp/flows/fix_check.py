"""Deciding whether an AI fix may be offered. Pure: two vet results in, a verdict and a sentence out.

The fix and the original lines are vetted the same way (the same document, the same range),
so the comparison is fair: the targeted finding must be gone, no finding the policy holds or blocks may appear that was
not there before, and the sandbox run must be no worse (no new time-out, kill, error or
failing exit, and no stricter decision).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sandgate.findings import Origin, Verdict

IGNORED_SOURCES = {"syntax"}


@dataclass(frozen=True)
class FixCheck:
    ok: bool
    message: str


def _keys(result: Any) -> Counter[str]:
    """The findings that matter for a fix: those the policy would hold or block (an allowed one, such
    as the low finding for reading a variable a secret moved to, is no reason to refuse a fix)."""
    return Counter(
        f.key
        for f in result.findings
        if f.source not in IGNORED_SOURCES and result.finding_decision(f) in ("review", "block")
    )


def _run_badness(run: Any, skipped: str | None) -> tuple[bool, bool, bool, bool]:
    """(did not run, timed out or killed, backend error, non-zero exit)."""
    if run is None:
        return (True, False, False, False)
    return (False, bool(run.timed_out or run.killed), bool(run.error), (run.exit_code or 0) != 0)


def compare_fix(before: Any, after: Any, target_key: str) -> FixCheck:
    """`before` vets the original lines, `after` the fix, both in place (VetResult-like objects)."""
    in_fix = [f for f in after.findings if f.origin is Origin.SUGGESTION]
    if any(f.rule == "syntax.error" for f in after.findings) and not any(
        f.rule == "syntax.error" for f in before.findings
    ):
        return FixCheck(False, "No fix offered: the proposed fix does not compile.")
    if any(f.key == target_key for f in in_fix):
        return FixCheck(False, f"No fix offered: {target_key} is still there after the proposed fix.")
    old, new = _keys(before), _keys(after)
    old[target_key] = max(0, old[target_key] - 1)
    added = sorted(k for k in new if new[k] > old[k])
    if added:
        return FixCheck(False, f"No fix offered: the proposed fix adds new findings ({', '.join(added)}).")
    if after.verdict > before.verdict or after.verdict is Verdict.BLOCK:
        return FixCheck(False, f"No fix offered: the policy would {after.verdict} the fixed code.")
    was = _run_badness(before.sandbox, getattr(before, "sandbox_skipped", None))
    now = _run_badness(after.sandbox, getattr(after, "sandbox_skipped", None))
    labels = ("no sandbox run", "a time-out or kill", "a sandbox error", "a failing exit")
    worse = [label for label, a, b in zip(labels, was, now, strict=True) if b and not a]
    if worse:
        return FixCheck(False, f"No fix offered: the sandbox run of the fix is worse ({', '.join(worse)}).")
    if after.sandbox is not None:
        run = f"sandbox run no worse (exit {after.sandbox.exit_code}, {after.sandbox.backend})"
    else:
        run = "no sandbox run before or after"
    return FixCheck(True, f"verified: {target_key} gone, no new findings, {run}")
