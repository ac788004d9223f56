"""The security pack's labelled corpus (tests/corpus/pack/): each completion placed in its document
and vetted as `sandgate vet --into` does on the balanced preset's static checks; and the figures
docs/static-checks.md reports."""

from __future__ import annotations

import pytest

from sandgate.pipeline import Vetter

from .conftest import REPO, static_only_vetter
from .pack_corpus import CASES, figures, place
from .placed_cases import vet_placed


@pytest.fixture(scope="module")
def vetter(tmp_path_factory) -> Vetter:
    return static_only_vetter(tmp_path_factory.mktemp("pack-corpus"))


def vet(vetter: Vetter, case: dict):
    return vet_placed(vetter, case, place(case))


def test_cases_are_well_formed():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    for case in CASES:
        assert case["label"] in ("vulnerable", "benign") and case["expect"] in ("allow", "review", "block"), case
        assert (case["label"] == "vulnerable") == (case["expect"] != "allow" and "why" not in case), case["id"]
        compile(place(case).inserted, case["id"], "exec")  # the placed code compiles


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_decision(vetter, case):
    result = vet(vetter, case)
    blamed = [f"{f.key} {f.message}" for f in result.findings if f.origin.value == "suggestion"]
    assert str(result.verdict) == case["expect"], (case["id"], [r.text for r in result.reasons], blamed)
    if case["label"] == "vulnerable":  # held for the pack's reason, not only bandit's
        assert any(f.source == "pack" and f.cwe for f in result.findings if f.origin.value == "suggestion"), blamed


def test_figures_in_the_docs_are_the_corpus_figures(vetter, capsys):
    line, _ = figures({c["id"]: vet(vetter, c).verdict for c in CASES})
    with capsys.disabled():
        print(f"\npack corpus: {line}")
    assert line in (REPO / "docs" / "static-checks.md").read_text().replace("\n", " ")
