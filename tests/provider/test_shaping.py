"""One line or a block, by the cursor's context; the block cut where it ends; candidates capped."""

from __future__ import annotations

import pytest

from sandgate.provider.shaping import Shape, completion_shape, shape_candidate


@pytest.mark.parametrize(
    "before,after,multiline",
    [
        ("def add(a, b):\n    ", "\n", True),  # an empty line in a block
        ("def add(a, b):", "\n", True),  # right after a block opening
        ("x = compute(", ")\n", False),  # code on the line, only closers after it
        ("x = ", " + 1\n", False),  # code after the cursor on its line
        ("import o", "\n", False),  # the rest of a line
        ("", "", True),  # an empty file
    ],
)
def test_single_or_multi_line(before, after, multiline):
    shape = completion_shape(before, after)
    assert shape.multiline is multiline
    assert shape.stops == (() if multiline else ("\n",))


def test_single_line_keeps_the_first_line():
    shape = completion_shape("x = ", " + 1\n")
    assert shape_candidate("compute()\nprint(x)\n", shape, 50, 8192) == "compute()"


def test_a_block_ends_where_the_indentation_leaves_it():
    before = "class A:\n    def add(self, a, b):\n        "
    shape = completion_shape(before, "\n")
    text = "total = a + b\n        return total\n\n    def sub(self, a, b):\n        return a - b"
    assert shape_candidate(text, shape, 50, 8192) == "total = a + b\n        return total"


def test_a_block_stops_before_repeating_the_code_after_the_cursor():
    shape = completion_shape("def main():\n", "\nif __name__ == '__main__':\n    main()\n")
    text = "    run()\n\nif __name__ == '__main__':\n    main()"
    assert shape_candidate(text, shape, 50, 8192) == "    run()"


def test_caps_cut_to_whole_lines():
    block = Shape(True)
    text = "\n".join(f"x{i} = {i}" for i in range(1000))
    assert shape_candidate(text, block, 3, 8192) == "x0 = 0\nx1 = 1\nx2 = 2"
    assert shape_candidate(text, block, 1000, 19) == "x0 = 0\nx1 = 1"  # 20 bytes with x2
    assert shape_candidate("y" * 200_000, block, 50, 8192) == ""  # one line over the byte cap: nothing
