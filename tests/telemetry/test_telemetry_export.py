"""Spans and events reach a real OTLP/HTTP receiver, with the right names and attributes."""

from __future__ import annotations

import hashlib

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from sandgate.telemetry import configure
from sandgate.telemetry import names as n

EXPECTED_EVENTS = {
    n.EVENT_SUGGESTION_REQUESTED,
    n.EVENT_MODEL_RESPONSE,
    n.EVENT_FINDING,
    n.EVENT_SANDBOX_OUTCOME,
    n.EVENT_NETWORK_DECISION,
    n.EVENT_DECISION,
    n.EVENT_APPROVAL,
    n.EVENT_DISCARD,
    n.EVENT_POLICY_LOADED,
    n.EVENT_POLICY_ERROR,
}


def _export(flow, **kwargs):
    tel = configure(**kwargs)
    assert tel.enabled
    flow(tel)
    assert tel.force_flush()
    tel.shutdown()


def test_spans_have_names_kinds_parents_and_genai_attributes(otel_env, flow):
    _export(flow)
    got = otel_env
    suggestion = got.span("sandgate.suggestion")
    model = got.span("chat gpt-test")
    vet = got.span("sandgate.vet")
    check = got.span("sandgate.check bandit")
    run = got.span("sandgate.sandbox.run")

    assert suggestion.kind == Span.SPAN_KIND_SERVER
    assert model.kind == Span.SPAN_KIND_CLIENT
    # The tree: model call and vet under the request; check and run under the vet.
    assert model.parent_span_id == suggestion.span_id
    assert vet.parent_span_id == suggestion.span_id
    assert check.parent_span_id == vet.span_id
    assert run.parent_span_id == vet.span_id
    assert {s.trace_id for s in (suggestion, model, vet, check, run)} == {suggestion.trace_id}

    assert got.attrs(model.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-test",
        "gen_ai.request.max_tokens": 128,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.response.model": "gpt-test-2025",
        "gen_ai.response.id": "resp-9",
        "gen_ai.usage.input_tokens": 42,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.response.finish_reasons": ["stop"],
        "server.address": "127.0.0.1",
        "server.port": 9,
    }
    assert got.attrs(check.attributes) == {"sandgate.check.name": "bandit", "sandgate.findings.count": 1}
    assert got.attrs(run.attributes) == {
        "sandgate.sandbox.backend": "bwrap",
        "sandgate.request.id": "req-1",
        "sandgate.sandbox.outcome": "completed",
        "sandgate.sandbox.exit_code": 0,
        "sandgate.sandbox.duration_ms": 12.5,
    }
    vet_attrs = got.attrs(vet.attributes)
    assert vet_attrs["sandgate.decision"] == "review" and vet_attrs["sandgate.decided_by"] == "policy"
    assert "sandgate.content.text" not in vet_attrs
    assert got.resources and all(r["service.name"] == "sandgate" for r in got.resources)


def test_events_have_names_sources_and_trace_context(otel_env, flow):
    _export(flow)
    got = otel_env
    assert {r.event_name for r in got.logs} == EXPECTED_EVENTS
    assert all(r.event_name.startswith("sandgate.") for r in got.logs)

    decision = got.attrs(got.event(n.EVENT_DECISION).attributes)
    assert decision[n.DECISION] == "review"
    assert decision[n.DECISION_SOURCE] == "policy"
    assert decision[n.POLICY_DIGEST] == "cd" * 32
    assert decision[n.DECISION_RULES] == ["hold-high"]
    approval = got.attrs(got.event(n.EVENT_APPROVAL).attributes)
    assert approval[n.DECIDED_BY] == "user:alice" and approval[n.DECISION_SOURCE] == "user"
    discard = got.attrs(got.event(n.EVENT_DISCARD).attributes)
    assert discard[n.DECISION_SOURCE] == "managed"
    assert got.attrs(got.event(n.EVENT_POLICY_LOADED).attributes)[n.POLICY_DIGEST] == "cd" * 32
    error = got.event(n.EVENT_POLICY_ERROR)
    assert error.severity_text == "ERROR" and "rules[0]" in got.attrs(error.attributes)[n.ERROR_MESSAGE]

    finding = got.attrs(got.event(n.EVENT_FINDING).attributes)
    assert finding[n.FINDING_RULE] == "B602" and finding[n.FINDING_SEVERITY] == "high"
    assert finding[n.FINDING_CWE] == 78 and finding[n.FINDING_LINE] == 3
    network = got.attrs(got.event(n.EVENT_NETWORK_DECISION).attributes)
    assert network == {
        n.REQUEST_ID: "req-1",
        n.NETWORK_HOST: "example.com",
        n.NETWORK_PORT: 443,
        n.NETWORK_ALLOWED: False,
        n.NETWORK_RULE: "deny-all",
    }
    outcome = got.attrs(got.event(n.EVENT_SANDBOX_OUTCOME).attributes)
    assert outcome[n.SANDBOX_OUTCOME] == "completed"

    # An event emitted inside a span carries that span's ids.
    check = got.span("sandgate.check bandit")
    finding_record = got.event(n.EVENT_FINDING)
    assert finding_record.trace_id == check.trace_id and finding_record.span_id == check.span_id
    assert all(r.time_unix_nano > 0 for r in got.logs)


