"""The JavaScript/TypeScript corpus (tests/corpus/js/): each completion placed in its document and
vetted as `sandgate vet --into` does on the balanced preset's static checks; recall and false holds
against floors; the figures docs/static-checks.md reports; and, with the presets as they ship,
no JS/TS suggestion shown as if a sandbox had run it."""

from __future__ import annotations

import pytest

from sandgate.checks.js_parse import parse_js, syntax_error
from sandgate.findings import Verdict
from sandgate.languages import language_for
from sandgate.pipeline import Vetter
from sandgate.suggestion import Suggestion

from .conftest import REPO, static_only_vetter
from .js_corpus import CASES, STATIC_DECIDES, figures, place, vet

# Floors: the corpus holds at least this many cases, the static checks hold at least this share of
# the vulnerable ones, and hold at most this share of the benign ones.
MIN_CASES = 30
RECALL_FLOOR = 0.95
FALSE_HOLD_CEILING = 0.05


@pytest.fixture(scope="module")
def vetter(tmp_path_factory) -> Vetter:
    return static_only_vetter(tmp_path_factory.mktemp("js-corpus"), STATIC_DECIDES)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Vetter:
    """The balanced preset as it ships (`languages.unvetted = "skip"`), on the static checks."""
    return static_only_vetter(tmp_path_factory.mktemp("js-corpus-shipped"))


@pytest.fixture(scope="module")
def verdicts(vetter) -> dict[str, Verdict]:
    return {c["id"]: vet(vetter, c).verdict for c in CASES}


def test_cases_are_well_formed():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    assert sum(c["label"] == "vulnerable" for c in CASES) >= MIN_CASES
    assert sum(c["label"] == "benign" for c in CASES) >= MIN_CASES
    languages = set()
    for case in CASES:
        assert case["label"] in ("vulnerable", "benign") and case["expect"] in ("allow", "review", "block"), case
        assert (case["label"] == "vulnerable") == (case["expect"] != "allow" and "why" not in case), case["id"]
        unit = language_for(None, case["doc"])
        assert unit is not None and unit.name in ("javascript", "typescript"), case["doc"]
        languages.add(unit.name)
        tree = parse_js(place(case).inserted, unit.syntax.grammars)
        assert syntax_error(tree) is None, (case["id"], syntax_error(tree))  # the placed code parses
    assert languages == {"javascript", "typescript"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_decision(vetter, case):
    result = vet(vetter, case)
    blamed = [f"{f.key} {f.message}" for f in result.findings if f.origin.value == "suggestion"]
    assert str(result.verdict) == case["expect"], (case["id"], [r.text for r in result.reasons], blamed)
    assert result.language == language_for(None, case["doc"]).name
    assert all(f.language == result.language for f in result.findings)
    if case["label"] == "vulnerable":  # held for the pack's reason, with its CWE
        assert any(f.source == "pack" and f.cwe for f in result.findings if f.origin.value == "suggestion"), blamed
    # The run not made is always said, even where it does not decide: no backend is allowed here,
    # and JSX/TSX files have no runtime at all (`sandbox.unsupported-language`).
    if result.verdict is not Verdict.BLOCK:
        if case["doc"].endswith("x"):
            assert any(f.rule == "sandbox.unsupported-language" for f in result.findings)
        else:
            assert "no sandbox could run" in (result.sandbox_skipped or ""), result.sandbox_skipped


def test_recall_and_false_holds_stay_above_their_floors(verdicts):
    vulnerable = [c for c in CASES if c["label"] == "vulnerable"]
    benign = [c for c in CASES if c["label"] == "benign"]
    recall = sum(verdicts[c["id"]] > Verdict.ALLOW for c in vulnerable) / len(vulnerable)
    false_holds = sum(verdicts[c["id"]] > Verdict.ALLOW for c in benign) / len(benign)
    assert recall >= RECALL_FLOOR and false_holds <= FALSE_HOLD_CEILING, (recall, false_holds)


def test_as_shipped_nothing_is_shown_as_if_a_sandbox_had_run_it(shipped, verdicts):
    """In a JSX/TSX file (which Node cannot run), the presets hold every suggestion the static
    checks allow, and decide the others as the static checks do."""
    for case in CASES:
        if case["doc"].endswith(".mjs"):
            continue  # no JSX twin of an ES module file name
        placed = place(case)
        result = shipped.vet(
            Suggestion(
                placed.text,
                document=placed.document,
                line=placed.line,
                character=placed.character,
                path=case["doc"] if case["doc"].endswith("x") else case["doc"] + "x",
            )
        )
        assert result.verdict is max(verdicts[case["id"]], Verdict.REVIEW), case["id"]
        if result.verdict is Verdict.REVIEW and verdicts[case["id"]] is Verdict.ALLOW:
            (reason,) = [r for r in result.reasons if r.verdict is Verdict.REVIEW]
            assert reason.rule_id == "sandbox-unsupported-language"
            assert "are not run in Sandgate's sandbox yet" in reason.text and "does not compile JSX" in reason.text


def test_figures_in_the_docs_are_the_corpus_figures(verdicts, capsys):
    line, _ = figures(verdicts)
    with capsys.disabled():
        print(f"\njs corpus: {line}")
    assert line in (REPO / "docs" / "static-checks.md").read_text().replace("\n", " ")
