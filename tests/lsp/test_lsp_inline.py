"""Inline suggestions end to end: allowed ones shown, held and blocked ones withheld with their
diagnostics and actions, approvals bound to the vetted text, the policy and a one-time token."""

from __future__ import annotations

import time

import pytest
from lsp_helpers import Doc, audit_records, by_code, code_actions, command, edits_of, inline, pending, sha256, wait_for
from lsprotocol import types
from pytest_lsp import LanguageClient

from sandgate.lsp.server import PROGRESS_AFTER_S

ADD_DOC = "def add(a, b):\n    "
RUN_DOC = "import subprocess\n\n\ndef run(cmd):\n    "
RISKY = "return subprocess.call(cmd, shell=True)"
SECRET = 'key = "AKIAZ3MSJV7WQLPX4TQB"'

SCRIPT = {
    "def add(a, b)": ["```python\nreturn a + b\n```", "return b + a", "return a + b"],
    "def run(cmd)": RISKY,
    "def leak()": SECRET,
}


class _Stamped(dict):
    """The client's progress record, noting when each progress was created."""

    def __init__(self) -> None:
        super().__init__()
        self.created: dict[object, float] = {}

    def setdefault(self, key, default=None):
        self.created.setdefault(key, time.monotonic())
        return super().setdefault(key, default)


def held_diagnostics(doc: Doc) -> list[types.Diagnostic]:
    return by_code(doc.diagnostics(), "held-for-review")


async def hold_one(client: LanguageClient, name: str = "run.py") -> tuple[Doc, types.Diagnostic]:
    doc = Doc(client, client.workspace / name, RUN_DOC)
    result = await inline(client, doc)
    assert list(result.items) == []
    (diagnostic,) = await wait_for(lambda: held_diagnostics(doc))
    return doc, diagnostic


def review_action(actions: list[types.CodeAction]) -> types.CodeAction:
    (action,) = [a for a in actions if a.title.startswith("Review and insert")]
    return action


@pytest.mark.lsp(script=SCRIPT, settings={"model": {"candidates": 3}})
async def test_allowed_candidates_are_returned_and_acceptance_recorded(client: LanguageClient, fake_model):
    doc = Doc(client, client.workspace / "calc.py", ADD_DOC)
    client.progress_reports = stamped = _Stamped()
    asked = time.monotonic()
    result = await inline(client, doc)
    texts = [item.insert_text for item in result.items]
    assert texts == ["return a + b", "return b + a"]  # fences stripped, duplicates merged
    for item in result.items:
        assert item.command.command == "sandgate.acceptInline"
        assert set(item.command.arguments[0]) == {"id"}
        assert item.range.start == doc.end() == item.range.end
    (request,) = fake_model.requests
    assert request["n"] == 3
    prompt = request["messages"][-1]["content"]
    assert "def add(a, b):\n    <CURSOR>" in prompt and "File: calc.py" in prompt and "Language: python" in prompt
    assert held_diagnostics(doc) == []

    accepted = result.items[0].command.arguments[0]
    assert (await command(client, "sandgate.acceptInline", accepted))["ok"] is True
    with pytest.raises(Exception, match="already accepted"):
        await command(client, "sandgate.acceptInline", accepted)
    records = await wait_for(lambda: [r for r in audit_records(client.workspace) if r["event"] == "acceptance"])
    assert records[0]["content_sha256"] == sha256("return a + b")
    decisions = [r for r in audit_records(client.workspace) if r["event"] == "decision"]
    assert {r["decision"] for r in decisions} == {"allow"} and len(decisions) == 2
    # No progress flashed for a request answered within PROGRESS_AFTER_S (nor a create round trip):
    # any progress (a loaded machine's vets can last longer) began only after it.
    late = [at - asked for at in stamped.created.values()]
    assert all(after >= PROGRESS_AFTER_S for after in late), late


@pytest.mark.lsp(script={"*": {"delay": 0.6, "completion": "return a + b"}})
async def test_a_request_that_lasts_shows_its_progress_from_start_to_end(client: LanguageClient):
    doc = Doc(client, client.workspace / "calc.py", ADD_DOC)
    result = await inline(client, doc)
    assert [item.insert_text for item in result.items] == ["return a + b"]
    (values,) = [v for v in client.progress_reports.values() if v]
    assert isinstance(values[0], types.WorkDoneProgressBegin) and values[0].message == "asking the model"
    assert isinstance(values[-1], types.WorkDoneProgressEnd)
    assert any(isinstance(v, types.WorkDoneProgressReport) and "vetting" in (v.message or "") for v in values)