def test_no_prompt_or_code_leaves_by_default(otel_env, flow, seed):
    _export(flow)
    got = otel_env
    assert got.spans and got.logs
    # Not in any decoded attribute, and not anywhere in the bytes on the wire.
    assert seed.encode() not in got.raw_bytes()
    requested = got.attrs(got.event(n.EVENT_SUGGESTION_REQUESTED).attributes)
    prompt = f"def handler():\n    # {seed} prompt\n"
    assert requested["sandgate.prompt.length"] == len(prompt)
    assert requested["sandgate.prompt.sha256"] == hashlib.sha256(prompt.encode()).hexdigest()
    assert "sandgate.prompt.text" not in requested
    response = got.attrs(got.event(n.EVENT_MODEL_RESPONSE).attributes)
    assert set(response) >= {"sandgate.suggestion.length", "sandgate.suggestion.sha256"}
    assert "sandgate.suggestion.text" not in response
    assert n.FINDING_MESSAGE not in got.attrs(got.event(n.EVENT_FINDING).attributes)


def test_content_leaves_only_when_switched_on(otel_env, flow, seed):
    _export(flow, export_content=True)
    got = otel_env
    assert seed.encode() in got.raw_bytes()
    requested = got.attrs(got.event(n.EVENT_SUGGESTION_REQUESTED).attributes)
    assert seed in requested["sandgate.prompt.text"]
    assert seed in got.attrs(got.event(n.EVENT_MODEL_RESPONSE).attributes)["sandgate.suggestion.text"]
    assert seed in got.attrs(got.event(n.EVENT_SANDBOX_OUTCOME).attributes)["sandgate.sandbox.stdout.text"]
    assert seed in got.attrs(got.event(n.EVENT_FINDING).attributes)[n.FINDING_MESSAGE]
    assert seed in got.attrs(got.span("sandgate.vet").attributes)["sandgate.content.text"]


def test_switch_can_flip_at_runtime(otel_env, seed):
    got = otel_env
    # A policy reload flips `export_content` on a live Telemetry.
    tel = configure()
    tel.suggestion_requested(request_id="a", prompt=seed + " first")
    tel.export_content = True
    tel.suggestion_requested(request_id="b", prompt=seed + " second")
    tel.force_flush()
    tel.shutdown()
    by_id = {got.attrs(r.attributes)[n.REQUEST_ID]: got.attrs(r.attributes) for r in otel_env.logs}
    assert "sandgate.prompt.text" not in by_id["a"]
    assert by_id["b"]["sandgate.prompt.text"] == seed + " second"


def test_failed_model_call_marks_span_as_error(otel_env, flow):
    got = otel_env
    tel = configure()
    with pytest.raises(TimeoutError):
        flow(tel, fail_model=True)
    tel.force_flush()
    tel.shutdown()
    model = otel_env.span("chat gpt-test")
    assert model.status.code == Status.STATUS_CODE_ERROR
    assert got.attrs(model.attributes)["error.type"] == "TimeoutError"
    assert [e.name for e in model.events] == ["exception"]
    assert otel_env.span("sandgate.suggestion").status.code == Status.STATUS_CODE_ERROR


def test_traces_only_endpoint_exports_no_events(otel_env, monkeypatch, flow):
    url = otel_env.url
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url + "/v1/traces")
    _export(flow)
    assert otel_env.spans and not otel_env.logs
    assert set(otel_env.paths) == {"/v1/traces"}


def test_endpoint_argument_overrides_environment(otel_env, monkeypatch, flow):
    url = otel_env.url
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    _export(flow, endpoint=url + "/")
    assert otel_env.spans and otel_env.logs
    assert set(otel_env.paths) == {"/v1/traces", "/v1/logs"}
