"""What a flow needs from the server: where blocking work runs, telemetry, and how to report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sandgate.provider import GuardedContext, ProviderError
from sandgate.telemetry import Telemetry

T = TypeVar("T")
Runner = Callable[..., Awaitable[Any]]


def _ignore(*_: Any) -> None:
    return None


@dataclass(frozen=True)
class Workers:
    blocking: Runner  # short blocking work (guards, checks) off the event loop
    vetting: Runner  # vets: anything that may wait on a sandbox
    telemetry: Telemetry
    # Said as the flow goes, so the status is current even when the request is then cancelled.
    guarded: Callable[[GuardedContext], None] = _ignore
    provider_failed: Callable[[ProviderError], None] = _ignore
    provider_ok: Callable[[], None] = _ignore
    progress: Callable[[str], None] = _ignore
