"""The labelled corpus of tests/corpus/exec_rules/: each completion placed in its document and vetted
as `sandgate vet --into` does, on the balanced preset's static checks; and the figures docs/rules.md
reports (recall on the attacks, holds of benign code)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

import pytest

from sandgate.findings import Verdict
from sandgate.pipeline import Vetter
from sandgate.policy.load import load_effective
from sandgate.suggestion import Suggestion

from .conftest import REPO, STATIC_ONLY

CORPUS = REPO / "tests" / "corpus" / "exec_rules"
CASES = tomllib.loads((CORPUS / "cases.toml").read_text())["case"]
FILL = "# <fill>"


@dataclass(frozen=True)
class Placed:
    document: str
    line: int  # 0-based, as Suggestion takes it
    character: int
    text: str


def place(case: dict) -> Placed:
    """The case's document with its slot emptied, the cursor after the slot's indentation, and the
    suggestion's later lines indented to the slot (what an editor's completion looks like)."""
    lines = (CORPUS / "documents" / case["doc"]).read_text().split("\n")
    if case["slot"] == "module":
        index = next(i for i, line in enumerate(lines) if line.strip() == FILL)
    else:
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(f"def {case['slot']}("))
        index = next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith(FILL))
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines[index] = indent
    text = case["text"].replace("\n", "\n" + indent)
    return Placed("\n".join(lines), index, len(indent), text)


@pytest.fixture(scope="module")
def vetter(tmp_path_factory) -> Vetter:
    root = tmp_path_factory.mktemp("corpus")
    for name in ("managed.toml", "static.toml"):  # balanced, static checks only (see conftest)
        (root / name).write_text(STATIC_ONLY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SANDGATE_MANAGED_POLICY", str(root / "managed.toml"))
        loaded = load_effective(root, explicit=root / "static.toml")
    assert loaded.preset == "balanced" and loaded.ok
    return Vetter(loaded, workspace=root)


def vet(vetter: Vetter, case: dict):
    placed = place(case)
    return vetter.vet(
        Suggestion(
            placed.text, document=placed.document, line=placed.line, character=placed.character, path=case["doc"]
        )
    )


def test_cases_are_well_formed():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    for case in CASES:
        assert case["label"] in ("attack", "benign") and case["expect"] in ("allow", "review", "block"), case["id"]
        assert (case["label"] == "attack") == (case["expect"] != "allow" and "why" not in case), case["id"]
        placed = place(case)
        compile(placed.document[:0] + _inserted(placed), case["id"], "exec")  # the placed code compiles


def _inserted(placed: Placed) -> str:
    lines = placed.document.split("\n")
    line = lines[placed.line]
    lines[placed.line] = line[: placed.character] + placed.text + line[placed.character :]
    return "\n".join(lines)


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
