"""Vim 9 with coc.nvim, as a user drives it: keys typed into the real Vim in a pseudo-terminal, with the
coc-settings.json docs/editors.md documents, against the real `sandgate serve` (bubblewrap sandbox) and a
loopback model. What is asserted is what Vim shows: its buffer, coc's diagnostics, its messages and popups."""

from __future__ import annotations

from typing import Any

import pytest
from coc_session import Editor
from vim_driver import Vim

ESC = "\x1b"
RUN_DOC = "import subprocess\n\n\ndef run(cmd):\n\n"
RISKY = "cmd = cmd.strip()\n    return subprocess.call(cmd, shell=True)"


def start(editor: Editor, name: str, text: str) -> Vim:
    vim = editor.open(name, text)
    vim.wait(lambda s: s["coc"], "coc.nvim to start")
    vim.wait(lambda s: any(x["state"] == "running" for x in s.get("services", [])), "the sandgate service to run")
    # Typing before coc has attached the buffer is lost to the server: wait for the document to be synced.
    vim.type(":call CocAction('ensureDocument')\r")
    return vim


def held(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in state.get("diagnostics", []) if d.get("code") == "held-for-review"]


def popup_text(state: dict[str, Any]) -> str:
    return "\n".join("\n".join(lines) for lines in state["popups"])


def type_in_line(vim: Vim, line: int, keys: str) -> None:
    vim.type(f"{ESC}{line}GA")
    vim.wait(lambda s: s["mode"].startswith("i"), "insert mode")
    vim.type(keys)


@pytest.mark.model_script({"def add(a, b)": "return a + b"})
def test_an_allowed_suggestion_is_ghost_text_and_tab_inserts_it(editor: Editor):
    vim = start(editor, "add.py", "def add(a, b):\n\n")
    type_in_line(vim, 2, "    ")
    state = vim.wait(lambda s: s["inline"], "the inline suggestion (ghost text)")
    # Ghost text is virtual: the buffer does not hold it until it is accepted.
    assert state["lines"][1] == "    "
    vim.type("\t")
    state = vim.wait(lambda s: s["lines"][1] == "    return a + b", "the accepted suggestion in the buffer")
    assert state["lines"] == ["def add(a, b):", "    return a + b"]
    # coc ran the item's command: the acceptance is in the audit log.
    vim.wait(lambda s: any(r["event"] == "acceptance" for r in editor.audit()), "the acceptance record")


def hold_and_review(editor: Editor) -> tuple[Vim, dict[str, Any]]:
    """Hold a risky suggestion, pick "Review and insert" among coc's code actions; return the confirmation."""
    vim = start(editor, "run.py", RUN_DOC)
    type_in_line(vim, 5, "    ")
    state = vim.wait(held, "the held-for-review diagnostic")
    (diagnostic,) = held(state)
    assert diagnostic["message"].startswith("AI suggestion held for review: ") and "B602" in diagnostic["message"]
    assert state["lines"][4] == "    "
    vim.type(f"{ESC}5Gga")
    state = vim.wait(lambda s: "Review and insert" in popup_text(s), "coc's code action menu")
    menu = next(lines for lines in state["popups"] if any("Review and insert" in line for line in lines))
    assert any(". Discard" in line for line in menu), menu
    (review,) = [line for line in menu if ". Review and insert" in line]
    vim.type(review.split(".", 1)[0])  # coc's menus pick an entry by its number
    return vim, vim.wait(lambda s: "Confirm edits" in popup_text(s) or "Yes" in popup_text(s), "the confirmation")


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.model_script({"def run(cmd)": RISKY})
def test_a_held_suggestion_is_approved_with_its_code_in_the_confirmation(editor: Editor):
    vim, state = hold_and_review(editor)
    confirmation = next(lines for lines in state["popups"] if lines[-2:] == ["1. Yes", "2. No"])
    # coc's dialog has no preview of the edit: the change annotation's description carries the code itself
    # (coc reflows it, so compare words).
    text = words(" ".join(confirmation))
    assert text.startswith("Insert an AI suggestion held for review Held for review: ") and "B602" in text, text
    assert text.endswith("It writes: " + words(RISKY) + " 1. Yes 2. No"), text
    vim.type("1")
    state = vim.wait(lambda s: not held(s), "the held diagnostic to go")
    lines = [
        "import subprocess",
        "",
        "",
        "def run(cmd):",
        "    cmd = cmd.strip()",
        "    return subprocess.call(cmd, shell=True)",
    ]
    assert state["lines"][: len(lines)] == lines and all(not line.strip() for line in state["lines"][len(lines) :])
    vim.wait(lambda s: any(r["event"] == "approval" for r in editor.audit()), "the approval record")
    (approval,) = [r for r in editor.audit() if r["event"] == "approval"]
    assert approval["actor"]["client"] == "coc.nvim"
    assert [r for r in editor.audit() if r["event"] == "approval-refused"] == []


@pytest.mark.model_script({"def run(cmd)": RISKY})
def test_declining_inserts_nothing_and_records_no_refusal(editor: Editor):
    vim, _ = hold_and_review(editor)
    vim.type("2")
    # coc runs sandgate.approve even after "No": the server answers with a message, not a refusal.
    state = vim.wait(lambda s: "was not inserted" in s["messages"], "the not-inserted message")
    assert state["lines"] == ["import subprocess", "", "", "def run(cmd):", "    "]
    assert len(held(state)) == 1
    assert [r["event"] for r in editor.audit() if r["event"] in ("approval", "approval-refused")] == []


@pytest.mark.model_script(None)
def test_the_status_reaches_coc_as_a_message_when_the_model_is_missing(editor: Editor):
    """coc drops sandgate/status: what fails closed comes as window/showMessage, which coc echoes."""
    vim = start(editor, "add.py", "def add(a, b):\n\n")
    expected = "[coc.nvim] Sandgate: no model provider is configured, so no inline suggestions are made."
    state = vim.wait(lambda s: expected in s["messages"], "the no-model message")
    assert "Set `sandgate.model.baseUrl` and `sandgate.model.name`" in state["messages"]
