"""Placing a labelled corpus case in its document as an editor's completion is placed, and vetting
it there: shared by the corpora of tests/corpus/ (exec_rules, pack) and bench/static_recall.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sandgate.pipeline import VetResult, Vetter
from sandgate.suggestion import Suggestion

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


def place(case: dict, corpus: Path) -> Placed:
    """The case's document (under `corpus`/documents) with its slot emptied, the cursor after the
    slot's indentation, and the suggestion's later lines indented to the slot."""
    lines = (corpus / "documents" / case["doc"]).read_text().split("\n")
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


def vet_placed(vetter: Vetter, case: dict, placed: Placed) -> VetResult:
    """The case vetted as `sandgate vet --into` vets it."""
    return vetter.vet(
        Suggestion(
            placed.text, document=placed.document, line=placed.line, character=placed.character, path=case["doc"]
        )
    )
