"""The JavaScript/TypeScript labelled corpus (tests/corpus/js/): its cases, each placed in its
document as an editor's completion is, and the figures docs/static-checks.md reports. Shared by the
corpus test and the benchmark (bench/static_recall.py)."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from pathlib import Path

from sandgate.findings import Verdict
from sandgate.pipeline import VetResult, Vetter
from sandgate.suggestion import Suggestion

from .placed_cases import Placed

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "js"
CASES: list[dict] = tomllib.loads((CORPUS / "cases.toml").read_text())["case"]
# The static checks decide alone: the missing sandbox run is reported, not held (see cases.toml).
STATIC_DECIDES = '\n[languages]\nunvetted = "allow"\n'


def place(case: dict) -> Placed:
    """The case's document with its `// <fill SLOT>` line emptied to its indentation, the cursor
    there, and the suggestion's later lines indented to it."""
    lines = (CORPUS / "documents" / case["doc"]).read_text().split("\n")
    index = next(i for i, line in enumerate(lines) if line.strip() == f"// <fill {case['slot']}>")
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines[index] = indent
    text = case["text"].lstrip("\n").replace("\n", "\n" + indent)
    return Placed("\n".join(lines), index, len(indent), text)


def vet(vetter: Vetter, case: dict) -> VetResult:
    """The case vetted as `sandgate vet --into` vets it (the language from the document's name)."""
    placed = place(case)
    return vetter.vet(
        Suggestion(
            placed.text, document=placed.document, line=placed.line, character=placed.character, path=case["doc"]
        )
    )


def figures(verdicts: dict[str, Verdict]) -> tuple[str, dict[int, tuple[int, int]]]:
    """The sentence the docs quote, and held/total of the vulnerable cases per CWE."""
    vulnerable = [c for c in CASES if c["label"] == "vulnerable"]
    benign = [c for c in CASES if c["label"] == "benign"]
    per_cwe: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for case in vulnerable:
        per_cwe[case["cwe"]][1] += 1
        per_cwe[case["cwe"]][0] += verdicts[case["id"]] > Verdict.ALLOW
    held = [c for c in vulnerable if verdicts[c["id"]] > Verdict.ALLOW]
    blocked = [c for c in vulnerable if c["expect"] == "block" and verdicts[c["id"]] is Verdict.BLOCK]
    false_holds = [c for c in benign if verdicts[c["id"]] > Verdict.ALLOW]
    line = (
        f"{len(vulnerable)} vulnerable JS/TS cases: {len(held)} held or blocked ({len(held) / len(vulnerable):.0%}), "
        f"{len(blocked)} of the {sum(c['expect'] == 'block' for c in vulnerable)} expected blocked are blocked. "
        f"{len(benign)} benign look-alikes: {len(false_holds)} held by the static checks "
        f"({len(false_holds) / len(benign):.0%})."
    )
    return line, {cwe: (a, b) for cwe, (a, b) in sorted(per_cwe.items())}
