"""Counts in messages agree with their number: `1 line`, `2 lines`, `0 lines`."""

from __future__ import annotations

from sandgate.report.text_report import render_text
from sandgate.wording import plural


def test_plural_is_singular_for_one_only():
    assert [plural(n, "line") for n in (0, 1, 2)] == ["0 lines", "1 line", "2 lines"]
    assert plural(1, "process", "processes") == "1 process" and plural(3, "process", "processes") == "3 processes"


def test_the_text_report_counts_one_sandbox_event_in_the_singular():
    result = {
        "path": "m.py",
        "decision": "allow",
        "reasons": [],
        "findings": [],
        "sandbox": {"backend": "bwrap", "exit_code": 0, "duration_ms": 12.0, "events": [{"kind": "exit", "status": 0}]},
    }
    line = next(ln for ln in render_text([result], color=False).splitlines() if "sandbox:" in ln)
    assert line.strip() == "sandbox: bwrap, exit 0, 12 ms, 1 event", line
    result["sandbox"]["events"] *= 2
    assert "12 ms, 2 events" in render_text([result], color=False)


def test_the_model_guard_counts_one_redacted_secret_in_the_singular():
    from sandgate.provider.guard import GuardedText

    assert GuardedText("x", None, 1).status == "1 secret redacted before the request left"
    assert GuardedText("x", None, 3).status == "3 secrets redacted before the request left"
