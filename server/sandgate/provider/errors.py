"""Typed provider failures, each with a plain sentence a person can act on."""

from __future__ import annotations

import enum


class ErrorKind(str, enum.Enum):
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate-limited"
    SERVER_ERROR = "server-error"
    MALFORMED = "malformed"
    TOO_LARGE = "too-large"
    CONNECTION = "connection"
    CLIENT_ERROR = "client-error"  # 4xx other than 429: bad key, unknown model, bad request


_ADVICE = {
    ErrorKind.TIMEOUT: "The model did not answer in time",
    ErrorKind.RATE_LIMITED: "The model endpoint is rate-limiting requests (HTTP 429)",
    ErrorKind.SERVER_ERROR: "The model endpoint failed (HTTP 5xx)",
    ErrorKind.MALFORMED: "The model endpoint sent an answer that is not valid chat-completions JSON",
    ErrorKind.TOO_LARGE: "The model's answer exceeded the size limit and was discarded",
    ErrorKind.CONNECTION: "The connection to the model endpoint failed",
    ErrorKind.CLIENT_ERROR: "The model endpoint refused the request",
}


class ProviderError(Exception):
    """A failed model call. `kind` says which class of failure; `detail` says what exactly."""

    def __init__(self, kind: ErrorKind | str, detail: str = "", *, status: int | None = None, attempts: int = 1):
        self.kind = ErrorKind(kind)
        self.detail = detail
        self.status = status
        self.attempts = attempts
        super().__init__(self.user_message)

    def __str__(self) -> str:
        return self.user_message

    @property
    def user_message(self) -> str:
        text = _ADVICE[self.kind]
        if self.detail:
            text += f": {self.detail}"
        if self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        return text + "."

    def to_json(self) -> dict:
        return {"kind": self.kind.value, "message": self.user_message, "status": self.status}
