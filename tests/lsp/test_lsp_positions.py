"""Unit tests of the pure position, document and anchor code (the server's exact conversions)."""

from __future__ import annotations

import pytest
from lsprotocol import types

from sandgate.lines import Lines, split_lines
from sandgate.lsp import documents, positions
from sandgate.lsp.anchors import INSERTED, OPEN, anchor_in, follow, intact, text_at


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def test_lines_end_only_at_lsp_line_breaks():
    text = "a\r\nb\rc\nd\x0ce\u2028f"
    assert split_lines(text) == ["a", "b", "c", "d\x0ce\u2028f"]
    lines = Lines.of(text)
    assert lines.count == 4 and lines.line_text(0) == "a" and lines.content_end(0) == 1
    assert lines.offset(0, 99) == 1  # past the end of a CRLF line: before its \r
    assert lines.offset(9, 0) == len(text) and lines.position(2) == (0, 1)


@pytest.mark.parametrize("encoding, character", [("utf-16", 9), ("utf-8", 13), ("utf-32", 8)])
def test_wide_characters_in_each_encoding(encoding, character):
    text = 'x = "😀你" + y'
    lines = Lines.of(text)
    offset = text.index(" + y")
    assert positions.to_client(lines, offset, encoding) == pos(0, character)
    assert positions.locate(lines, pos(0, character), encoding) == positions.Located(offset)


def test_half_a_character_rounds_down():
    lines = Lines.of("😀x")
    assert positions.locate(lines, pos(0, 1), "utf-16").offset == 0
    assert positions.locate(lines, pos(0, 3), "utf-8").offset == 0
    assert positions.locate(lines, pos(0, 2), "utf-16").offset == 1


def test_end_of_document_positions():
    with_newline = Lines.of("def add(a, b):\n")
    assert positions.locate(with_newline, pos(1, 0), "utf-16") == positions.Located(15)  # the empty last line
    assert positions.locate(with_newline, pos(2, 0), "utf-16") == positions.Located(15)  # line == number of lines
    assert positions.locate(with_newline, pos(3, 0), "utf-16").outside
    without = Lines.of("    return a ")
    assert positions.locate(without, pos(0, 40), "utf-16") == positions.Located(13)
    assert positions.locate(without, pos(1, 0), "utf-16") == positions.Located(13)


def test_the_whole_line_of_an_offset():
    lines = Lines.of("x = 1\r\n    😀 = 2\r\n")
    rng = positions.line_range(lines, lines.offset(1, 4), "utf-16")
    assert rng == types.Range(start=pos(1, 0), end=pos(1, 10))


def partial(start, end, text):
    return types.TextDocumentContentChangePartial(range=types.Range(start=pos(*start), end=pos(*end)), text=text)


def test_changes_are_clamped_normalised_and_reported():
    applied = documents.apply_changes("ab\ncd\n", [partial((1, 2), (1, 1), "X")], "utf-16")
    assert applied.text == "ab\ncX\n" and "inverted range" in applied.problems[0]
    applied = documents.apply_changes("ab\n", [partial((5, 0), (6, 0), "Z")], "utf-16")
    assert applied.text == "ab\nZ" and "past the end" in applied.problems[0]
    applied = documents.apply_changes("😀b", [partial((0, 2), (0, 3), "c")], "utf-16")
    assert applied.text == "😀c" and applied.problems == []
    whole = types.TextDocumentContentChangeWholeDocument(text="ab\nXYcd\n")
    applied = documents.apply_changes("ab\ncd\n", [whole], "utf-16")
    assert applied.steps == [(documents.Edit(3, 3, "XY"), "ab\nXYcd\n")]


@pytest.mark.parametrize(
    "uri, relpath",
    [
        ("file:///w/my%20project/a.py", "my project/a.py"),
        ("file:///w/caf%C3%A9/na%C3%AFve.py", "café/naïve.py"),
        ("untitled:Untitled-1", "Untitled-1"),
        ("vscode-notebook-cell:/w/nb.ipynb#W0sZmlsZQ%3D%3D", "nb.ipynb"),
    ],
)
def test_document_names(uri, relpath):
    from pathlib import Path

    assert documents.relpath(uri, Path("/w")) == relpath


def test_documents_are_found_whatever_the_escaping():
    class Workspace:
        text_documents = {"file:///w/my project/a.py": "doc"}

    assert documents.find(Workspace, "file:///w/my%20project/a.py") == "doc"
    assert documents.find(Workspace, "file:///w/my project/a.py") == "doc"
    assert documents.find(Workspace, "file:///w/other.py") is None


DOC = "import pickle\n\n\ndef load(a):\n    \n\n\ndef other():\n    pass\n"
SPOT = DOC.index("    \n\n\ndef other") + 4
TEXT = "return pickle.loads(a)"


def edit_at(text: str, start: int, end: int, new: str) -> tuple[int, int, str, str]:
    return start, end, new, text[:start] + new + text[end:]


def test_anchor_moves_with_edits_elsewhere_and_survives_insertion_and_undo():
    anchor = anchor_in(DOC, SPOT, SPOT)
    start, end, new, text = edit_at(DOC, 0, 0, "# top\n")
    moved = follow(anchor, start, end, new, text, TEXT)
    assert moved.start == SPOT + 6 and intact(moved, text)
    start, end, new, inserted = edit_at(text, moved.start, moved.end, TEXT)
    done = follow(moved, start, end, new, inserted, TEXT)
    assert done.state == INSERTED and text_at(done, inserted) == TEXT
    start, end, new, undone = edit_at(inserted, done.start, done.end, "")
    assert follow(done, start, end, new, undone, TEXT).state == OPEN
    far = len(inserted) - 5
    assert follow(done, *edit_at(inserted, far, far, "x")[:3], inserted, TEXT) == done  # after its window


def test_anchor_is_gone_when_its_context_or_spot_changes():
    anchor = anchor_in(DOC, SPOT, SPOT)
    header = DOC.index("(a)")
    assert follow(anchor, *edit_at(DOC, header, header + 3, "(a, b)")[:3], "", TEXT) is None
    start, end, new, text = edit_at(DOC, SPOT, SPOT, "return sum((a, b))")  # a sibling written there
    assert follow(anchor, start, end, new, text, TEXT) is None


def test_inserted_with_crlf_line_breaks_counts_as_the_suggestion():
    doc = DOC.replace("\n", "\r\n")
    spot = doc.index("    \r\n\r\n\r\ndef other") + 4
    anchor = anchor_in(doc, spot, spot)
    start, end, new, text = edit_at(doc, spot, spot, "x = 1\r\n    return x")
    assert follow(anchor, start, end, new, text, "x = 1\n    return x").state == INSERTED


def test_documents_are_located_for_files_exclude(tmp_path):
    workspace = (tmp_path / "w").resolve()
    (workspace / "src").mkdir(parents=True)
    inside = workspace / "src" / "a.py"
    assert documents.located(inside.as_uri(), workspace) == ("src/a.py",)
    outside = tmp_path / "elsewhere" / ".ssh" / "x.py"
    assert documents.located(outside.as_uri(), workspace) == (outside.absolute().as_posix(),)
    assert documents.located("untitled:Untitled-1", workspace) == ("Untitled-1",)
    (tmp_path / "secrets").mkdir()
    target = tmp_path / "secrets" / "db.py"
    target.write_text("x = 1\n")
    link = workspace / "db.py"
    link.symlink_to(target)
    assert documents.located(link.as_uri(), workspace) == ("db.py", target.resolve().as_posix())
