"""Text from a suggestion or the file system cannot act on the terminal `sandgate` writes to.

A suggestion's run output, its exit message, the findings quoting its code and a file's name reach
the human-readable output; a control sequence in any of them once cleared the line and wrote
"ALLOW" there. Each such character now shows as a visible escape. The runs are real (bubblewrap).
"""

from __future__ import annotations

import shutil

import pytest

from sandgate.terminal import safe

from .test_pipeline_and_cli import sandgate

ESC = "\x1b"
FAKE_ALLOW = "\x1b[2J\x1b[1A\x1b[2KALLOW ok.py"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2KALLOW", "\\x1b[2KALLOW"),
        ("a\rb\nc\td\x00", "a\\x0db\\x0ac\\x09d\\x00"),
        ("del\x7f c1\x9b2K", "del\\x7f c1\\x9b2K"),  # DEL; U+009B is CSI on a terminal that takes C1
        ("evil\u202egnp.py", "evil\\u202egnp.py"),  # right-to-left override
        ("a\u2028b\u2029c\u2066d\u200be", "a\\u2028b\\u2029c\\u2066d\\u200be"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("bytes \udcff", "bytes \\udcff"),  # an undecodable byte kept by surrogateescape
    ],
)
def test_safe_escapes_every_control_and_format_character(raw, shown):
    assert safe(raw) == shown


def test_safe_keeps_ordinary_text_as_it_is():
    text = "adds: network → api.example.net (sends ~/.aws/credentials) — café 日本 ü\u00a0x"
    assert safe(text) == text
    assert safe(12) == "12"


def _assert_terminal_safe(*outputs: str) -> None:
    for output in outputs:
        assert ESC not in output and "\r" not in output and "\u202e" not in output


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_vet_text_shows_the_runs_escape_sequences_instead_of_obeying_them(workspace):
    (workspace / "shell.py").write_text(f'import os\nos.system("echo {FAKE_ALLOW}")\n')
    (workspace / "exits.py").write_text('raise SystemExit("\\x1b[31mboom\\u202e")\n')
    name = "a\x1b[2K\x1b[1GALLOW   b.py"
    (workspace / name).write_text("print('hi\\x1b[2J')\n")
    done = sandgate("vet", "--no-audit", "--backend", "bwrap", "shell.py", "exits.py", name, cwd=workspace)
    assert done.returncode == 1, done.stderr  # shell.py is held for review
    _assert_terminal_safe(done.stdout, done.stderr)
    # What was there is shown, escaped: in the summary, the because lines, the table and run.error.
    assert "adds: runs `echo \\x1b[2J\\x1b[1A\\x1b[2KALLOW ok.py` through a shell" in done.stdout
    assert "because sandbox:process.shell (line 2): The code ran a shell command: echo \\x1b[2J" in done.stdout
    assert "The code exited with status 1: \\x1b[31mboom\\u202e" in done.stdout
    assert "a\\x1b[2K\\x1b[1GALLOW   b.py" in done.stdout  # the file's name, in its result's heading
    assert "vetting a\\x1b[2K\\x1b[1GALLOW   b.py" in done.stderr  # and in the progress lines


def test_vet_and_policy_messages_escape_file_names_and_keys(workspace):
    name = "p\x1b[2Kolicy.toml"
    (workspace / name).write_text('version = 1\n"\\u001b[2Kkey" = 1\n')
    done = sandgate("policy", "validate", name, cwd=workspace)
    assert done.returncode == 2
    _assert_terminal_safe(done.stdout, done.stderr)
    assert "p\\x1b[2Kolicy.toml" in done.stdout and "\\x1b[2Kkey" in done.stdout

    (workspace / "x.py").write_text("x = 1\n")
    done = sandgate("vet", "--no-audit", "--policy", name, "x.py", cwd=workspace)
    assert done.returncode == 2
    _assert_terminal_safe(done.stdout, done.stderr)
    assert "p\\x1b[2Kolicy.toml" in done.stderr
