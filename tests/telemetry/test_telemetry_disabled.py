"""With no exporter configured telemetry costs next to nothing; nothing ever reaches stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import sandgate.telemetry.content as content
from sandgate.telemetry import DISABLED, configure
from sandgate.telemetry.spans import NOOP_SPAN

HERE = Path(__file__).parent


def test_no_endpoint_means_disabled(clean_otel_env):
    tel = configure(export_content=True)
    assert tel is DISABLED and not tel.enabled
    assert tel.vet_span(file="a.py", content="x") is NOOP_SPAN
    assert tel.model_span(provider="openai", request_model="m") is NOOP_SPAN


@pytest.mark.parametrize(
    "extra",
    [
        {"OTEL_SDK_DISABLED": "true"},
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"},
        # Console exporters write to stdout, which belongs to JSON-RPC: refused.
        {"OTEL_TRACES_EXPORTER": "console", "OTEL_LOGS_EXPORTER": "console"},
        # Only OTLP over HTTP with protobuf is supported.
        {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
    ],
)
def test_environment_can_turn_export_off(clean_otel_env, monkeypatch, extra):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    assert configure() is DISABLED


def test_disabled_helpers_never_hash_text(clean_otel_env, monkeypatch, flow):
    def boom(text):
        raise AssertionError("hashed text with telemetry off")

    monkeypatch.setattr(content, "sha256_hex", boom)
    flow(configure(export_content=True))  # would raise if any helper built text attributes


def test_disabled_overhead_is_about_a_method_call(clean_otel_env):
    tel = configure()

    def instrumented():
        with tel.vet_span(file="a.py", content="print(1)", request_id="r") as vet:
            with tel.check_span("bandit") as check:
                check.set_findings(0)
            with tel.sandbox_span(backend="bwrap") as run:
                run.set_sandbox_outcome("completed", exit_code=0)
            vet.set_decision("allow", decided_by="policy")
        tel.decision(request_id="r", decision="allow", decided_by="policy")
        tel.sandbox_outcome(request_id="r", backend="bwrap", outcome="completed", stdout="1\n")

    rounds = 20000
    best = float("inf")
    for _ in range(3):  # best of three: a busy CI core should not fail the claim
        start = time.perf_counter()
        for _ in range(rounds):
            instrumented()
        best = min(best, (time.perf_counter() - start) / rounds)
    # Four spans, three attribute calls and two events: measured about 1.5 µs here.
    assert best < 25e-6, f"{best * 1e6:.1f} µs per instrumented vet with telemetry off"


def _run_child(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, timeout=120, cwd=HERE
    )


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", **extra)
    return env


CHILD = """
    import sys
    from conftest import _flow
    from sandgate.telemetry import configure
    tel = configure()
    _flow(tel)
    tel.force_flush()
    tel.shutdown()
    print(sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk")), file=sys.stderr)
"""


def test_exporting_writes_nothing_to_stdout(otlp_receiver):
    done = _run_child(CHILD, _child_env(OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.url))
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b""
    assert otlp_receiver.spans and otlp_receiver.logs  # it did export, just not to stdout


def test_console_exporter_request_writes_nothing_to_stdout():
    env = _child_env(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_TRACES_EXPORTER="console", OTEL_LOGS_EXPORTER="console"
    )
    done = _run_child(CHILD, env)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b""
    assert b"not supported" in done.stderr  # the refusal is explained on stderr


def test_disabled_does_not_import_the_sdk():
    done = _run_child(CHILD, _child_env())
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b""
    assert done.stderr.decode().strip().splitlines()[-1] == json.dumps([])
