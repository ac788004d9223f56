"""The policy as normalised, immutable data, and the one description of the policy file's shape.

A TOML file is validated at the edge (`policy.load`) and turned into these types; nothing
past that point re-checks user input. Empty tuples mean "nothing": no allowed hosts is
no network, no denied imports is no import rule.

The dataclasses mirror the file: a nested dataclass is a table, a `setting` a key, `Policy.rules`
the array of `[[rules]]`. Each setting says how the managed layer holds lower layers to it
(`Combine`); `policy.shape` reads keys, defaults and types from here, and a test holds the JSON
schema (`policies/policy.schema.json`) to the same keys.
"""

from __future__ import annotations

import enum
import fnmatch
from dataclasses import dataclass, field
from typing import Any

from sandgate.findings import Finding, Level, Verdict

# Strongest first: `auto` tries them in this order (Docker confines more than bubblewrap).
BACKENDS = ("docker", "bwrap")


class Combine(enum.Enum):
    """How the managed layer holds a lower layer's value at one key (`policy.layers` applies it):
    what a lower layer may still choose, the managed value applying otherwise."""

    AT_MOST = "at most the managed number"
    STRICTER_VERDICT = "a decision at least as strict"
    TRUE_WINS = "true when the managed value is"
    FALSE_WINS = "false when the managed value is"
    UNION = "the managed entries and the lower ones"
    ENDPOINTS_COVERED = "URL patterns a managed pattern covers"
    HOSTS_COVERED = "host entries a managed entry covers"
    SAME_BACKENDS = "the managed backends, no more, no fewer"
    EQUAL = "the managed value"
    UNVETTED_AT_MOST = "a choice no looser (skip < review < allow)"
    GLOBS_COVERED = "rule-id globs a managed glob covers"


MANAGED = "managed"  # field metadata: the key's `Combine`
DERIVED = "derived"  # field metadata: built by layering, not a key of the file


def setting(default: Any, managed: Combine) -> Any:
    """A key of the policy file: its built-in default, and how a managed layer combines it."""
    return field(default=default, metadata={MANAGED: managed})


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
class DecisionPolicy:
    # The decision for a finding that no rule matches.
    default: Verdict = setting(Verdict.ALLOW, Combine.STRICTER_VERDICT)


@dataclass(frozen=True)
class SandboxLimits:
    wall_time_s: float = setting(3.0, Combine.AT_MOST)
    cpu_time_s: float = setting(3.0, Combine.AT_MOST)
    memory_mb: int = setting(256, Combine.AT_MOST)
    processes: int = setting(32, Combine.AT_MOST)
    output_bytes: int = setting(65536, Combine.AT_MOST)
    file_size_mb: int = setting(8, Combine.AT_MOST)
    open_files: int = setting(128, Combine.AT_MOST)


@dataclass(frozen=True)
class SandboxPolicy:
    required: bool = setting(True, Combine.TRUE_WINS)
    # Backends that may be used (`auto` tries them strongest first, see BACKENDS).
    backends: tuple[str, ...] = setting(BACKENDS, Combine.SAME_BACKENDS)
    # A Docker image the user names is used as is; None means the one `sandgate sandbox init` builds.
    image: str | None = setting(None, Combine.EQUAL)
    # The host user bubblewrap runs as when Sandgate is root; None: sandgate-sandbox, else nobody.
    user: str | None = setting(None, Combine.EQUAL)
    limits: SandboxLimits = field(default_factory=SandboxLimits)


@dataclass(frozen=True)
class NetworkPolicy:
    # Hosts a sandboxed run may reach (`api.example.com`, `*.example.com:8443`; `policy.hosts`);
    # empty: no network.
    allow_hosts: tuple[str, ...] = setting((), Combine.HOSTS_COVERED)
    # Hosts never reachable, whatever `allow_hosts` says: deny wins.
    deny_hosts: tuple[str, ...] = setting((), Combine.UNION)
    # URL patterns the model provider's endpoint must match (`policy.endpoints`); empty: no model allowed.
    model_endpoints: tuple[str, ...] = setting((), Combine.ENDPOINTS_COVERED)


@dataclass(frozen=True)
class CodePolicy:
    deny_imports: tuple[str, ...] = setting((), Combine.UNION)
    deny_calls: tuple[str, ...] = setting((), Combine.UNION)


@dataclass(frozen=True)
class FilesPolicy:
    # Globs (relative to the workspace) whose content is never sent to a model.
    exclude: tuple[str, ...] = setting((), Combine.UNION)
    # Globs of workspace files a suggestion must never edit, nor its code write (`checks.protected_files`).
    protected: tuple[str, ...] = setting((), Combine.UNION)


@dataclass(frozen=True)
class TelemetryPolicy:
    # Prompts and code leave only as lengths and hashes unless this is on.
    export_content: bool = setting(False, Combine.FALSE_WINS)


# What happens to suggestions in a language Sandgate cannot vet (`languages.unvetted`), strictest
# first: the model is not asked; every suggestion is held for review; suggestions are shown with
# a `not-vetted` finding.
UNVETTED_CHOICES = ("skip", "review", "allow")


@dataclass(frozen=True)
class LanguagesPolicy:
    unvetted: str = setting("skip", Combine.UNVETTED_AT_MOST)  # one of UNVETTED_CHOICES


@dataclass(frozen=True)
class PackPolicy:
    """Which rules of the security rule pack (`checks/security_pack.toml`, findings of source `pack`)
    run, and at what severity. Globs over rule ids (`crypto.*`, `log.injection`)."""

    # Rules off by default (`enabled = false` in the pack) to turn on.
    enable: tuple[str, ...] = setting((), Combine.UNION)
    # Rules to turn off; under a managed policy that sets this, only what a managed glob covers.
    disable: tuple[str, ...] = setting((), Combine.GLOBS_COVERED)
    # Re-rated severities, `glob=level` (`log.*=low`): the presets decide pack findings by severity.
    severity: tuple[str, ...] = setting((), Combine.EQUAL)


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...] = ()
    decision: DecisionPolicy = field(default_factory=DecisionPolicy)
    # The managed floor: the rules and default of the preset the managed policy extends, its own
    # rules on top. No lower layer can loosen it: evaluated apart from `rules`, the stricter of
    # the two decisions stands.
    floor_rules: tuple[Rule, ...] = field(default=(), metadata={DERIVED: True})
    floor_default: Verdict = field(default=Verdict.ALLOW, metadata={DERIVED: True})
    sandbox: SandboxPolicy = field(default_factory=SandboxPolicy)
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    code: CodePolicy = field(default_factory=CodePolicy)
    files: FilesPolicy = field(default_factory=FilesPolicy)
    telemetry: TelemetryPolicy = field(default_factory=TelemetryPolicy)
    languages: LanguagesPolicy = field(default_factory=LanguagesPolicy)
    pack: PackPolicy = field(default_factory=PackPolicy)
