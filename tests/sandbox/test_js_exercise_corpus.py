"""The issue-19 corpus (js_exercise_corpus.py) vetted end to end on both backends under balanced: every
decision asserted, and the figures docs/detection.md quotes (malicious stopped, benign allowed), with
the rules that decided them tallied."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from sandgate.findings import Origin, Verdict
from sandgate.pipeline import Vetter
from sandgate.policy.load import load_effective
from sandgate.sandbox import js_exercise
from sandgate.suggestion import Suggestion
from tests.sandbox.conftest import warm_vetter
from tests.sandbox.js_exercise_corpus import BENIGN, CASES, MALICIOUS, RUN_ONLY, WITHOUT_EXERCISE, Case


@pytest.fixture(scope="module", params=["docker", "bwrap"])
def vetter(request):
    return warm_vetter(request.param)


@pytest.fixture(scope="module")
def run_vetter(vetter):
    """Balanced without the capability analysis's rules, on the same backend: the sandbox run decides
    what the static capability analysis would otherwise block first (the run's own findings, and what
    micro-execution adds, are measured on it)."""
    loaded = load_effective(None, preset="balanced")
    rules = tuple(r for r in loaded.policy.rules if r.source != "capability")
    policy = dataclasses.replace(loaded.policy, rules=rules)
    return warm_vetter(vetter.backend_name, dataclasses.replace(loaded, policy=policy))


def vet(vetter: Vetter, case: Case):
    document, text, line = case.placed()
    return vetter.vet(Suggestion(text, document=document, line=line, path=case.document))


def vet_as_decided(vetter: Vetter, case: Case, expected: Verdict):
    """`vet`, once more when the run ran out of its 3 s and so decided otherwise: on a machine this
    loaded (2 cores, several sessions) a Node start can take most of that time. Detection is not
    what a timeout measures; the second run must decide as expected."""
    result = vet(vetter, case)
    if result.verdict is not expected and any(f.rule == "limit.time" for f in result.findings):
        print(f"  {case.id}: ran out of time ({result.verdict}), vetted again")
        result = vet(vetter, case)
    return result


def test_corpus_shape():
    assert len(MALICIOUS) >= 35 and len(BENIGN) >= 35
    assert len({c.id for c in CASES}) == len(CASES)
    for group in (MALICIOUS, BENIGN):
        ts = sum(c.language == "typescript" for c in group)
        assert 0.35 <= ts / len(group) <= 0.65, ts  # about half TypeScript
    # Every case that is not decided as its label says has its reason written down.
    for case in CASES:
        stopped = case.expected is not Verdict.ALLOW
        assert (stopped == case.malicious) or case.why, case.id


def test_every_placed_document_parses():
    from sandgate.languages import language_for

    for case in CASES:
        document, text, line = case.placed()
        unit = language_for(None, case.document)
        assert unit is not None and unit.name == case.language
        lines = document.splitlines(keepends=True)
        placed = "".join(lines[:line]) + text + "".join(lines[line:])
        assert unit.syntax.parses(placed), case.id
        assert unit.syntax.parses(document), case.document


def test_corpus_decisions(vetter):
    wrong, stopped, allowed = [], 0, 0
    deciding: Counter[str] = Counter()
    by_kind: dict[str, list[int]] = {}
    for case in CASES:
        result = vet_as_decided(vetter, case, case.expected)
        rules = sorted({f"{f.source}:{f.rule}" for f in result.findings if f.origin is Origin.SUGGESTION})
        if result.verdict is not case.expected:
            wrong.append((case.id, str(result.verdict), rules))
        assert result.language == case.language
        stopped += case.malicious and result.verdict is not Verdict.ALLOW
        allowed += not case.malicious and result.verdict is Verdict.ALLOW
        tally = by_kind.setdefault(f"{case.label}/{case.kind}", [0, 0])
        tally[0] += result.verdict is not Verdict.ALLOW
        tally[1] += 1
        # Cases each rule held or blocked (a rule counted once per case).
        deciding.update(
            {f"{r.finding.source}:{r.finding.rule}" for r in result.reasons if r.verdict > Verdict.ALLOW and r.finding}
        )
    print(
        f"\n{vetter.backend_name}: malicious stopped {stopped}/{len(MALICIOUS)}, benign allowed {allowed}/{len(BENIGN)}"
    )
    for kind, (held, total) in sorted(by_kind.items()):
        print(f"  {kind}: {held}/{total} held or blocked")
    for rule, count in deciding.most_common():
        print(f"  {count:3d} cases  {rule}")
    assert not wrong, wrong
    # The figures in docs/detection.md.
    assert (stopped, len(MALICIOUS)) == (44, 44)
    assert (allowed, len(BENIGN)) == (38, 42)
    assert stopped >= 30 and allowed >= 30


def test_what_the_run_decides(run_vetter, monkeypatch):
    """What the sandbox run decides on its own (the capability analysis's rules off), with
    micro-execution and without it (the document's top level runs, no function is called): the
    decisions `RUN_ONLY` and `WITHOUT_EXERCISE` list differ from the shipped ones, and the figures
    docs/detection.md quotes for the run, with and without the exercise."""
    with_exercise = {}
    for case in CASES:
        result = vet_as_decided(run_vetter, case, RUN_ONLY.get(case.id, case.expected))
        if result.verdict is not case.expected:
            with_exercise[case.id] = result.verdict
    assert with_exercise == RUN_ONLY
    monkeypatch.setattr(js_exercise, "plan", lambda *a, **k: None)
    changed, stopped, allowed = {}, 0, 0
    for case in CASES:
        expected = RUN_ONLY.get(case.id, case.expected)
        result = vet_as_decided(run_vetter, case, WITHOUT_EXERCISE.get(case.id, expected))
        assert not any(f.rule.startswith("exercise.") for f in result.findings), case.id
        if result.verdict is not expected:
            changed[case.id] = result.verdict
        stopped += case.malicious and result.verdict is not Verdict.ALLOW
        allowed += not case.malicious and result.verdict is Verdict.ALLOW
    assert changed == WITHOUT_EXERCISE
    assert (stopped, allowed) == (28, 41)


def test_typescript_with_runtime_syntax_still_runs(run_vetter):
    """Node's strip mode refuses an enum or a parameter property; the run transforms such a file rather
    than fail to compile it, so one `enum` line cannot keep the rest of the suggestion from running,
    and its functions are still exercised (without a line count: the transform moved the lines)."""
    case = next(c for c in MALICIOUS if c.id == "enum-beside-exfil")
    result = vet(run_vetter, case)
    assert result.verdict is Verdict.BLOCK
    hosts = {f.detail("host") for f in result.findings if f.rule == "network.denied"}
    read = {f.detail("token") for f in result.findings if f.rule == "secret.honeytoken-read"}
    assert hosts == {"updates.workers-cdn.example"} and "$NPM_TOKEN" in read, result.findings
    assert not any(f.rule == "syntax.error" for f in result.findings)
    called = vet(run_vetter, next(c for c in MALICIOUS if c.id == "enum-beside-exfil-function"))
    leak = [f for f in called.findings if f.rule == "secret.exfiltration"]
    assert called.verdict is Verdict.BLOCK and leak and "regionEndpoint()" in leak[0].message, called.findings
    lru = vet(run_vetter, next(c for c in BENIGN if c.id == "lru-cache-class"))
    rules = {f.rule for f in lru.findings}
    assert lru.sandbox is not None and lru.sandbox.exit_code == 0, lru.sandbox
    assert "syntax.error" not in rules and "exercise.unreached" not in rules, lru.findings
    calls = next(f for f in lru.findings if f.rule == "exercise.calls")
    assert "LruCache.get() returned" in calls.message and "LruCache.set() returned" in calls.message


def test_npmrc_is_a_honeyfile(run_vetter):
    case = next(c for c in MALICIOUS if c.id == "npmrc-posted-by-release")
    result = vet(run_vetter, case)
    reads = {f.detail("token") for f in result.findings if f.rule == "secret.honeytoken-read"}
    assert "~/.npmrc" in reads, result.findings
    assert result.verdict is Verdict.BLOCK