@pytest.mark.lsp(script=SCRIPT)
async def test_review_candidate_is_held_with_actions(client: LanguageClient):
    doc, diagnostic = await hold_one(client)
    assert diagnostic.source == "sandgate"
    assert diagnostic.message.startswith("AI suggestion held for review")
    assert "B602" in diagnostic.message
    # The whole line: a client whose cursor cannot sit past the last character reaches it too.
    assert diagnostic.range == types.Range(start=types.Position(line=4, character=0), end=doc.end())
    token = diagnostic.data["token"]
    assert isinstance(token, str) and len(token) >= 24

    actions = await code_actions(client, doc, [diagnostic])
    assert [a.title for a in actions] == [f"Review and insert “{RISKY}”…", f"Discard “{RISKY}”"]
    review, discard = actions
    assert review.command.command == "sandgate.approve" and list(review.command.arguments) == [{"token": token}]
    assert discard.command.command == "sandgate.discard" and list(discard.command.arguments) == [{"token": token}]
    (edit,) = edits_of(review.edit, doc.uri)
    assert edit.new_text == RISKY
    if client.profile == "visual-studio-code":  # the client supports change annotations
        (annotation,) = review.edit.change_annotations.values()
        assert annotation.needs_confirmation is True
        assert edit.annotation_id in review.edit.change_annotations
    else:
        assert review.edit.change_annotations is None

    state = await pending(client)
    (item,) = state["items"]
    assert item["token"] == token and item["text"] == RISKY and item["decision"] == "review"
    assert item["uri"] == doc.uri and item["reasons"] and item["findings"] and item["createdAt"]
    await wait_for(lambda: client.statuses[-1]["pending"] == 1)


@pytest.mark.lsp(script=SCRIPT)
async def test_approval_inserts_exactly_the_vetted_text_and_is_recorded(client: LanguageClient):
    doc, diagnostic = await hold_one(client)
    review = review_action(await code_actions(client, doc, [diagnostic]))
    doc.apply(edits_of(review.edit, doc.uri))
    assert doc.text == RUN_DOC + RISKY
    result = await command(client, *[review.command.command], *review.command.arguments)
    assert result["ok"] is True and result["sha256"] == sha256(RISKY)

    records = audit_records(client.workspace)
    (approval,) = [r for r in records if r["event"] == "approval"]
    assert approval["content_sha256"] == sha256(RISKY)
    assert approval["policy_digest"] == client.statuses[-1]["policyDigest"]
    assert approval["actor"]["client"] == f"pytest-{client.profile}"
    assert any(f["rule"] == "B602" for f in approval["findings"])
    (decision,) = [r for r in records if r["event"] == "decision"]
    assert decision["decision"] == "review" and decision["content_sha256"] == sha256(RISKY)

    await wait_for(lambda: not held_diagnostics(doc))
    state = await pending(client)
    assert state["items"] == [] and state["recent"][0]["outcome"] == "approved"
    await wait_for(lambda: client.statuses[-1]["pending"] == 0)

    # Replayed: the same token again.
    with pytest.raises(Exception, match=r"replayed"):
        await command(client, "sandgate.approve", *review.command.arguments)
    assert [r["reason"] for r in audit_records(client.workspace) if r["event"] == "approval-refused"] == ["replayed"]


@pytest.mark.lsp(script=SCRIPT)
async def test_altered_text_is_refused(client: LanguageClient):
    doc, diagnostic = await hold_one(client)
    review = review_action(await code_actions(client, doc, [diagnostic]))
    doc.apply(edits_of(review.edit, doc.uri))
    doc.replace(RUN_DOC + RISKY.replace("cmd", "cmd + '; rm -rf ~'"))  # the inserted suggestion, edited
    with pytest.raises(Exception, match=r"altered.*SHA-256"):
        await command(client, "sandgate.approve", *review.command.arguments)
    # Nothing approved, the suggestion is still held; undone to the vetted text, it approves.
    assert (await pending(client))["items"][0]["token"] == diagnostic.data["token"]
    doc.replace(RUN_DOC + RISKY)
    assert (await command(client, "sandgate.approve", *review.command.arguments))["ok"] is True


