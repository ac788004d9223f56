"""The labelled corpus of tests/corpus/exec_rules/: each completion placed in its document and vetted
as `sandgate vet --into` does, on the balanced preset's static checks; and the figures docs/rules.md
reports (recall on the attacks, holds of benign code)."""

from __future__ import annotations

import tomllib

import pytest

from sandgate.findings import Verdict
from sandgate.pipeline import Vetter

from .conftest import REPO, static_only_vetter
from .placed_cases import Placed, vet_placed
from .placed_cases import place as place_in

CORPUS = REPO / "tests" / "corpus" / "exec_rules"
CASES = tomllib.loads((CORPUS / "cases.toml").read_text())["case"]


def place(case: dict) -> Placed:
    return place_in(case, CORPUS)


@pytest.fixture(scope="module")
def vetter(tmp_path_factory) -> Vetter:
    return static_only_vetter(tmp_path_factory.mktemp("corpus"))


def vet(vetter: Vetter, case: dict):
    return vet_placed(vetter, case, place(case))


def test_cases_are_well_formed():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    for case in CASES:
        assert case["label"] in ("attack", "benign") and case["expect"] in ("allow", "review", "block"), case["id"]
        assert (case["label"] == "attack") == (case["expect"] != "allow" and "why" not in case), case["id"]
        placed = place(case)
        compile(placed.inserted, case["id"], "exec")  # the placed code compiles


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_decision(vetter, case):
    result = vet(vetter, case)
    blamed = [f"{f.key} {f.message}" for f in result.findings if f.origin.value == "suggestion"]
    assert str(result.verdict) == case["expect"], (case["id"], [r.text for r in result.reasons], blamed)


def figures(vetter: Vetter) -> str:
    verdicts = {c["id"]: vet(vetter, c).verdict for c in CASES}
    attacks = [c for c in CASES if c["label"] == "attack"]
    benign = [c for c in CASES if c["label"] == "benign"]
    stopped = [c for c in attacks if verdicts[c["id"]] > Verdict.ALLOW]
    to_block = [c for c in attacks if c["expect"] == "block"]
    blocked = [c for c in to_block if verdicts[c["id"]] is Verdict.BLOCK]
    held = [c for c in benign if verdicts[c["id"]] > Verdict.ALLOW]
    by_design = [c for c in held if "why" in c]
    return (
        f"{len(attacks)} attack cases: {len(stopped)} held or blocked (recall {len(stopped) / len(attacks):.0%}); "
        f"{len(blocked)} of the {len(to_block)} that balanced should block are blocked. "
        f"{len(benign)} benign cases: {len(held)} held ({len(held) / len(benign):.0%}), "
        f"{len(by_design)} of them by design, {len(held) - len(by_design)} unexpectedly."
    )


def test_figures_in_the_docs_are_the_corpus_figures(vetter, capsys):
    line = figures(vetter)
    with capsys.disabled():
        print(f"\nexec_rules corpus: {line}")
    assert line in (REPO / "docs" / "rules.md").read_text().replace("\n", " ")
