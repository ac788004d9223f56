"""The actions on a finding, in the order that matters (fix, move a secret, suppress), the fix judged
on what the policy holds (a LOW finding any subprocess fix brings is no reason to refuse it), the
refused fix shown with its reason, suppressions recorded with the user's reason, and secrets moved to
an environment variable."""

from __future__ import annotations

import difflib

import pytest
from lsp_helpers import Doc, audit_records, by_code, code_actions, command, edits_of, wait_for
from lsprotocol import types
from pytest_lsp import LanguageClient

RISKY_DOC = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"
SPLIT_FIX = "    return subprocess.call(cmd.split())\n"
STILL = "    return subprocess.call(cmd, shell=True)  # now safe\n"
SECRET_DOC = 'import subprocess\n\nAWS_ACCESS_KEY_ID = "AKIAZ7Q3XK2M5N8P4R6T"\n'


def titles(actions: list[types.CodeAction]) -> list[str]:
    return [a.title for a in actions]


async def b602(client: LanguageClient) -> tuple[Doc, types.Diagnostic]:
    doc = Doc(client, client.workspace / "run.py", RISKY_DOC)
    (diagnostic,) = await wait_for(lambda: by_code(doc.diagnostics(), "B602"))
    return doc, diagnostic


@pytest.mark.lsp(script={"Problem on lines 5-5: B602": SPLIT_FIX}, settings={"policy": {"preset": "balanced"}})
async def test_the_usual_subprocess_fix_is_offered_and_the_fix_comes_before_suppress(client: LanguageClient):
    doc, diagnostic = await b602(client)
    actions = await code_actions(client, doc, [diagnostic])
    assert titles(actions) == ["Fix with AI… (B602)", "Suppress B602 for this line"]
    result = await command(client, actions[0].command.command, {**actions[0].command.arguments[0], "quiet": True})
    # B603 (subprocess without a shell, LOW) comes with any such fix: the balanced policy allows it.
    assert result["offered"] is True, result["message"]
    assert result["proposed"] == SPLIT_FIX and result["range"]["start"] == {"line": 4, "character": 0}
    assert not any("AI fix ready" in m.message for m in client.messages)  # quiet: the client says it
    actions = await code_actions(client, doc, [diagnostic])
    assert titles(actions)[0].startswith("Apply AI fix (verified: bandit:B602 gone")
    assert titles(actions)[-1] == "Suppress B602 for this line"


@pytest.mark.lsp(script={"Problem on lines 5-5: B602": STILL})
async def test_a_refused_fix_comes_back_with_its_text_and_reason(client: LanguageClient):
    doc, diagnostic = await b602(client)
    (ask,) = [a for a in await code_actions(client, doc, [diagnostic]) if a.title.startswith("Fix with AI")]
    result = await command(client, ask.command.command, *ask.command.arguments)
    assert result["offered"] is False and "B602 is still there" in result["message"]
    assert result["proposed"] == STILL and result["range"]["start"]["line"] == 4


async def test_a_suppression_is_recorded_with_the_reason_given(client: LanguageClient):
    doc, diagnostic = await b602(client)
    (suppress,) = [a for a in await code_actions(client, doc, [diagnostic]) if a.title.startswith("Suppress")]
    args = suppress.command.arguments[0]
    assert suppress.command.command == "sandgate.recordSuppression"
    assert args == {"uri": doc.uri, "source": "bandit", "rule": "B602", "line": 5, "reason": None}
    # Not applied yet: nothing to record.
    refused = await command(client, "sandgate.recordSuppression", {**args, "reason": "trusted input"})
    assert refused["ok"] is False and audit_records(client.workspace) == []
    doc.apply(edits_of(suppress.edit, doc.uri))
    done = await command(client, "sandgate.recordSuppression", {**args, "reason": "  cmd comes from our config  "})
    assert done == {"ok": True, "recorded": True, "reason": "cmd comes from our config"}
    (record,) = [r for r in audit_records(client.workspace) if r["event"] == "suppression"]
    assert (record["rule"], record["line"], record["reason"]) == ("B602", 5, "cmd comes from our config")
    assert record["decided_by"].startswith("user:") and record["file"] == "run.py"
    await wait_for(lambda: not by_code(doc.diagnostics(), "B602"))


async def test_a_secret_moves_to_an_environment_variable_named_after_its_variable(client: LanguageClient):
    doc = Doc(client, client.workspace / "keys.py", SECRET_DOC)
    (diagnostic,) = await wait_for(lambda: by_code(doc.diagnostics(), "aws-access-key"))
    actions = await code_actions(client, doc, [diagnostic])
    assert titles(actions)[0] == "Move the secret to the environment variable AWS_ACCESS_KEY_ID"
    assert titles(actions)[1] == "Fix with AI… (aws-access-key)"
    assert titles(actions)[-1] == "Suppress aws-access-key for this line"
    doc.apply(edits_of(actions[0].edit, doc.uri))
    assert doc.text == 'import os\nimport subprocess\n\nAWS_ACCESS_KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]\n'
    await wait_for(lambda: not by_code(doc.diagnostics(), "aws-access-key"))


@pytest.mark.lsp(script={"Problem on lines 5-5: B602": SPLIT_FIX}, settings={"policy": {"preset": "balanced"}})
async def test_an_offered_fix_applied_as_a_character_diff_is_approved(client: LanguageClient):
    """VS Code reports a replacement as a character diff: several edits in one didChange, applied
    from the end, whose in-between texts are neither the original nor the fix. Judged as a whole."""
    doc, diagnostic = await b602(client)
    (ask,) = [a for a in await code_actions(client, doc, [diagnostic]) if a.title.startswith("Fix with AI")]
    result = await command(client, ask.command.command, {**ask.command.arguments[0], "quiet": True})
    assert result["offered"] is True
    start = doc.text.index(RISKY_DOC.split("\n")[4])
    old, new = RISKY_DOC.split("\n")[4] + "\n", SPLIT_FIX
    ops = [op for op in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes() if op[0] != "equal"]
    assert len(ops) > 1  # several edits, as VS Code sends them
    changes = []
    for _, i1, i2, j1, j2 in reversed(ops):  # from the end: earlier offsets stay valid
        changes.append(
            types.TextDocumentContentChangePartial(
                range=types.Range(start=doc.at(start + i1), end=doc.at(start + i2)), text=new[j1:j2]
            )
        )
    doc.version += 1
    doc.text = doc.text[:start] + new + doc.text[start + len(old) :]
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version),
            content_changes=changes,
        )
    )
    approved = await command(client, "sandgate.approve", {"token": result["token"]})
    assert approved["ok"] is True
    (approval,) = [r for r in audit_records(client.workspace) if r["event"] == "approval"]
    assert approval["kind"] == "fix"
