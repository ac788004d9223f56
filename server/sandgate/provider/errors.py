"""Typed provider failures, each named for what it is, with a plain sentence a person can act on."""

from __future__ import annotations

import enum


class ErrorKind(str, enum.Enum):
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate-limited"
    SERVER_ERROR = "server-error"
    MALFORMED = "malformed"
    TOO_LARGE = "too-large"
    CONNECTION = "connection"  # refused, reset, or a stream cut midway (retried)
    AUTH = "auth"  # the provider says the key is wrong (401/403, or a 400 saying so: LiteLLM)
    REDIRECTED = "redirected"  # 3xx: not followed, the policy allowed this URL and not that one
    CLIENT_ERROR = "client-error"  # other 4xx: unknown model, bad request


_ADVICE = {
    ErrorKind.TIMEOUT: "The model did not answer in time",
    ErrorKind.RATE_LIMITED: "The model endpoint is rate-limiting requests (HTTP 429)",
    ErrorKind.SERVER_ERROR: "The model endpoint failed (HTTP 5xx)",
    ErrorKind.MALFORMED: "The model endpoint sent an answer Sandgate cannot read",
    ErrorKind.TOO_LARGE: "The model's answer exceeded the size limit and was discarded",
    ErrorKind.CONNECTION: "The connection to the model endpoint failed",
    ErrorKind.AUTH: "The model endpoint refused the API key",
    ErrorKind.REDIRECTED: "The model endpoint redirected the request, which Sandgate does not follow",
    ErrorKind.CLIENT_ERROR: "The model endpoint refused the request",
}


class ProviderError(Exception):
    """A failed model call. `kind` says which class of failure; `detail` says what exactly."""

    def __init__(
        self,
        kind: ErrorKind | str,
        detail: str = "",
        *,
        status: int | None = None,
        attempts: int = 1,
        retry_after: float | None = None,
    ):
        self.kind = ErrorKind(kind)
        self.detail = detail
        self.status = status
        self.attempts = attempts
        self.retry_after = retry_after  # seconds the endpoint asked to wait (429)
        super().__init__(self.user_message)

    def __str__(self) -> str:
        return self.user_message

    @property
    def user_message(self) -> str:
        text = _ADVICE[self.kind]
        if self.detail:
            # The provider's own message may end with a full stop: one is enough.
            text += f": {self.detail.rstrip().rstrip('.')}"
        if self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        return text + "."

    def to_json(self) -> dict:
        return {"kind": self.kind.value, "message": self.user_message, "status": self.status}
