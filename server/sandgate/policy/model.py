"""The policy as normalised, immutable data.

A TOML file is validated at the edge (`policy.load`) and turned into these types; nothing
past that point re-checks user input. Empty tuples mean "nothing": no allowed hosts is
no network, no denied imports is no import rule.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from sandgate.findings import Finding, Level, Verdict

# Strongest first: `auto` tries them in this order (Docker confines more than bubblewrap).
BACKENDS = ("docker", "bwrap")


@dataclass(frozen=True)
class Rule:
    """Maps findings to a decision. Every given field must match; absent fields match all.

    `severity` and `confidence` are minimums; `rule` is a glob over the finding's rule id.
    """

    id: str
    decision: Verdict
    source: str | None = None
    rule: str | None = None
    severity: Level | None = None
    confidence: Level | None = None
    description: str = ""

    def matches(self, finding: Finding) -> bool:
        if self.source is not None and finding.source != self.source:
            return False
        if self.rule is not None and not fnmatch.fnmatchcase(finding.rule, self.rule):
            return False
        if self.severity is not None and finding.severity < self.severity:
            return False
        if self.confidence is not None and finding.confidence < self.confidence:
            return False
        return True


@dataclass(frozen=True)
class SandboxLimits:
    wall_time_s: float = 3.0
    cpu_time_s: float = 3.0
    memory_mb: int = 256
    processes: int = 32
    output_bytes: int = 65536
    file_size_mb: int = 8
    open_files: int = 128


@dataclass(frozen=True)
class SandboxPolicy:
    required: bool = True
    # Backends that may be used (`auto` tries them strongest first, see BACKENDS).
    backends: tuple[str, ...] = BACKENDS
    # A Docker image the user names is used as is; None means the one `sandgate sandbox init` builds.
    image: str | None = None
    # The host user bubblewrap runs as when Sandgate is root; None: sandgate-sandbox, else nobody.
    user: str | None = None
    limits: SandboxLimits = field(default_factory=SandboxLimits)


@dataclass(frozen=True)
class NetworkPolicy:
    # Hosts a sandboxed run may reach (`api.example.com`, `*.example.com`); empty: no network.
    allow_hosts: tuple[str, ...] = ()
    # Hosts never reachable, whatever `allow_hosts` says: deny wins.
    deny_hosts: tuple[str, ...] = ()
    # URL patterns (fnmatch) the model provider's endpoint must match; empty: no model allowed.
    model_endpoints: tuple[str, ...] = ()


@dataclass(frozen=True)
class CodePolicy:
    deny_imports: tuple[str, ...] = ()
    deny_calls: tuple[str, ...] = ()


@dataclass(frozen=True)
class FilesPolicy:
    # Globs (relative to the workspace) whose content is never sent to a model.
    exclude: tuple[str, ...] = ()
    # Globs a sandboxed run or an AI edit must never write.
    protected: tuple[str, ...] = ()


@dataclass(frozen=True)
class TelemetryPolicy:
    # Prompts and code leave only as lengths and hashes unless this is on.
    export_content: bool = False


@dataclass(frozen=True)
class LanguagesPolicy:
    # Suggestions in a language Sandgate cannot vet: "skip" (the model is not asked), "review"
    # (each one held for a person), "allow" (shown, with a `not-vetted` finding).
    unvetted: str = "skip"


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...] = ()
    default: Verdict = Verdict.ALLOW
    # The managed floor: the rules and default of the preset the managed policy extends, its own
    # rules on top. No lower layer can loosen it: evaluated apart from `rules`, the stricter of
    # the two decisions stands.
    floor_rules: tuple[Rule, ...] = ()
    floor_default: Verdict = Verdict.ALLOW
    sandbox: SandboxPolicy = field(default_factory=SandboxPolicy)
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    code: CodePolicy = field(default_factory=CodePolicy)
    files: FilesPolicy = field(default_factory=FilesPolicy)
    telemetry: TelemetryPolicy = field(default_factory=TelemetryPolicy)
    languages: LanguagesPolicy = field(default_factory=LanguagesPolicy)
