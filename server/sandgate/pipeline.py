"""The vetting pipeline: one suggestion in, one decision with its reasons out.

Static checks run in-process (bandit, secrets, the policy's code rules, Sandgate's own rules); then, unless the
static checks already block, the code runs in a sandbox and what it did becomes findings
too. The policy turns findings into the decision. Where a check or the sandbox cannot run,
the pipeline fails closed: Sandgate's own hold keeps the suggestion for review, with the reason.

The suggestion's language unit (`sandgate.languages`) supplies the syntax and the checks; a
language without one is never allowed unvetted (policy `languages.unvetted`). When the
document with the suggestion in place does not compile, the region around the suggestion
that does is vetted instead (`sandgate.regions`), and the result says so; where none does,
or the vet fails, the suggestion is held with the reason.

`Vetter` is long-lived and thread-safe: the language server calls `vet` from worker threads.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandgate.checks import capabilities
from sandgate.checks.bandit_check import BanditChecker, BanditError
from sandgate.checks.code_rules import check_code_rules
from sandgate.checks.exec_rules import check_exec_rules
from sandgate.checks.names import scan
from sandgate.checks.pack_rules import active_rules, check_pack
from sandgate.checks.parsing import parse
from sandgate.checks.protected_files import check_protected_writes, protected_edit
from sandgate.checks.rule_pack import load_js_pack, load_pack
from sandgate.checks.secrets import find_secrets
from sandgate.checks.vouching import without_vouched
from sandgate.egress.rules import RULE_DEFAULT_DENY, decide_host
from sandgate.findings import Finding, Level, Origin, Verdict
from sandgate.languages import language_for, language_name, not_run_why, runtime_for, unit_named
from sandgate.lines import Lines
from sandgate.policy.evaluate import Decision, Reason, decide, decide_finding
from sandgate.policy.hosts import parse_pattern
from sandgate.policy.load import LoadedPolicy
from sandgate.regions import CannotVet, find_region
from sandgate.sandbox import exercise, honeytokens, js_exercise
from sandgate.sandbox.base import Backend, Probe, RunRequest, RunResult
from sandgate.sandbox.redact import redact_run
from sandgate.sandbox.run_findings import findings_from_run
from sandgate.sandbox.select import open_backend
from sandgate.suggestion import Placed, Suggestion, place
from sandgate.telemetry import DISABLED, Telemetry

if TYPE_CHECKING:
    from sandgate.languages.unit import Language
    from sandgate.policy.model import NetworkPolicy

_LOG = logging.getLogger(__name__)


@dataclass
class VetResult:
    suggestion: Suggestion
    decision: Decision
    findings: list[Finding]
    sandbox: RunResult | None
    # Why no sandbox run happened, when none did ("blocked by static checks", "no backend: ...").
    sandbox_skipped: str | None
    policy_digest: str
    placed: Placed = field(repr=False, default=None)  # type: ignore[assignment]
    # What was vetted when it was not the document with the suggestion in place (a region, the
    # suggestion completed...), or why nothing could be: for people, in records and diagnostics.
    vetted: str | None = None
    # What the suggestion adds that its document could not do ("adds: network → host (sends
    # ~/.aws/credentials)"); None when it adds nothing. Shown first wherever the result is.
    summary: str | None = None
    # The language unit that vetted it ("python", "javascript", "typescript"), else what the
    # document's language is called (a language Sandgate has no unit for).
    language: str | None = None

    @property
    def verdict(self) -> Verdict:
        return self.decision.verdict

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return self.decision.reasons

    @property
    def content_sha256(self) -> str:
        return self.suggestion.sha256

    @property
    def decided_by(self) -> str:
        """`managed-policy` when the managed floor decided, else `policy` (Sandgate's own holds included)."""
        top = self.reasons[0] if self.reasons else None
        return "managed-policy" if top is not None and top.layer == "managed" else "policy"

    def finding_decision(self, finding: Finding) -> str:
        """The decision `finding` drew: "existing" for the user's own code (it never decides), else the
        decision of the reason that names it ("allow" when none does)."""
        if finding.origin is Origin.DOCUMENT:
            return "existing"
        reason = next((r for r in self.reasons if r.finding is finding), None)
        return str(reason.verdict) if reason is not None else "allow"

    def to_json(self) -> dict[str, Any]:
        sandbox: dict[str, Any] | None
        if self.sandbox is not None:
            sandbox = self.sandbox.to_json()
        else:
            sandbox = {
                "backend": None,
                "exit_code": None,
                "duration_ms": 0,
                "timed_out": False,
                "events": [],
                "skipped": self.sandbox_skipped,
            }
        return {
            "path": self.suggestion.path,
            "decision": str(self.verdict),
            "reasons": [r.to_json() for r in self.reasons if r.verdict > Verdict.ALLOW],
            "findings": [{**f.to_json(), "decision": self.finding_decision(f)} for f in self.findings],
            "sandbox": sandbox,
            "content_sha256": self.content_sha256,
            "policy_digest": self.policy_digest,
            "vetted": self.vetted,
            "summary": self.summary,
            "language": self.language,
        }


def _outcome(result: RunResult) -> str:
    if result.timed_out:
        return "timed_out"
    if result.killed:
        return "killed"
    if result.error:
        return "denied"
    return "completed"


def _hold(rule_id: str, text: str) -> Reason:
    """Sandgate's own reason to hold a suggestion for review: something could not be vetted."""
    return Reason(Verdict.REVIEW, rule_id, "sandgate", None, f"{text} [sandgate {rule_id}]")


class Vetter:
    def __init__(
        self,
        loaded: LoadedPolicy,
        backend: str = "auto",
        workspace: Path | None = None,
        telemetry: Telemetry = DISABLED,
    ):
        self.loaded = loaded
        self.telemetry = telemetry
        telemetry.export_content = loaded.policy.telemetry.export_content
        self.backend_choice = backend
        self.workspace = workspace
        self._bandit = BanditChecker()
        self._backend_lock = threading.Lock()
        self._backend: Backend | None = None
        self._probes: list[Probe] | None = None
        self._scanned = threading.local()

    @property
    def policy(self):
        return self.loaded.policy

    @functools.cached_property
    def pack_rules(self):
        """The security pack's rules as this policy has them (`[pack]`: enable, disable, severity)."""
        settings = self.policy.pack
        return active_rules(load_pack(), settings.enable, settings.disable, settings.severity)

    @functools.cached_property
    def js_pack_rules(self):
        """The JavaScript/TypeScript pack's rules as this policy has them (the same `[pack]` keys)."""
        settings = self.policy.pack
        return active_rules(load_js_pack(), settings.enable, settings.disable, settings.severity)

    @property
    def backend_name(self) -> str | None:
        """The name of the sandbox backend `backend()` opened; None when none is open (yet)."""
        backend = self._backend
        return backend.name if backend is not None else None

    # -- static checks ------------------------------------------------------------------

    def static_findings(self, code: str, tree: ast.Module | None = None) -> tuple[list[Finding], list[Reason]]:
        """Findings of the in-process checks on `code` (parsed already: `tree`), and holds for checks
        that could not run."""
        tel = self.telemetry
        holds: list[Reason] = []
        with tel.check_span("secrets") as span:
            findings = find_secrets(code)
            span.set_findings(len(findings))
        try:
            tree = parse(code) if tree is None else tree
        except SyntaxError as exc:
            # Partial code is normal while typing: information, not a threat. It cannot run either.
            findings.append(
                Finding(
                    "syntax",
                    "syntax.error",
                    Level.INFO,
                    Level.HIGH,
                    f"the code does not compile yet: {exc.msg}",
                    line=exc.lineno or 0,
                    end_line=exc.end_lineno or exc.lineno or 0,
                )
            )
            return findings, holds
        names = self.scanned(tree, scan)  # one walk: the policy's code rules, Sandgate's own, the capabilities
        with tel.check_span("policy") as span:
            rules = check_code_rules(names, self.policy.code, self.policy.network)
            rules += check_protected_writes(names, self.policy.files, str(self.workspace) if self.workspace else None)
            span.set_findings(len(rules))
        findings.extend(rules)
        with tel.check_span("rules") as span:  # Sandgate's own rules and its security pack
            own = check_exec_rules(names)
            own += check_pack(tree, names, load_pack(), self.pack_rules, code)
            span.set_findings(len(own))
        findings.extend(own)
        with tel.check_span("bandit") as span:
            try:
                issues = self._bandit.check(code, tree)
            except (BanditError, SyntaxError) as exc:  # bandit failed where Python parsed: fail closed
                issues = []
                holds.append(_hold("bandit-failed", f"bandit could not check the code: {exc}"))
            span.set_findings(len(issues))
        findings.extend(issues)
        return findings, holds

    def scanned(self, tree: Any, scanner: Callable[[Any], Any]) -> Any:
        """`scanner(tree)`, walked once per tree (per thread): the static checks and the capability
        analysis after them read the same scan."""
        last = getattr(self._scanned, "last", None)
        if last is not None and last[0] is tree:
            return last[1]
        out = scanner(tree)
        self._scanned.last = (tree, out)
        return out

    def capability_findings(
        self, unit: Language, tree: Any, placed: Placed, document: str | None
    ) -> tuple[list[Finding], str | None]:
        """What the placed suggestion can do that `document` (the text before it; None: a suggestion
        vetted alone, which adds all it does) could not: findings and the one-line summary, by the
        analysis of `unit`'s language."""
        with self.telemetry.check_span("capability") as span:
            found = unit.capabilities(self, tree)
            if document is None:
                before: frozenset | set = frozenset()
            else:
                known = unit.document_capabilities(document)
                # A document that does not parse yet: what the placed code does outside the suggestion.
                before = (
                    known
                    if known is not None
                    else {c.key for c in found if not placed.in_suggestion(c.line, c.end_line)}
                )
            new = capabilities.added(found, before)
            findings = capabilities.to_findings(new, placed.first_line, placed.last_line)
            span.set_findings(len(findings))
        return findings, capabilities.summary(new)

    def check_document(self, text: str, path: str = "document.py", language: str | None = None) -> list[Finding]:
        """Static findings on a document the user is editing (diagnostics; no sandbox run), by the
        checks of its language (Python when none is known)."""
        unit = language_for(language, path) or unit_named("python")
        assert unit is not None
        if unit.name == "python":
            findings, _ = self.static_findings(text)
        else:
            try:
                tree = unit.syntax.parse(text)
            except SyntaxError:
                tree = None  # still typed: secrets only, as for Python
            findings, _ = unit.static_checks(self, text, tree)
        return without_vouched(
            [dataclasses.replace(f, origin=Origin.DOCUMENT, language=unit.name) for f in findings], text
        )

    # -- sandbox --------------------------------------------------------------------------

    def backend(self) -> tuple[Backend | None, list[Probe]]:
        with self._backend_lock:
            if self._probes is None and not self.policy.sandbox.backends:
                self._probes = [Probe("policy", False, "sandbox.backends is empty: no backend may be used")]
            if self._probes is None:
                self._backend, self._probes = open_backend(self.backend_choice, self.policy.sandbox)
            return self._backend, self._probes

    def _request(
        self,
        code: str,
        relpath: str,
        run_document: bool,
        span: tuple[int, int] | None = None,
        runtime: str = "python",
    ) -> RunRequest:
        targets: tuple[tuple[str, int], ...] = ()
        plan: js_exercise.JsPlan | None = None
        if span is not None and runtime == "python":
            try:
                targets = exercise.targets(parse(code), *span)
            except (SyntaxError, ValueError):
                targets = ()
        elif span is not None and runtime == "node" and not relpath.endswith(js_exercise.STATIC_ONLY):
            try:
                plan = js_exercise.plan(code, *span, typescript=relpath.endswith(js_exercise.TYPESCRIPT))
            except (SyntaxError, ValueError):
                plan = None
            targets = plan.pairs if plan is not None and plan.targets else ()
            plan = plan if targets else None
        return RunRequest(
            honey=honeytokens.new(),
            span=span,
            exercise=targets,
            exercise_js=plan,
            code=code,
            relpath=relpath,
            workspace=self.workspace if run_document else None,
            limits=self.policy.sandbox.limits,
            network=self.policy.network,
            exclude=self.policy.files.exclude,
            protected=self.policy.files.protected,
            user=self.policy.sandbox.user,
            runtime=runtime,
        )

    def warm(self) -> None:
        """Have the backend start sandboxes for this workspace's runs now, so that even the first
        vet finds one waiting (a no-op when no backend runs)."""
        backend, _ = self.backend()
        if backend is not None:
            backend.warm(self._request("", "suggestion.py", self.loaded.trusted))

    def _run(
        self, placed: Placed, suggestion: Suggestion, run_document: bool, request_id: str | None, runtime: str
    ) -> tuple[RunResult | None, list[Finding], str | None]:
        backend, probes = self.backend()
        if backend is None:
            why = "; ".join(f"{p.name}: {p.detail}" for p in probes) or "no sandbox backend is allowed"
            return None, [], f"no sandbox could run ({why})"
        if run_document:
            code, lines = placed.code, (placed.first_line, placed.last_line)
        else:
            code, lines = suggestion.text, (1, Lines.of(suggestion.text).count)
        relpath = suggestion.path
        unit = language_for(suggestion.language, suggestion.path)
        if unit is not None and unit.name == "typescript" and not relpath.endswith((".ts", ".mts", ".cts")):
            relpath += ".ts"  # Node strips types by the file's name (an untitled document has none)
        request = self._request(code, relpath, run_document, lines, runtime)
        tel = self.telemetry
        with tel.sandbox_span(backend=backend.name, request_id=request_id) as span:
            # Redacted at once: nothing the run printed reaches a finding, a record or telemetry whole.
            # Where the honeytokens went is read before: redaction would hide them.
            run = backend.run(request)
            result = redact_run(honeytokens.with_hits(run, honeytokens.of(run, request)))
            outcome = _outcome(result)
            span.set_sandbox_outcome(
                outcome, exit_code=result.exit_code, duration_ms=result.duration_ms, killed=result.killed
            )
        tel.sandbox_outcome(
            request_id=request_id,
            backend=result.backend,
            outcome=outcome,
            exit_code=result.exit_code,
            duration_ms=result.duration_ms,
            killed=result.killed,
            stdout=result.stdout,
            stderr=result.stderr,
        )
        findings = findings_from_run(result, request)
        for finding in findings:
            if finding.rule in ("network.allowed", "network.denied"):
                # One event per finding: the proxy's carry the rule that decided (its findings are
                # one per distinct decision); the monitor's a connection the closed network refused.
                proxied = finding.detail("family") == "proxy"
                tel.network_decision(
                    request_id=request_id,
                    host=str(finding.detail("host", "")),
                    port=finding.detail("port"),
                    allowed=finding.rule == "network.allowed",
                    rule=str(finding.detail("rule")) if proxied else _refusal_rule(finding, request.network),
                )
        return result, findings, None

    # -- the whole vet --------------------------------------------------------------------

    def vet(self, suggestion: Suggestion, request_id: str | None = None) -> VetResult:
        with self.telemetry.vet_span(file=suggestion.path, content=suggestion.text, request_id=request_id) as span:
            try:
                result = self._vet(suggestion, request_id)
            except Exception as exc:  # a bug or odd input (a lone surrogate): held and said, never silent
                _LOG.exception("vet failed for %s", suggestion.path)
                result = self.held_unvetted(
                    suggestion, "vet-failed", f"could not be vetted: {exc.__class__.__name__}: {exc}"
                )
            span.set_decision(result.verdict, result.decided_by)
        self._report(result, request_id)
        return result

    def _report(self, result: VetResult, request_id: str | None) -> None:
        tel = self.telemetry
        if not tel.enabled:
            return
        for finding in result.findings:
            tel.finding(request_id=request_id, finding=finding)
        tel.decision(
            request_id=request_id,
            decision=result.verdict,
            decided_by=result.decided_by,
            content_sha256=result.content_sha256,
            policy_digest=result.policy_digest,
            rules=[r.rule_id for r in result.reasons if r.verdict > Verdict.ALLOW],
            file=result.suggestion.path,
            language=result.language,
        )

    def _vet(self, suggestion: Suggestion, request_id: str | None) -> VetResult:
        unit = language_for(suggestion.language, suggestion.path)
        if unit is None:
            return self._unvetted_language(suggestion)
        result = self._vet_unit(unit, suggestion, request_id)
        result.language = unit.name
        return result

    def _vet_unit(self, unit: Any, suggestion: Suggestion, request_id: str | None) -> VetResult:
        language = unit.name

        def tagged(found: list[Finding]) -> list[Finding]:
            return [dataclasses.replace(f, language=language) for f in found]

        shown, note = suggestion, None
        placed = place(suggestion)
        try:
            tree = unit.syntax.parse(placed.code)
        except (SyntaxError, ValueError) as exc:
            error = exc if isinstance(exc, SyntaxError) else SyntaxError(f"{exc.__class__.__name__}: {exc}")
            region = find_region(unit.syntax, suggestion, error)
            if isinstance(region, CannotVet):
                return self.held_unvetted(
                    suggestion,
                    "not-vetted",
                    region.reason,
                    Finding("syntax", "syntax.error", Level.INFO, Level.HIGH, region.reason, language=language),
                )
            shown, suggestion, note = dataclasses.replace(suggestion, text=region.shown), region.suggestion, region.note
            # Same lines as the placed document: findings map back to it as they would.
            placed = dataclasses.replace(region.placed, code=region.code)
            tree = unit.syntax.parse(placed.code)
        raw, holds = unit.static_checks(self, placed.code, tree)
        found, summary = self.capability_findings(unit, tree, placed, suggestion.document)
        raw += found
        findings = without_vouched(
            [
                f if placed.in_suggestion(f.line, f.end_line) else dataclasses.replace(f, origin=Origin.DOCUMENT)
                for f in tagged(raw)
            ],
            placed.code,
        )
        if note is not None:
            findings.append(Finding("syntax", "syntax.region", Level.INFO, Level.HIGH, note, language=language))
        findings.extend(tagged(self._edit_findings(suggestion, placed)))
        static = decide(self.policy, findings, holds, placed.where)

        result: RunResult | None = None
        skipped: str | None = None
        reported: list[Finding] = []  # findings that are reported but do not decide
        if static.verdict is Verdict.BLOCK:
            skipped = "not run: the static checks already block this suggestion"
        elif (runtime := runtime_for(unit, suggestion.path)) is None:
            skipped, found, hold, reported = self._no_runtime(language, placed, not_run_why(unit, suggestion.path))
            findings.extend(found)
            holds.extend(hold)
        else:
            # An untrusted workspace's own code is never executed: the suggestion runs alone.
            result, run_findings, skipped = self._run(placed, suggestion, self.loaded.trusted, request_id, runtime)
            findings.extend(tagged(run_findings))
            if skipped and self.policy.sandbox.required:
                holds.append(_hold("sandbox-required", skipped))
            elif result is not None and result.error and self.policy.sandbox.required:
                holds.append(_hold("sandbox-required", f"the sandbox run failed: {result.error}"))
        decision = decide(self.policy, findings, holds, placed.where)
        findings.extend(reported)
        return VetResult(shown, decision, findings, result, skipped, self.loaded.digest, placed, note, summary)

    def _no_runtime(
        self, language: str, placed: Placed, because: str | None = None
    ) -> tuple[str, list[Finding], list[Reason], list[Finding]]:
        """A language no sandbox runs yet: what was not done, as a finding the policy decides
        (`sandbox.unsupported-language`: the presets hold it for review), a hold when the rules
        leave it allowed but `sandbox.required` is on (fail closed), or, when the policy's
        `languages.unvetted` says "allow", a finding reported beside an unchanged decision.
        `because`: why this file is not run where its language is (a TSX file). Returns (why no run,
        deciding findings, holds, reported findings)."""
        if because is None:
            why = f"{language} cannot run in Sandgate's sandbox yet: only the static checks vetted this suggestion"
        else:
            why = f"{because}; only the static checks vetted this suggestion"
        skipped = f"not run: {why}"
        if self.policy.languages.unvetted == "allow":
            note = Finding(
                "sandbox",
                "sandbox.unsupported-language",
                Level.INFO,
                Level.HIGH,
                f'{why} (languages.unvetted = "allow")',
                line=placed.first_line,
                end_line=placed.last_line,
                language=language,
            )
            return skipped, [], [], [note]
        finding = Finding(
            "sandbox",
            "sandbox.unsupported-language",
            Level.MEDIUM,
            Level.HIGH,
            f"{why}; its behaviour was not observed, so a person decides",
            line=placed.first_line,
            end_line=placed.last_line,
            more_info="https://github.com/sandgate/sandgate/blob/main/docs/static-checks.md#javascript-and-typescript",
            language=language,
        )
        holds: list[Reason] = []
        if self.policy.sandbox.required and decide_finding(self.policy, finding).verdict is Verdict.ALLOW:
            holds.append(_hold("sandbox-required", skipped))
        return skipped, [finding], holds, []

    def _edit_findings(self, suggestion: Suggestion, placed: Placed) -> list[Finding]:
        """A suggestion placed in a document the policy protects (`files.protected`), whatever its language."""
        if suggestion.document is None:
            return []
        return protected_edit(suggestion.path, self.policy.files, placed.first_line, placed.last_line)

    def _unparsed_findings(self, suggestion: Suggestion) -> list[Finding]:
        """What is found without parsing the code: a secret, an edit of a protected file."""
        return find_secrets(suggestion.text) + self._edit_findings(suggestion, place(suggestion))

    def held_unvetted(self, suggestion: Suggestion, rule_id: str, why: str, *noted: Finding) -> VetResult:
        """Held for review because nothing could be vetted; a secret in the text, or an edit of a
        protected file, still blocks."""
        language = self._language(suggestion)
        findings = [dataclasses.replace(f, language=language) for f in self._unparsed_findings(suggestion)]
        decision = decide(self.policy, findings, [_hold(rule_id, why)])
        findings.extend(noted)
        return self._not_run(suggestion, decision, findings, why, language)

    def _not_run(
        self, suggestion: Suggestion, decision: Decision, findings: list[Finding], why: str, language: str
    ) -> VetResult:
        """The result of a vet that ran nothing, for `why`."""
        return VetResult(
            suggestion,
            decision,
            findings,
            None,
            f"not run: {why}",
            self.loaded.digest,
            place(suggestion),
            why,
            language=language,
        )

    @staticmethod
    def _language(suggestion: Suggestion) -> str:
        unit = language_for(suggestion.language, suggestion.path)
        return unit.name if unit is not None else language_name(suggestion.language, suggestion.path)

    def _unvetted_language(self, suggestion: Suggestion) -> VetResult:
        """A language without a unit: held (`languages.unvetted` = skip or review), or allowed with a
        `not-vetted` finding (= allow). A secret in the text is found and decided all the same."""
        name = language_name(suggestion.language, suggestion.path)
        handling = self.policy.languages.unvetted
        why = f"{name} is not vetted: Sandgate has no vetting pipeline for it"
        if handling != "allow":
            return self.held_unvetted(suggestion, "language-not-vetted", why)
        findings = [dataclasses.replace(f, language=name) for f in self._unparsed_findings(suggestion)]
        decision = decide(self.policy, findings)
        # Decided apart from the rules: the policy's own key chose to show it.
        findings.append(
            Finding(
                "policy", "not-vetted", Level.INFO, Level.HIGH, f'{why} (languages.unvetted = "allow")', language=name
            )
        )
        return self._not_run(suggestion, decision, findings, why, name)

    def close(self) -> None:
        """Forget the backend. Backends are shared by every vetter of the process (their warm
        pools outlive a policy reload): `sandbox.select.close_all()` closes them."""
        with self._backend_lock:
            self._backend, self._probes = None, None


def _refusal_rule(finding: Finding, network: NetworkPolicy) -> str:
    """The rule that refused a connection or look-up the monitor saw (not through the proxy): the
    proxy's own rules (`decide_host`) for a connection; for a look-up (no port) the deny entry that
    denies the name on every port, or the default deny. The values docs/network.md lists."""
    host, port = str(finding.detail("host", "")), finding.detail("port")
    if isinstance(port, int) and not isinstance(port, bool):
        return decide_host(host, port, network).rule
    for text in network.deny_hosts:
        pattern = parse_pattern(text)
        if pattern.denies_every_port and pattern.matches_host(host):
            return f"network.deny_hosts:{text}"
    return RULE_DEFAULT_DENY
