"""Events: log records with an `event_name` under `sandgate.` (the Events API is gone).

Each helper returns at once when event export is off, before building any attribute or
hashing any text. Text (prompts, suggestions, program output, check messages that may
quote code) leaves only as length and SHA-256 unless `export_content` is on. Emitted
inside a span, an event carries that span's trace and span ids.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from sandgate.telemetry import names as n
from sandgate.telemetry.content import decision_source, text_attributes

# OpenTelemetry severity numbers (opentelemetry._logs.SeverityNumber), without importing it
# when telemetry is off.
INFO, WARN, ERROR = 9, 13, 17
_SEVERITY_TEXT = {INFO: "INFO", WARN: "WARN", ERROR: "ERROR"}


class EventHelpers:
    """Mixed into `Telemetry`: the event helpers, reading `_logger` and `export_content`."""

    _logger: Any
    _events_on: bool
    export_content: bool

    def emit(self, event_name: str, attributes: Mapping[str, Any], *, severity: int = INFO) -> None:
        """Emit one event; None-valued attributes are left out."""
        if not self._events_on:
            return
        from opentelemetry._logs import SeverityNumber

        self._logger.emit(
            timestamp=time.time_ns(),
            event_name=event_name,
            severity_number=SeverityNumber(severity),
            severity_text=_SEVERITY_TEXT.get(severity),
            attributes={k: v for k, v in attributes.items() if v is not None},
        )

    def _text(self, prefix: str, text: str | None) -> dict[str, object]:
        return text_attributes(prefix, text, self.export_content)

    def suggestion_requested(
        self,
        *,
        request_id: str,
        file: str | None = None,
        language: str | None = None,
        trigger: str | None = None,
        prompt: str | None = None,
    ) -> None:
        if not self._events_on:
            return
        attributes: dict[str, Any] = {
            n.REQUEST_ID: request_id,
            n.CODE_FILE_PATH: file,
            n.LANGUAGE: language,
            n.TRIGGER: trigger,
        }
        attributes.update(self._text(n.PROMPT, prompt))
        self.emit(n.EVENT_SUGGESTION_REQUESTED, attributes)

    def model_response(
        self,
        *,
        request_id: str,
        model: str | None = None,
        text: str | None = None,
        finish_reasons: Sequence[str] = (),
        input_tokens: int | None = None,
        output_tokens: int | None = None,
    ) -> None:
        if not self._events_on:
            return
        attributes: dict[str, Any] = {
            n.REQUEST_ID: request_id,
            n.GEN_AI_RESPONSE_MODEL: model,
            n.GEN_AI_RESPONSE_FINISH_REASONS: list(finish_reasons) or None,
            n.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
            n.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
        }
        attributes.update(self._text(n.SUGGESTION, text))
        self.emit(n.EVENT_MODEL_RESPONSE, attributes)

    def finding(self, *, request_id: str | None, finding: Any) -> None:
        """`finding` is a `sandgate.findings.Finding` or its `to_json()` dict."""
        if not self._events_on:
            return
        data = finding if isinstance(finding, Mapping) else finding.to_json()
        attributes: dict[str, Any] = {
            n.REQUEST_ID: request_id,
            n.FINDING_SOURCE: data.get("source"),
            n.FINDING_RULE: data.get("rule"),
            n.FINDING_SEVERITY: str(data.get("severity")),
            n.FINDING_CONFIDENCE: str(data.get("confidence")),
            n.FINDING_ORIGIN: data.get("origin"),
            n.FINDING_LINE: data.get("line") or None,
            n.FINDING_CWE: data.get("cwe"),
            n.LANGUAGE: data.get("language"),
        }
        if self.export_content:
            attributes[n.FINDING_MESSAGE] = data.get("message")
        self.emit(n.EVENT_FINDING, attributes, severity=WARN)

    def sandbox_outcome(
        self,
        *,
        request_id: str | None,
        backend: str,
        outcome: str,
        exit_code: int | None = None,
        duration_ms: float | None = None,
        killed: str | None = None,
        stdout: str | None = None,
        stderr: str | None = None,
    ) -> None:
        """`outcome`: completed, timed_out, killed or denied."""
        if not self._events_on:
            return
        attributes: dict[str, Any] = {
            n.REQUEST_ID: request_id,
            n.SANDBOX_BACKEND: backend,
            n.SANDBOX_OUTCOME: outcome,
            n.SANDBOX_EXIT_CODE: exit_code,
            n.SANDBOX_DURATION_MS: duration_ms,
            n.SANDBOX_KILLED: killed,
        }
        attributes.update(self._text(n.SANDBOX_STDOUT, stdout))
        attributes.update(self._text(n.SANDBOX_STDERR, stderr))
        self.emit(n.EVENT_SANDBOX_OUTCOME, attributes, severity=INFO if outcome == "completed" else WARN)

    def network_decision(
        self, *, request_id: str | None, host: str, allowed: bool, port: int | None = None, rule: str | None = None
    ) -> None:
        if not self._events_on:
            return
        attributes: dict[str, Any] = {
            n.REQUEST_ID: request_id,
            n.NETWORK_HOST: host,
            n.NETWORK_PORT: port,
            n.NETWORK_ALLOWED: allowed,
            n.NETWORK_RULE: rule,
        }
        self.emit(n.EVENT_NETWORK_DECISION, attributes, severity=INFO if allowed else WARN)

    def decision(
        self,
        *,
        request_id: str | None,
        decision: Any,
        decided_by: str,
        content_sha256: str | None = None,
        policy_digest: str | None = None,
        rules: Sequence[str] = (),
        file: str | None = None,
        language: str | None = None,
    ) -> None:
        """The verdict on a suggestion (`allow`, `review`, `block`) and what produced it."""
        if not self._events_on:
            return
        attributes: dict[str, Any] = {
            n.REQUEST_ID: request_id,
            n.DECISION: str(decision),
            n.DECIDED_BY: decided_by,
            n.DECISION_SOURCE: decision_source(decided_by),
            n.CONTENT_SHA256: content_sha256,
            n.POLICY_DIGEST: policy_digest,
            n.DECISION_RULES: list(rules) or None,
            n.CODE_FILE_PATH: file,
            n.LANGUAGE: language,
        }
        self.emit(n.EVENT_DECISION, attributes)

    def approval(
        self,
        *,
        request_id: str | None,
        decided_by: str,
        content_sha256: str | None = None,
        policy_digest: str | None = None,
    ) -> None:
        """A held suggestion let through, by a user (`user:<name>`), the policy or managed policy."""
        self._outcome(n.EVENT_APPROVAL, request_id, decided_by, content_sha256, policy_digest)

    def discard(
        self,
        *,
        request_id: str | None,
        decided_by: str,
        content_sha256: str | None = None,
        policy_digest: str | None = None,
    ) -> None:
        self._outcome(n.EVENT_DISCARD, request_id, decided_by, content_sha256, policy_digest)

    def _outcome(
        self, name: str, request_id: str | None, decided_by: str, content_sha256: str | None, policy_digest: str | None
    ) -> None:
        if not self._events_on:
            return
        attributes: dict[str, Any] = {
            n.REQUEST_ID: request_id,
            n.DECIDED_BY: decided_by,
            n.DECISION_SOURCE: decision_source(decided_by),
            n.CONTENT_SHA256: content_sha256,
            n.POLICY_DIGEST: policy_digest,
        }
        self.emit(name, attributes)

    def policy_loaded(
        self, *, digest: str, source: str | None = None, path: str | None = None, preset: str | None = None
    ) -> None:
        """`source`: workspace, user, preset or managed."""
        if not self._events_on:
            return
        attributes: dict[str, Any] = {
            n.POLICY_DIGEST: digest,
            n.POLICY_SOURCE: source,
            n.POLICY_PATH: path,
            n.POLICY_PRESET: preset,
        }
        self.emit(n.EVENT_POLICY_LOADED, attributes)

    def policy_error(self, *, message: str, path: str | None = None, source: str | None = None) -> None:
        if not self._events_on:
            return
        attributes: dict[str, Any] = {n.ERROR_MESSAGE: message, n.POLICY_PATH: path, n.POLICY_SOURCE: source}
        self.emit(n.EVENT_POLICY_ERROR, attributes, severity=ERROR)
