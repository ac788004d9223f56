"""The issue-14 corpus (exercise_corpus.py) vetted end to end on both backends under balanced: every
decision asserted, and the figures docs/detection.md quotes (recall on the malicious cases, the
share of benign ones allowed)."""

from __future__ import annotations

import pytest

from sandgate.findings import Verdict
from sandgate.suggestion import Suggestion
from tests.sandbox.conftest import warm_vetter
from tests.sandbox.exercise_corpus import BENIGN, CASES, DOCUMENTS, MALICIOUS


@pytest.fixture(scope="module", params=["docker", "bwrap"])
def vetter(request):
    return warm_vetter(request.param)


def test_corpus_size():
    assert len(MALICIOUS) >= 40 and len(BENIGN) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


def test_corpus_decisions(vetter):
    wrong, stopped, allowed = [], 0, 0
    for case in CASES:
        document = DOCUMENTS[case.document]
        result = vetter.vet(
            Suggestion(case.text, document=document, line=document.count("\n"), path=f"{case.document}.py")
        )
        if result.verdict is not case.expected:
            wrong.append((case.name, str(result.verdict), sorted({f.rule for f in result.findings})))
        stopped += case.malicious and result.verdict is not Verdict.ALLOW
        allowed += not case.malicious and result.verdict is Verdict.ALLOW
    assert not wrong, wrong
    # The figures in docs/detection.md.
    assert (stopped, len(MALICIOUS)) == (52, 52)
    assert (allowed, len(BENIGN)) == (45, 47)


def test_summary_leads_with_what_the_suggestion_adds(vetter):
    case = MALICIOUS[0]
    document = DOCUMENTS[case.document]
    result = vetter.vet(Suggestion(case.text, document=document, line=document.count("\n"), path="svc.py"))
    assert result.summary is not None
    assert result.summary.startswith(
        "adds: network → metrics-collector.example.net (POST, sends ~/.aws/credentials)"
    ), result.summary
    assert result.to_json()["summary"] == result.summary
