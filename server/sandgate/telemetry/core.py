"""`Telemetry`: the one object the pipeline and the server hold to emit spans and events.

Built by `sandgate.telemetry.setup.configure()`. With no exporter configured it is the
shared `DISABLED` instance: every helper returns at its first line, so instrumented code
costs a method call and nothing more.

`export_content` may be changed at any time (a policy reload flips it); it is read
each time a span or event is built.
"""

from __future__ import annotations

from typing import Any

from sandgate.telemetry.events import EventHelpers
from sandgate.telemetry.spans import SpanHelpers


class Telemetry(SpanHelpers, EventHelpers):
    def __init__(
        self,
        *,
        tracer: Any = None,
        logger: Any = None,
        export_content: bool = False,
        providers: tuple[Any, ...] = (),
    ) -> None:
        self._tracer = tracer
        self._logger = logger
        self._spans_on = tracer is not None
        self._events_on = logger is not None
        self.export_content = export_content
        # The SDK providers (tracer and logger), kept to flush and shut them down.
        self._providers = providers

    @property
    def enabled(self) -> bool:
        return self._spans_on or self._events_on

    def force_flush(self, timeout_millis: int = 5000) -> bool:
        """Push out everything batched so far (tests; before a short-lived CLI exits)."""
        return all([p.force_flush(timeout_millis) for p in self._providers])

    def shutdown(self) -> None:
        """Flush and stop the exporters; call once when the server exits."""
        for provider in self._providers:
            provider.shutdown()
        self._providers = ()
        self._spans_on = self._events_on = False


# Shared by everything when no exporter is configured. Its export_content is never read.
DISABLED = Telemetry()
