"""The security pack's labelled corpus (tests/corpus/pack/): its cases, each placed in its document
as an editor's completion is, and the figures docs/static-checks.md reports. Shared by the corpus
test and the benchmark (bench/static_recall.py)."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from pathlib import Path

from sandgate.findings import Verdict

from .placed_cases import Placed
from .placed_cases import place as place_in

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "pack"
CASES: list[dict] = tomllib.loads((CORPUS / "cases.toml").read_text())["case"]


def place(case: dict) -> Placed:
    return place_in(case, CORPUS)


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
        f"{len(vulnerable)} vulnerable cases: {len(held)} held or blocked ({len(held) / len(vulnerable):.0%}), "
        f"{len(blocked)} of the {sum(c['expect'] == 'block' for c in vulnerable)} expected blocked are blocked. "
        f"{len(benign)} benign look-alikes: {len(false_holds)} held ({len(false_holds) / len(benign):.0%}), "
        f"{sum('why' in c for c in false_holds)} of them by other checks than the pack, as noted."
    )
    return line, {cwe: (a, b) for cwe, (a, b) in sorted(per_cwe.items())}
