"""The contract between the vetting pipeline and a sandbox backend.

A backend runs one program under the policy's limits and reports what happened; it never
decides anything. `sandgate.sandbox.run_findings.findings_from_run` turns a `RunResult` into
findings, and the policy turns those into a decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sandgate.policy.model import NetworkPolicy, SandboxLimits
from sandgate.sandbox.honeytokens import Honey
from sandgate.sandbox.js_exercise import JsPlan


@dataclass(frozen=True)
class RunRequest:
    # The program: a suggestion alone, or its document with the suggestion in place.
    code: str
    # Where the program sits in the workspace (`pkg/mod.py`); it runs under that name.
    relpath: str = "suggestion.py"
    # Visible read-only inside the sandbox so the program's imports work; None: nothing.
    workspace: Path | None = None
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    # files.exclude: workspace files the sandbox never sees (workspace_view.py).
    exclude: tuple[str, ...] = ()
    # files.protected: workspace files a run's writes to are findings (report.py); the workspace is
    # read-only in every sandbox, so the write itself fails.
    protected: tuple[str, ...] = ()
    # sandbox.user: the host user bubblewrap runs as when Sandgate is root (identity.py).
    user: str | None = None
    # This run wants honeytokens (honeytokens.py); None: none are planted. A pooled sandbox brings
    # its own, made with it (RunResult.honey says which the run had); these are planted otherwise.
    honey: Honey | None = None
    # The suggestion's lines in `code` (1-based, inclusive): events say where in it they happened.
    span: tuple[int, int] | None = None
    # What to call after the module body (exercise.py): ("func" or "Class.method", line).
    exercise: tuple[tuple[str, int], ...] = ()
    # A Node run's exercise (js_exercise.py): its targets (`exercise` names the same ones) and how
    # the program is rewritten to reach them.
    exercise_js: JsPlan | None = None
    # Which runtime runs the program (protocol.RUNTIMES): the language unit's `runtime`.
    runtime: str = "python"

    def header(self, planted: Honey | None = None) -> dict[str, Any]:
        """What the bootstrap plants, where the suggestion is, and what it calls (protocol.payload).
        `planted`: the honeytokens the sandbox planted when it was made (None: the request's are
        planted now)."""
        out: dict[str, Any] = {}
        if self.honey is not None and planted is None:
            out["honey"] = self.honey.header()
        if self.runtime == "node" and planted is not None:
            # Node's bootstrap watches the honey variables Python's planted before it exec'd Node.
            out["honey_names"] = sorted(planted.header().get("env") or ())
        if self.span is not None:
            out["span"] = list(self.span)
        if self.exercise:
            # Half the run's time for the calls, shared out; none gets more than a second.
            share = min(1.0, self.limits.wall_time_s * 0.5 / len(self.exercise))
            if self.exercise_js is not None:
                out["exercise"] = {**self.exercise_js.header(), "share_s": share}
            else:
                out["exercise"] = {"targets": [{"qual": q, "line": n} for q, n in self.exercise], "share_s": share}
        return out


@dataclass
class RunResult:
    backend: str
    exit_code: int | None = None
    duration_ms: float = 0.0
    timed_out: bool = False
    # Why the run was stopped from outside: "time", "memory", "processes", "output"; else None.
    killed: str | None = None
    peak_memory_kb: int | None = None
    stdout: str = ""
    stderr: str = ""
    output_truncated: bool = False
    # What the program did, seen from inside: dicts with at least "kind"
    # ("connect", "dns", "open-write", "open-read", "spawn", "exec", ...).
    events: list[dict[str, Any]] = field(default_factory=list)
    # Set when the backend itself failed (daemon gone, image missing): the run proves nothing.
    error: str | None = None
    # What the supervisor outside the sandbox recorded (supervision.Record); None: not asked.
    outside: Any = None
    # Where the run's honeytokens went (honeytokens.hits), found before the run is redacted;
    # None: not looked for yet.
    honey_hits: list[dict[str, Any]] | None = None
    # The honeytokens the run's sandbox was made with (None: the request's, if any).
    honey: Honey | None = None

    def runtime(self) -> str | None:
        """The runtime the sandbox's bootstrap said it armed the monitor for (`python`, `node`), from
        its first `monitor` event: sent before the program arrives, so the program cannot choose it.
        None: the run never got that far."""
        for ev in self.events:
            if ev.get("kind") == "monitor" and ev.get("state") == "ready":
                return str(ev.get("runtime") or "python")
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "runtime": self.runtime(),
            "exit_code": self.exit_code,
            "duration_ms": round(self.duration_ms, 1),
            "timed_out": self.timed_out,
            "killed": self.killed,
            "peak_memory_kb": self.peak_memory_kb,
            "output_truncated": self.output_truncated,
            "events": self.events,
            "error": self.error,
            "outside": self.outside.to_json() if self.outside is not None else None,
        }


@dataclass(frozen=True)
class Probe:
    """Whether a backend can run here, and if not, what a person should do."""

    name: str
    available: bool
    detail: str
    remedy: str = ""


class Backend(Protocol):
    name: str

    def probe(self) -> Probe: ...

    def run(self, request: RunRequest) -> RunResult: ...

    def warm(self, request: RunRequest) -> None:
        """Start making sandboxes for runs like `request` ahead of need (returns at once)."""
        ...

    def close(self) -> None: ...