@pytest.mark.lsp(script=SCRIPT)
async def test_something_else_written_at_the_spot_drops_the_suggestion(client: LanguageClient):
    doc, diagnostic = await hold_one(client)
    review = review_action(await code_actions(client, doc, [diagnostic]))
    (edit,) = edits_of(review.edit, doc.uri)
    edit.new_text = RISKY.replace("cmd", "cmd + '; rm -rf ~'")
    doc.apply([edit])
    await wait_for(lambda: not held_diagnostics(doc))
    with pytest.raises(Exception, match=r"stale.*superseded"):
        await command(client, "sandgate.approve", *review.command.arguments)
    assert (await pending(client))["recent"][0]["outcome"] == "superseded"


@pytest.mark.lsp(script=SCRIPT)
async def test_discarded_then_stale(client: LanguageClient):
    doc, diagnostic = await hold_one(client)
    token = {"token": diagnostic.data["token"]}
    assert (await command(client, "sandgate.discard", token))["ok"] is True
    await wait_for(lambda: not held_diagnostics(doc))
    doc.replace(RUN_DOC + RISKY)
    with pytest.raises(Exception, match=r"stale"):
        await command(client, "sandgate.approve", token)
    with pytest.raises(Exception, match=r"stale"):
        await command(client, "sandgate.approve", {"token": "forged-by-the-model"})
    assert (await pending(client))["recent"][0]["outcome"] == "discarded"


@pytest.mark.lsp(script=SCRIPT)
async def test_policy_change_invalidates_the_approval(client: LanguageClient):
    doc, diagnostic = await hold_one(client)
    review = review_action(await code_actions(client, doc, [diagnostic]))
    digest = client.statuses[-1]["policyDigest"]
    policy = client.workspace / ".sandgate" / "policy.toml"
    policy.write_text('version = 1\nextends = "permissive"\n\n[sandbox.limits]\nwall_time_s = 4\n')
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=policy.as_uri(), type=types.FileChangeType.Changed)]
        )
    )
    await wait_for(lambda: client.statuses[-1]["policyDigest"] != digest)
    doc.apply(edits_of(review.edit, doc.uri))
    with pytest.raises(Exception, match=r"policy changed"):
        await command(client, "sandgate.approve", *review.command.arguments)
    with pytest.raises(Exception, match=r"stale"):  # and the token is gone
        await command(client, "sandgate.approve", *review.command.arguments)


@pytest.mark.lsp(script=SCRIPT)
async def test_blocked_candidate_is_never_insertable(client: LanguageClient):
    doc = Doc(client, client.workspace / "leak.py", "def leak():\n    ")
    result = await inline(client, doc)
    assert list(result.items) == []
    (diagnostic,) = await wait_for(lambda: by_code(doc.diagnostics(), "blocked"))
    assert diagnostic.message.startswith("AI suggestion blocked")
    assert "aws-access-key" in diagnostic.message
    assert "AKIAZ3MSJV7WQLPX4TQB" not in diagnostic.message  # the secret is not repeated
    assert await code_actions(client, doc, [diagnostic]) == []
    state = await pending(client)
    assert state["items"] == []
    assert state["recent"][0]["decision"] == "block" and state["recent"][0]["token"] is None
    (decision,) = [r for r in audit_records(client.workspace) if r["event"] == "decision"]
    assert decision["decision"] == "block"


FLASK_DOC = "from flask import Flask\n\napp = Flask(__name__)\n\n\ndef serve():\n    "
NOSEC = 'app.run(host="0.0.0.0", debug=True)  # nosec B201'


@pytest.mark.lsp(script={"def serve()": NOSEC})
async def test_ghost_text_cannot_turn_bandit_off_with_nosec(client: LanguageClient):
    """`# nosec` counts on the user's own lines only: in ghost text it is read as any other text."""
    doc = Doc(client, client.workspace / "web.py", FLASK_DOC)
    result = await inline(client, doc)
    assert list(result.items) == []
    # Withheld: held or blocked as the test policy rates B201 (without the `# nosec` it is the same).
    (diagnostic,) = await wait_for(
        lambda: by_code(doc.diagnostics(), "held-for-review") + by_code(doc.diagnostics(), "blocked")
    )
    assert "B201 (line 1 of the suggestion)" in diagnostic.message
    (decision,) = [r for r in audit_records(client.workspace) if r["event"] == "decision"]
    assert decision["decision"] in ("review", "block")
    assert [(f["rule"], f["origin"]) for f in decision["findings"] if f["source"] == "bandit"][:1] == [
        ("B201", "suggestion")
    ]
