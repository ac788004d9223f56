"""Building `Telemetry` from the standard OpenTelemetry environment.

Export happens only over OTLP/HTTP (protobuf) and only when an endpoint is configured:
`OTEL_EXPORTER_OTLP_ENDPOINT`, or the per-signal `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
`OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, or the `endpoint` argument (the editor setting
`sandgate.telemetry.endpoint`). Headers, timeout, compression and certificates come from the
other standard `OTEL_EXPORTER_OTLP_*` variables, read by the exporter itself;
`OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` name the resource.

Nothing is ever written to stdout: the server speaks JSON-RPC there. A console exporter
asked for through `OTEL_TRACES_EXPORTER=console` is refused with a warning on the
`sandgate.telemetry` logger. The SDK is imported only when something will be exported; it is
the optional `otel` extra, and without it nothing is exported (a warning says so).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from sandgate import __version__
from sandgate.telemetry.core import DISABLED, Telemetry

log = logging.getLogger("sandgate.telemetry")

SUPPORTED_PROTOCOL = "http/protobuf"
OTEL_HINT = "install Sandgate with its `otel` extra (pip install 'sandgate[otel]')"


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def signal_enabled(signal: str, endpoint: str | None = None) -> bool:
    """Whether `signal` ("traces" or "logs") should be exported, from the environment."""
    if _env("OTEL_SDK_DISABLED").lower() == "true":
        return False
    upper = signal.upper()
    exporter = _env(f"OTEL_{upper}_EXPORTER").lower() or "otlp"
    if exporter == "none":
        return False
    if exporter != "otlp":
        log.warning("OTEL_%s_EXPORTER=%s is not supported (only otlp); %s are not exported", upper, exporter, signal)
        return False
    protocol = _env(f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL") or _env("OTEL_EXPORTER_OTLP_PROTOCOL") or SUPPORTED_PROTOCOL
    if protocol != SUPPORTED_PROTOCOL:
        log.warning(
            "OTLP protocol %s is not supported (only %s); %s are not exported", protocol, SUPPORTED_PROTOCOL, signal
        )
        return False
    return bool(endpoint or _env("OTEL_EXPORTER_OTLP_ENDPOINT") or _env(f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT"))


def _signal_url(endpoint: str | None, path: str) -> str | None:
    # An explicit base endpoint gets the signal's path, as OTEL_EXPORTER_OTLP_ENDPOINT does.
    return f"{endpoint.rstrip('/')}/{path}" if endpoint else None


def configure(
    *, export_content: bool = False, endpoint: str | None = None, service_name: str = "sandgate"
) -> Telemetry:
    """A `Telemetry` exporting what the environment asks for, or `DISABLED`.

    `export_content` is the policy's `telemetry.export_content`; `endpoint` an OTLP/HTTP base
    URL that overrides the environment's (e.g. `http://localhost:4318`). Global OpenTelemetry
    providers are left alone, so embedding applications keep theirs.
    """
    traces = signal_enabled("traces", endpoint)
    logs = signal_enabled("logs", endpoint)
    if not (traces or logs):
        return DISABLED
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    except ImportError:
        # An optional extra: without it, nothing is exported, and the user is told why.
        log.warning(
            "telemetry endpoint set but the OpenTelemetry SDK is not installed: %s; nothing is exported", OTEL_HINT
        )
        return DISABLED

    resource = Resource.create({SERVICE_NAME: _env("OTEL_SERVICE_NAME") or service_name, SERVICE_VERSION: __version__})
    tracer = logger = None
    providers: list[Any] = []  # tracer and logger providers: each is shut down at exit
    if traces:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=_signal_url(endpoint, "v1/traces")))
        )
        tracer = tracer_provider.get_tracer("sandgate", __version__)
        providers.append(tracer_provider)
    if logs:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(OTLPLogExporter(endpoint=_signal_url(endpoint, "v1/logs")))
        )
        logger = logger_provider.get_logger("sandgate", __version__)
        providers.append(logger_provider)
    return Telemetry(tracer=tracer, logger=logger, export_content=export_content, providers=tuple(providers))
