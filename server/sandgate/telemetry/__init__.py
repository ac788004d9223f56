"""OpenTelemetry for Sandgate: spans and events about each AI suggestion, exported over
OTLP/HTTP only when the standard `OTEL_EXPORTER_OTLP_*` variables ask for it.

    from sandgate.telemetry import configure
    tel = configure(export_content=policy.telemetry.export_content)
    with tel.suggestion_span(request_id=rid, file=relpath):
        ...
        tel.decision(request_id=rid, decision="review", decided_by="policy", ...)

Names live in `sandgate.telemetry.names`. See docs/telemetry.md.
"""

from sandgate.telemetry.core import DISABLED, Telemetry
from sandgate.telemetry.setup import configure

__all__ = ["DISABLED", "Telemetry", "configure"]
