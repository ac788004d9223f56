"""Telemetry from the real language server (`sandgate serve`) to a loopback OTLP/HTTP receiver:
the suggestion span with the model call (GenAI CLIENT span) and the vet under it, the events of
a request's life and of an approval, and no prompt or code text by default."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from opentelemetry.proto.trace.v1.trace_pb2 import Span

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from lsp_helpers import Doc, audit_records, by_code, code_actions, command, edits_of, inline, session, wait_for  # noqa: E402
from openai_server import OpenAIServer  # noqa: E402

from sandgate.telemetry import names as n  # noqa: E402

RISKY = "return subprocess.call(cmd, shell=True)"


def document(seed: str) -> str:
    return f"import subprocess\n\n# {seed}\n\n\ndef run(cmd):\n    "


def settings(**extra):
    return {"settings": {"model": {"stream": False}, **extra}, "script": {"def run(cmd)": RISKY}}


def env_for(url: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_BLRP_SCHEDULE_DELAY": "200",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


async def approve_one(client, seed: str) -> tuple[Doc, str]:
    doc = Doc(client, client.workspace / "run.py", document(seed))
    result = await inline(client, doc)
    assert list(result.items) == []
    (held,) = await wait_for(lambda: by_code(doc.diagnostics(), "held-for-review"))
    (review,) = [a for a in await code_actions(client, doc, [held]) if a.title.startswith("Review and insert")]
    doc.apply(edits_of(review.edit, doc.uri))
    assert (await command(client, review.command.command, *review.command.arguments))["ok"] is True
    return doc, client.statuses[-1]["policyDigest"]


async def test_suggestion_model_vet_spans_and_events(tmp_path, otlp_receiver, seed):
    got = otlp_receiver
    workspace = tmp_path / "ws"
    (workspace / ".sandgate").mkdir(parents=True)
    with OpenAIServer() as model:
        async with session(workspace, model, env_for(got.url), settings()) as client:
            _, digest = await approve_one(client, seed)
            user = [r for r in audit_records(workspace) if r["event"] == "approval"][0]["decided_by"]
        # The server flushed at shutdown; the receiver has it all.
        got.wait_for(
            lambda r: (
                any(s.name == "sandgate.suggestion" for s in r.spans)
                and any(x.event_name == n.EVENT_APPROVAL for x in r.logs)
            )
        )

    suggestion = got.span("sandgate.suggestion")
    call = got.span("chat fake-model")
    vet = got.span("sandgate.vet")
    assert suggestion.kind == Span.SPAN_KIND_SERVER and call.kind == Span.SPAN_KIND_CLIENT
    assert call.parent_span_id == suggestion.span_id and vet.parent_span_id == suggestion.span_id
    assert call.trace_id == vet.trace_id == suggestion.trace_id
    checks = [s for s in got.spans if s.name.startswith("sandgate.check") and s.parent_span_id == vet.span_id]
    assert {s.name for s in checks} >= {"sandgate.check bandit", "sandgate.check secrets"}

    request = got.attrs(suggestion.attributes)
    request_id = request[n.REQUEST_ID]
    assert request[n.CODE_FILE_PATH] == "run.py" and request[n.LANGUAGE] == "python"
    assert request[n.PROMPT + ".length"] > 0 and len(request[n.PROMPT + ".sha256"]) == 64
    model_attrs = got.attrs(call.attributes)
    assert model_attrs[n.GEN_AI_OPERATION_NAME] == "chat"
    assert model_attrs[n.GEN_AI_PROVIDER_NAME] == "openai"
    assert model_attrs[n.GEN_AI_REQUEST_MODEL] == "fake-model"
    assert model_attrs[n.GEN_AI_RESPONSE_MODEL] == "fake-model"
    assert model_attrs[n.GEN_AI_RESPONSE_ID] == "chatcmpl-fake"
    assert model_attrs[n.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    assert model_attrs[n.GEN_AI_USAGE_INPUT_TOKENS] == 1 and model_attrs[n.GEN_AI_USAGE_OUTPUT_TOKENS] == 1
    assert model_attrs[n.SERVER_ADDRESS] == "127.0.0.1" and model_attrs[n.SERVER_PORT] == model.port
    vet_attrs = got.attrs(vet.attributes)
    assert vet_attrs[n.REQUEST_ID] == request_id and vet_attrs[n.DECISION] == "review"

    requested = got.attrs(got.event(n.EVENT_SUGGESTION_REQUESTED).attributes)
    assert requested[n.REQUEST_ID] == request_id and requested[n.TRIGGER] == "automatic"
    response = got.attrs(got.event(n.EVENT_MODEL_RESPONSE).attributes)
    assert response[n.REQUEST_ID] == request_id and response[n.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    decision = got.attrs(got.event(n.EVENT_DECISION).attributes)
    assert decision[n.REQUEST_ID] == request_id and decision[n.DECISION] == "review"
    assert decision[n.DECISION_SOURCE] == "policy" and decision[n.POLICY_DIGEST] == digest
    approval = got.attrs(got.event(n.EVENT_APPROVAL).attributes)
    assert approval[n.REQUEST_ID] == request_id and approval[n.DECISION_SOURCE] == "user"
    assert approval[n.DECIDED_BY] == user and user.startswith("user:")
    assert approval[n.POLICY_DIGEST] == digest
    loaded = got.attrs(got.events(n.EVENT_POLICY_LOADED)[-1].attributes)
    assert loaded[n.POLICY_DIGEST] == digest and loaded[n.POLICY_PRESET] == "permissive"
    # The request's events sit in the request's trace.
    assert got.event(n.EVENT_MODEL_RESPONSE).trace_id == suggestion.trace_id

    # Nothing of the prompt or the code leaves by default.
    raw = got.raw_bytes()
    assert seed.encode() not in raw
    assert RISKY.encode() not in raw and b"def run(cmd)" not in raw


async def test_setting_endpoint_wins_and_policy_errors_are_events(tmp_path, otlp_receiver, seed):
    got = otlp_receiver
    workspace = tmp_path / "ws"
    (workspace / ".sandgate").mkdir(parents=True)
    (workspace / ".sandgate" / "policy.toml").write_text(
        'version = 1\nextends = "permissive"\n[decision]\ndefault = "maybe"\n'
    )
    with OpenAIServer() as model:
        # The environment points at a closed port; the setting at the receiver.
        options = settings(telemetry={"endpoint": got.url})
        async with session(workspace, model, env_for("http://127.0.0.1:9"), options) as client:
            doc = Doc(client, workspace / "run.py", document(seed))
            await inline(client, doc)
        got.wait_for(
            lambda r: (
                any(x.event_name == n.EVENT_POLICY_ERROR for x in r.logs)
                and any(s.name == "sandgate.suggestion" for s in r.spans)
            )
        )
    error = got.attrs(got.events(n.EVENT_POLICY_ERROR)[0].attributes)
    assert error[n.POLICY_PATH] == ".sandgate/policy.toml" and error[n.POLICY_SOURCE] == "workspace"
    assert "decision.default" in error[n.ERROR_MESSAGE]
    loaded = got.attrs(got.events(n.EVENT_POLICY_LOADED)[0].attributes)
    assert loaded[n.POLICY_PRESET] == "strict"  # the policy error: the strict preset applies
    assert seed.encode() not in got.raw_bytes()


async def test_audit_export_shows_provenance(tmp_path, seed):
    workspace = tmp_path / "ws"
    (workspace / ".sandgate").mkdir(parents=True)
    with OpenAIServer() as model:
        async with session(workspace, model, {}, settings()) as client:
            await approve_one(client, seed)
    records = audit_records(workspace)
    (decision,) = [r for r in records if r["event"] == "decision"]
    (approval,) = [r for r in records if r["event"] == "approval"]
    assert decision["request_id"] == approval["request_id"] and decision["request_id"].startswith("req-")
    assert decision["model"] == "fake-model" and decision["file"] == "run.py" and decision["decided_by"] == "policy"
    assert approval["decided_by"].startswith("user:") and approval["content_sha256"] == decision["content_sha256"]
    assert approval["policy_digest"] == decision["policy_digest"]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandgate",
            "audit",
            "export",
            "--format",
            "sarif",
            str(workspace / ".sandgate" / "audit.jsonl"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    results = json.loads(out.stdout)["runs"][0]["results"]
    props = [r["properties"] for r in results if r["ruleId"] == "bandit/B602"][0]
    assert props["requestId"] == decision["request_id"] and props["model"] == "fake-model"
    assert props["approver"] == approval["decided_by"] and props["outcome"] == "approved"
