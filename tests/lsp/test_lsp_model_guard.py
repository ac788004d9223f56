"""What reaches the model (issue 6): only an endpoint the policy allows, never an excluded
file's text, never a secret. The fake model server records every request body it receives."""

from __future__ import annotations

import json

import pytest
from lsp_helpers import Doc, code_actions, command, inline, session, wait_for
from lsprotocol import types
from pytest_lsp import LanguageClient

AWS_KEY = "AKIAZ3MSJV7WQLPX4TQB"
PASSWORD = "hX9#kq2Lm8vZ4pQw7rT1"
BEFORE = f'import os\n\nAWS_ACCESS_KEY_ID = "{AWS_KEY}"\n\n\ndef add(a, b):\n    '
AFTER = f'\n\n\ndb_password = "{PASSWORD}"\n'
EXCLUDED_TEXT = "EXCLUDED-FILE-CONTENT-4471"
BALANCED = {"policy": {"preset": "balanced"}}


def bodies(fake_model) -> str:
    return json.dumps(fake_model.requests)


@pytest.mark.lsp(script={"def add(a, b)": "return a + b"}, settings=BALANCED)
async def test_secrets_before_and_after_the_cursor_never_reach_the_model(client: LanguageClient, fake_model):
    doc = Doc(client, client.workspace / "calc.py", BEFORE + AFTER)
    at = types.Position(line=BEFORE.count("\n"), character=4)
    result = await inline(client, doc, at)
    assert [item.insert_text for item in result.items] == ["return a + b"]
    (request,) = fake_model.requests
    sent = bodies(fake_model)
    assert AWS_KEY not in sent and PASSWORD not in sent
    prompt = request["messages"][-1]["content"]
    assert "<redacted:aws-access-key>" in prompt and "def add(a, b):\n    <CURSOR>" in prompt
    context = await wait_for(lambda: client.statuses[-1]["context"])
    assert context["redactions"] == 2 and "2 secrets redacted" in context["message"]
    assert context["excludedBy"] is None and not any("redacted" in r for r in client.statuses[-1]["failClosed"])


@pytest.mark.lsp(script={"*": "x = 1"}, settings=BALANCED)
async def test_a_secret_around_the_cursor_is_not_sent_in_halves(client: LanguageClient, fake_model):
    head, tail = AWS_KEY[:9], AWS_KEY[9:]
    text = f'def f():\n    return 1\n\nKEY = "{head}{tail}"\n'
    doc = Doc(client, client.workspace / "k.py", text)
    await inline(client, doc, types.Position(line=3, character=len('KEY = "') + len(head)))
    sent = bodies(fake_model)
    assert fake_model.requests and head not in sent and tail not in sent
    assert "def f():" in sent  # the rest of the file still goes


@pytest.mark.lsp(script={"*": "x = 1"}, settings=BALANCED)
@pytest.mark.parametrize("name", ["secrets/config.py", ".env", "deploy/.env.production"])
async def test_excluded_files_are_never_sent(vscode_client: LanguageClient, fake_model, name):
    client = vscode_client
    doc = Doc(client, client.workspace / name, f'TOKEN = "{EXCLUDED_TEXT}"\n')
    assert await inline(client, doc) is None
    status = await wait_for(lambda: client.statuses[-1]["context"] and client.statuses[-1])
    assert status["context"]["path"] == name and status["context"]["excludedBy"] in (
        "**/secrets/**",
        "**/.env",
        "**/.env.*",
    )
    (reason,) = [r for r in status["failClosed"] if "files.exclude" in r]
    assert reason.startswith("no suggestions here: files.exclude") and "keeps this file from the model" in reason
    # "Fix with AI" on the same file: refused, and still nothing sent.
    result = await command(
        client,
        "sandgate.fixWithAI",
        {"uri": doc.uri, "version": 1, "finding": {"source": "bandit", "rule": "B105", "line": 1, "endLine": 1}},
    )
    assert result["offered"] is False and "files.exclude" in result["message"]
    assert fake_model.requests == [] and EXCLUDED_TEXT not in bodies(fake_model)
    # A file that is not excluded clears the reason.
    other = Doc(client, client.workspace / "ok.py", "x = 1\n")
    await inline(client, other)
    await wait_for(lambda: not any("files.exclude" in r for r in client.statuses[-1]["failClosed"]))
    assert EXCLUDED_TEXT not in bodies(fake_model)


