"""A real OTLP/HTTP receiver on loopback that decodes the protobuf requests it is sent."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

# A string no code path produces by itself: seeded into prompts, code and output.
SEED = "ZQX-sandgate-secret-seed-7391"


def any_value(value):
    """An OTLP AnyValue as a plain Python value."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind is None:
        return None
    return getattr(value, kind)


def attrs(key_values) -> dict:
    return {kv.key: any_value(kv.value) for kv in key_values}


@dataclass
class Received:
    raw: list[bytes] = field(default_factory=list)
    spans: list = field(default_factory=list)  # opentelemetry.proto.trace.v1.Span
    logs: list = field(default_factory=list)  # opentelemetry.proto.logs.v1.LogRecord
    resources: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    attrs = staticmethod(attrs)

    def span(self, name: str):
        matches = [s for s in self.spans if s.name == name]
        assert len(matches) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans]}"
        return matches[0]

    def events(self, name: str) -> list:
        return [r for r in self.logs if r.event_name == name]

    def event(self, name: str):
        matches = self.events(name)
        assert len(matches) == 1, f"expected one event {name!r}, got {[r.event_name for r in self.logs]}"
        return matches[0]

    def raw_bytes(self) -> bytes:
        with self.lock:
            return b"".join(self.raw)

    def wait_for(self, predicate, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return
            time.sleep(0.02)
        raise AssertionError("the receiver did not get what was expected in time")


def _make_handler(received: Received):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            with received.lock:
                received.raw.append(body)
                received.paths.append(self.path)
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest.FromString(body)
                    for rs in request.resource_spans:
                        received.resources.append(attrs(rs.resource.attributes))
                        for ss in rs.scope_spans:
                            received.spans.extend(ss.spans)
                    reply = ExportTraceServiceResponse().SerializeToString()
                elif self.path == "/v1/logs":
                    request = ExportLogsServiceRequest.FromString(body)
                    for rl in request.resource_logs:
                        received.resources.append(attrs(rl.resource.attributes))
                        for sl in rl.scope_logs:
                            received.logs.extend(sl.log_records)
                    reply = ExportLogsServiceResponse().SerializeToString()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):  # keep test output clean
            pass

    return Handler


@pytest.fixture
def otlp_receiver():
    """The Received of a receiver (its `url` the base URL) running in a thread on 127.0.0.1."""
    received = Received()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(received))
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def otel_env(monkeypatch, otlp_receiver):
    """The standard environment pointing at the loopback receiver; yields the Received."""
    received = otlp_receiver
    for name in (
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_LOGS_EXPORTER",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", received.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return received


@pytest.fixture
def clean_otel_env(monkeypatch):
    """No OpenTelemetry configuration at all."""
    import os

    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name, raising=False)


def _flow(tel, seed: str = SEED, *, fail_model: bool = False) -> None:
    """One suggestion's life, instrumented the way the pipeline is meant to be."""
    from sandgate.findings import Finding, Level

    prompt = f"def handler():\n    # {seed} prompt\n"
    suggestion = f"    return '{seed} suggestion'\n"
    finding = Finding(
        source="bandit",
        rule="B602",
        severity=Level.HIGH,
        confidence=Level.MEDIUM,
        message=f"subprocess call with shell=True near {seed}",
        line=3,
        end_line=3,
        col=4,
        end_col=20,
        cwe=78,
    )
    with tel.suggestion_span(request_id="req-1", file="pkg/mod.py", language="python", trigger="inline", prompt=prompt):
        tel.suggestion_requested(
            request_id="req-1", file="pkg/mod.py", language="python", trigger="inline", prompt=prompt
        )
        with tel.model_span(
            provider="openai",
            request_model="gpt-test",
            server_address="127.0.0.1",
            server_port=9,
            max_tokens=128,
            temperature=0.2,
        ) as call:
            if fail_model:
                raise TimeoutError("model did not answer")
            call.set_model_response(
                response_model="gpt-test-2025",
                response_id="resp-9",
                input_tokens=42,
                output_tokens=7,
                finish_reasons=["stop"],
            )
        tel.model_response(
            request_id="req-1",
            model="gpt-test-2025",
            text=suggestion,
            finish_reasons=["stop"],
            input_tokens=42,
            output_tokens=7,
        )
        with tel.vet_span(file="pkg/mod.py", content=prompt + suggestion, request_id="req-1") as vet:
            with tel.check_span("bandit") as check:
                check.set_findings(1)
                tel.finding(request_id="req-1", finding=finding)
            with tel.sandbox_span(backend="bwrap", request_id="req-1") as run:
                run.set_sandbox_outcome("completed", exit_code=0, duration_ms=12.5)
                tel.network_decision(request_id="req-1", host="example.com", port=443, allowed=False, rule="deny-all")
                tel.sandbox_outcome(
                    request_id="req-1",
                    backend="bwrap",
                    outcome="completed",
                    exit_code=0,
                    duration_ms=12.5,
                    stdout=f"{seed} out",
                    stderr="",
                )
            vet.set_decision("review", decided_by="policy")
        tel.decision(
            request_id="req-1",
            decision="review",
            decided_by="policy",
            content_sha256="ab" * 32,
            policy_digest="cd" * 32,
            rules=["hold-high"],
            file="pkg/mod.py",
        )
    tel.approval(request_id="req-1", decided_by="user:alice", content_sha256="ab" * 32, policy_digest="cd" * 32)
    tel.discard(request_id="req-2", decided_by="managed-policy", content_sha256="ef" * 32)
    tel.policy_loaded(digest="cd" * 32, source="workspace", path=".sandgate/policy.toml", preset="balanced")
    tel.policy_error(message="rules[0].decision: not one of allow, review, block", path=".sandgate/policy.toml")


@pytest.fixture
def flow():
    return _flow


@pytest.fixture
def seed() -> str:
    return SEED
