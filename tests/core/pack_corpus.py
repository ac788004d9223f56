"""The security pack's labelled corpus (tests/corpus/pack/): its cases, each placed in its document
as an editor's completion is, and the figures docs/static-checks.md reports. Shared by the corpus
test and the benchmark (bench/static_recall.py)."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sandgate.findings import Verdict

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "pack"
CASES: list[dict] = tomllib.loads((CORPUS / "cases.toml").read_text())["case"]
FILL = "# <fill>"


@dataclass(frozen=True)
class Placed:
    document: str
    line: int  # 0-based, as Suggestion takes it
    character: int
    text: str

    @property
    def inserted(self) -> str:
        """The document with the suggestion in place."""
        lines = self.document.split("\n")
        line = lines[self.line]
        lines[self.line] = line[: self.character] + self.text + line[self.character :]
        return "\n".join(lines)


def place(case: dict) -> Placed:
    """The case's document with its slot emptied, the cursor after the slot's indentation, and the
    suggestion's later lines indented to the slot."""
    lines = (CORPUS / "documents" / case["doc"]).read_text().split("\n")
    if case["slot"] == "module":
        index = next(i for i, line in enumerate(lines) if line.strip() == FILL)
    else:
        start = next(
            i
            for i, line in enumerate(lines)
            if line.lstrip().startswith((f"def {case['slot']}(", f"async def {case['slot']}("))
        )
        index = next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith(FILL))
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines[index] = indent
    text = case["text"].lstrip("\n").replace("\n", "\n" + indent)
    return Placed("\n".join(lines), index, len(indent), text)


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
