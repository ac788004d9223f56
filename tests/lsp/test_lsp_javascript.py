"""An inline completion in a TypeScript document, end to end through the real server and the
loopback model: the JS static checks decide what they find (SQL built from the request is blocked),
and the rest runs in the Node sandbox (a connection out is blocked). A TSX file, which Node cannot
run, is held for review with the reason said, unless the user's own setting
`languages.unvetted = "allow"` shows it; with the presets' "skip" the model is not asked for it.
"""

from __future__ import annotations

import pytest
from lsp_helpers import Doc, audit_records, by_code, inline, wait_for
from pytest_lsp import LanguageClient

BALANCED = {"policy": {"preset": "balanced"}}
REVIEW_POLICY = 'version = 1\nextends = "balanced"\n\n[languages]\nunvetted = "review"\n'

ROUTES = """import { Router, type Request, type Response } from 'express';
import { Pool } from 'pg';

const pool = new Pool({ connectionString: process.env.DATABASE_URL });
export const router = Router();

router.get('/users', async (req: Request, res: Response) => {
  """
INJECTION = "const { rows } = await pool.query(`SELECT * FROM users WHERE name = '${req.query.name}'`);"
SAFE = "const { rows } = await pool.query('SELECT * FROM users WHERE name = $1', [req.query.name]);"
PING = "import net from 'node:net';\n\nconst host: string = '203.0.113.9';\n"
CONNECT = "net.connect(4444, host).on('error', () => {});"


def rules(record: dict) -> list[str]:
    """The record's findings but the note on what was vetted (the route is still open below the cursor)."""
    return [f["rule"] for f in record["findings"] if f["source"] != "syntax"]


def decisions(client: LanguageClient) -> list[dict]:
    return [r for r in audit_records(client.workspace) if r["event"] == "decision"]


async def ask(client: LanguageClient, doc: Doc, answer: str, fake_model):
    fake_model.set_script({"*": answer})
    before = len(decisions(client))
    result = await inline(client, doc, invoked=True)
    await wait_for(lambda: len(decisions(client)) > before)
    return result, decisions(client)[-1]


def texts(result) -> list[str]:
    return [item.insert_text for item in (result.items if result else [])]


@pytest.mark.lsp(settings=BALANCED, policy=REVIEW_POLICY)
async def test_a_typescript_completion_is_checked_statically_and_run_in_the_node_sandbox(
    vscode_client: LanguageClient, fake_model
):
    client = vscode_client
    doc = Doc(client, client.workspace / "src" / "routes.ts", ROUTES, language="typescript")

    result, record = await ask(client, doc, INJECTION, fake_model)
    assert texts(result) == []
    assert record["decision"] == "block" and record["language"] == "typescript"
    assert [(f["rule"], f["language"], f["cwe"]) for f in record["findings"] if f["source"] != "syntax"] == [
        ("js.sql-injection", "typescript", 89)
    ]
    # The route is still open below the cursor: the region that parses was vetted, and said so.
    assert record["vetted"].startswith("vetted in lines 7–8") and "line 7 does not compile yet" in record["vetted"]
    (blocked,) = await wait_for(lambda: by_code(doc.diagnostics(), "blocked"))
    assert "SQL built from request data" in blocked.message

    result, record = await ask(client, doc, SAFE, fake_model)
    assert texts(result) == [SAFE]  # the static checks find nothing, and it ran in the Node sandbox
    assert record["decision"] == "allow" and "sandbox.unsupported-language" not in rules(record)
    assert not record["sandbox"].get("skipped"), record["sandbox"]
    # The record says which runtime ran it, as the sandbox's bootstrap reported it before the program.
    assert record["sandbox"]["runtime"] == "node" and record["sandbox"]["backend"] == "bwrap", record["sandbox"]

    # What it does when it runs: a connection out, seen by the sandbox and blocked.
    script = Doc(client, client.workspace / "ping.ts", PING, language="typescript")
    result, record = await ask(client, script, CONNECT, fake_model)
    assert texts(result) == [] and record["decision"] == "block", record
    denied = [f for f in record["findings"] if f["rule"] == "network.denied"]
    assert denied and denied[0]["language"] == "typescript", record["findings"]


@pytest.mark.lsp(settings=BALANCED, policy=REVIEW_POLICY)
async def test_a_tsx_completion_is_held_without_a_sandbox_run(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "src" / "routes.tsx", ROUTES, language="typescriptreact")
    result, record = await ask(client, doc, SAFE, fake_model)
    assert texts(result) == []  # nothing ran it: held, not shown
    assert record["decision"] == "review" and rules(record) == ["sandbox.unsupported-language"]
    assert record["sandbox"]["skipped"] == (
        "not run: TSX files (TypeScript with JSX) are not run in Sandgate's sandbox yet: Node runs TypeScript by "
        "stripping its types, but does not compile JSX; only the static checks vetted this suggestion"
    )
    (held,) = await wait_for(lambda: by_code(doc.diagnostics(), "held-for-review"))
    assert "TSX files (TypeScript with JSX) are not run in Sandgate's sandbox yet" in held.message
    assert "a person decides" in held.message


@pytest.mark.lsp(settings={**BALANCED, "languages": {"unvetted": "allow"}})
async def test_the_user_may_see_tsx_on_the_static_checks_alone(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "routes.tsx", ROUTES, language="typescriptreact")
    result, record = await ask(client, doc, SAFE, fake_model)
    assert texts(result) == [SAFE]
    assert record["decision"] == "allow"
    (note,) = [f for f in record["findings"] if f["source"] != "syntax"]
    assert note["rule"] == "sandbox.unsupported-language" and 'languages.unvetted = "allow"' in note["message"]
    result, record = await ask(client, doc, INJECTION, fake_model)
    assert texts(result) == [] and record["decision"] == "block"  # the static checks still decide


@pytest.mark.lsp(settings=BALANCED)
async def test_as_shipped_a_tsx_document_asks_no_model(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    fake_model.set_script({"*": SAFE})
    doc = Doc(client, client.workspace / "routes.tsx", ROUTES, language="typescriptreact")
    assert await inline(client, doc, invoked=True) is None and fake_model.requests == []
    status = await wait_for(lambda: client.statuses[-1].get("languages") and client.statuses[-1])
    (entry,) = status["languages"]
    assert entry["language"] == "typescript" and entry["staticOnly"] is True
    # The document's own code is still checked, by the JS checks: its diagnostics name the JS rule.
    agent = Doc(
        client,
        client.workspace / "agent.ts",
        "import https from 'node:https';\nexport const agent = new https.Agent({ rejectUnauthorized: false });\n",
        language="typescript",
    )
    (tls,) = await wait_for(lambda: by_code(agent.diagnostics(), "js.tls-off"))
    assert tls.range.start.line == 1 and "TLS certificate verification turned off" in tls.message