@pytest.mark.lsp(script={"Problem on lines": "    return len(cmd)\n"}, settings=BALANCED)
async def test_fix_prompts_are_redacted(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    text = f'import subprocess\n\nAWS = "{AWS_KEY}"\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n'
    doc = Doc(client, client.workspace / "run.py", text)
    finding = {"source": "bandit", "rule": "B602", "line": 7, "endLine": 7, "message": "shell=True"}
    await command(client, "sandgate.fixWithAI", {"uri": doc.uri, "version": 1, "finding": finding})
    assert fake_model.requests and AWS_KEY not in bodies(fake_model)
    assert "shell=True" in bodies(fake_model)


@pytest.mark.lsp(settings={"model": {"baseUrl": "https://evil.example.com/v1"}, **BALANCED})
async def test_endpoint_outside_the_policy_is_refused_naming_the_rule(client: LanguageClient, fake_model):
    status = client.statuses[-1]
    assert status["provider"] == "missing"
    (reason,) = [r for r in status["failClosed"] if "model endpoint" in r]
    assert reason.startswith(
        "model endpoint https://evil.example.com/v1 refused by network.model_endpoints (policy); allowed: "
    )
    assert "https://api.openai.com/*" in reason
    warned = [
        m.message
        for m in client.messages
        if "network.model_endpoints" in m.message and not m.message.startswith("Sandgate fails closed")
    ]
    assert len(warned) == 1
    doc = Doc(client, client.workspace / "a.py", "x = 1\n")
    assert await inline(client, doc) is None
    assert fake_model.requests == []


@pytest.mark.lsp(settings={"model": {"baseUrl": "http://127.0.0.1:80@evil.example/v1"}, **BALANCED})
async def test_credentials_in_the_endpoint_cannot_smuggle_another_host(vscode_client: LanguageClient, fake_model):
    status = vscode_client.statuses[-1]
    assert status["provider"] == "missing"
    (reason,) = [r for r in status["failClosed"] if "model endpoint" in r]
    assert "refused by network.model_endpoints (policy)" in reason and "credentials" in reason
    assert "127.0.0.1:80@" not in reason  # the credentials part is not repeated
    doc = Doc(vscode_client, vscode_client.workspace / "a.py", "x = 1\n")
    assert await inline(vscode_client, doc) is None
    assert fake_model.requests == []


@pytest.mark.lsp(settings={"model": {"baseUrl": "http://[::1]:8000/v1"}, **BALANCED})
async def test_ipv6_loopback_endpoint_is_allowed(vscode_client: LanguageClient):
    status = vscode_client.statuses[-1]
    assert status["provider"] == "configured"
    assert not any("model endpoint" in r for r in status["failClosed"])


@pytest.mark.lsp(settings={"model": {"baseUrl": "https://api.openai.com:443/v1"}, **BALANCED})
async def test_the_default_port_spelled_out_is_the_same_endpoint(vscode_client: LanguageClient):
    status = vscode_client.statuses[-1]
    assert status["provider"] == "configured"
    assert not any("model endpoint" in r for r in status["failClosed"])


@pytest.mark.lsp(settings={"model": {"baseUrl": "https://api.openai.com:8443/v1"}, **BALANCED})
async def test_another_port_on_the_allowed_host_is_refused(vscode_client: LanguageClient):
    status = vscode_client.statuses[-1]
    assert status["provider"] == "missing"
    (reason,) = [r for r in status["failClosed"] if "model endpoint" in r]
    assert reason.startswith("model endpoint https://api.openai.com:8443/v1 refused by network.model_endpoints")


async def test_managed_policy_pins_the_endpoint(tmp_path, fake_model):
    managed = tmp_path / "managed.toml"
    managed.write_text('version = 1\n[network]\nmodel_endpoints = ["https://llm.corp.example/*"]\n')
    workspace = tmp_path / "ws"
    (workspace / ".sandgate").mkdir(parents=True)
    fake_model.set_script({"*": "x = 1"})
    async with session(workspace, fake_model, {"SANDGATE_MANAGED_POLICY": str(managed)}) as client:
        status = client.statuses[-1]
        assert status["provider"] == "missing"
        (reason,) = [r for r in status["failClosed"] if r.startswith("model endpoint")]
        assert f"model endpoint {fake_model.base_url} refused by network.model_endpoints (managed policy)" in reason
        doc = Doc(client, workspace / "a.py", "x = 1\n")
        assert await inline(client, doc) is None
    assert fake_model.requests == []


async def test_a_changed_managed_policy_applies_without_a_restart(tmp_path, fake_model):
    managed = tmp_path / "managed.toml"
    managed.write_text('version = 1\n[network]\nmodel_endpoints = ["https://llm.corp.example/*"]\n')
    workspace = tmp_path / "ws"
    (workspace / ".sandgate").mkdir(parents=True)
    fake_model.set_script({"*": "x = 1"})
    env = {"SANDGATE_MANAGED_POLICY": str(managed), "SANDGATE_MANAGED_POLL_MS": "100"}
    async with session(workspace, fake_model, env) as client:
        assert client.statuses[-1]["provider"] == "missing"
        digest = client.statuses[-1]["policyDigest"]
        managed.write_text('version = 1\n[network]\nmodel_endpoints = ["http://127.0.0.1:*"]\n')
        status = await wait_for(lambda: client.statuses[-1]["provider"] == "configured" and client.statuses[-1])
        assert status["policyDigest"] != digest
        assert not any(r.startswith("model endpoint") for r in status["failClosed"])
        doc = Doc(client, workspace / "a.py", "x = 1\n")
        result = await inline(client, doc)
        assert result is not None and fake_model.requests
        # A managed file that turns unreadable: the strict preset applies, said on the status.
        managed.write_text("version = [\n")
        await wait_for(lambda: any("policy error" in r for r in client.statuses[-1]["failClosed"]))


OUTSIDE_TEXT = "OUTSIDE-EXCLUDED-CONTENT-5823"


@pytest.mark.lsp(script={"*": "x = 1"}, settings=BALANCED)
@pytest.mark.parametrize("name", ["secrets/db.py", ".ssh/helper.py", ".aws/sub/cfg.py", "proj/.env"])
async def test_excluded_folders_keep_files_outside_the_workspace_from_the_model(
    vscode_client: LanguageClient, fake_model, tmp_path, name
):
    """A file outside the workspace folder is matched by every trailing part of its path: an
    excluded folder (`**/secrets/**`, `**/.ssh/**`) keeps it home wherever it lives."""
    client = vscode_client
    doc = Doc(client, tmp_path / "elsewhere" / name, f'TOKEN = "{OUTSIDE_TEXT}"\ndef add(a, b):\n    ')
    assert await inline(client, doc, invoked=True) is None
    status = await wait_for(lambda: client.statuses[-1]["context"] and client.statuses[-1])
    assert status["context"]["excludedBy"] in ("**/secrets/**", "**/.ssh/**", "**/.aws/**", "**/.env")
    # "Fix with AI" on one of its findings, as the editor offers it: refused, nothing sent.
    diagnostic = (await wait_for(lambda: doc.diagnostics()))[0]
    actions = await code_actions(client, doc, [diagnostic])
    (ask,) = [a for a in actions if a.title.startswith("Fix with AI")]
    result = await command(client, ask.command.command, {**ask.command.arguments[0], "quiet": True})
    assert result["offered"] is False and "files.exclude" in result["message"]
    assert fake_model.requests == [] and OUTSIDE_TEXT not in bodies(fake_model)
    # The same folder without the excluded part is sent: the test can tell the two apart.
    plain = Doc(client, tmp_path / "elsewhere" / "proj" / "calc.py", f'NOTE = "{OUTSIDE_TEXT}"\ndef add(a, b):\n    ')
    await inline(client, plain, invoked=True)
    assert fake_model.requests and OUTSIDE_TEXT in bodies(fake_model)
    assert "File: calc.py" in bodies(fake_model)  # the prompt still names the file by its name


@pytest.mark.lsp(script={"*": "x = 1"}, settings=BALANCED)
async def test_a_link_outside_the_workspace_to_an_excluded_folder_is_not_sent(
    vscode_client: LanguageClient, fake_model, tmp_path
):
    client = vscode_client
    target = tmp_path / "home" / ".ssh" / "helper.py"
    target.parent.mkdir(parents=True)
    target.write_text(f'API = "{OUTSIDE_TEXT}"\n')
    link = tmp_path / "tools" / "helper.py"
    link.parent.mkdir()
    link.symlink_to(target)
    doc = Doc(client, link, f'API = "{OUTSIDE_TEXT}"\ndef add(a, b):\n    ', write=False)
    assert await inline(client, doc, invoked=True) is None
    assert fake_model.requests == [] and OUTSIDE_TEXT not in bodies(fake_model)


# -- credentials Sandgate's own checks flag (review30 3) -----------------------------------------

CRED_PW = "6jVnkdCl3tCWzTOnQ8VNrgFpOGjvJMA1n1leiU16"
CRED_SK = "Q8VNrgFpOGjvJMA1n1leiU166jVnkdCl3tCWzTOn"
CRED_BEARER = "ZTOnQ8VNrgFpOGjvJMA1n1leiU166jVnkdCl3tCW"
CRED_ENV = "hunter22-prod"
CRED_HEAD = (
    "import os\n"
    f'os.environ["DB_PASSWORD"] = "{CRED_PW}"\n'
    f'os.environ.setdefault("SECRET_KEY", "{CRED_SK}")\n'
    f'H = {{"Authorization": "Bearer {CRED_BEARER}"}}\n'
    f'ENV_TEMPLATE = """\nDB_PASSWORD={CRED_ENV}\n"""\n'
    "\n"
    "def add(a, b):\n"
    "    "
)
CRED_TAIL = f'\n\n\nsettings = {{"db_password": "{CRED_ENV}"}}\n'
CREDENTIALS = (CRED_PW, CRED_SK, CRED_BEARER, CRED_ENV)


@pytest.mark.lsp(script={"def add(a, b)": "return a + b"}, settings=BALANCED)
async def test_credentials_the_checks_flag_never_reach_the_model(client: LanguageClient, fake_model):
    doc = Doc(client, client.workspace / "calc.py", CRED_HEAD + CRED_TAIL)
    result = await inline(client, doc, doc.at(len(CRED_HEAD)))
    assert [item.insert_text for item in result.items] == ["return a + b"]
    (request,) = fake_model.requests
    sent = bodies(fake_model)
    assert not [c for c in CREDENTIALS if c in sent]
    prompt = request["messages"][-1]["content"]
    assert 'os.environ["DB_PASSWORD"] = "<redacted:cred.hardcoded-password>"' in prompt
    assert '"Authorization": "Bearer <redacted:authorization-header>"' in prompt
    assert "\nDB_PASSWORD=<redacted:" in prompt
    assert "def add(a, b):\n    <CURSOR>" in prompt  # the cursor where it was, the lines kept
    context = await wait_for(lambda: client.statuses[-1]["context"])
    assert context["redactions"] == 5


@pytest.mark.lsp(script={"*": "return a + b"}, settings={"model": {"api": "llamacpp-infill"}, **BALANCED})
async def test_fim_prefix_and_suffix_carry_no_flagged_credential(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "calc.py", CRED_HEAD + CRED_TAIL)
    await inline(client, doc, doc.at(len(CRED_HEAD)))
    (body,) = fake_model.requests
    sent = body["input_prefix"] + body["input_suffix"]
    assert not [c for c in CREDENTIALS if c in sent]
    assert body["input_prefix"].endswith("def add(a, b):\n    ") and body["input_suffix"].startswith("\n\n\nsettings")
    assert body["input_prefix"].count("\n") == CRED_HEAD.count("\n")


@pytest.mark.lsp(script={"Problem on lines": "    return len(cmd)\n"}, settings=BALANCED)
async def test_fix_prompts_carry_no_flagged_credential(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    text = CRED_HEAD.replace("def add(a, b):\n    ", "") + (
        "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"
    )
    doc = Doc(client, client.workspace / "run.py", text)
    line = text.splitlines().index("    return subprocess.call(cmd, shell=True)") + 1
    finding = {"source": "bandit", "rule": "B602", "line": line, "endLine": line, "message": "shell=True"}
    await command(client, "sandgate.fixWithAI", {"uri": doc.uri, "version": 1, "finding": finding})
    assert fake_model.requests and "shell=True" in bodies(fake_model)
    assert not [c for c in CREDENTIALS if c in bodies(fake_model)]
