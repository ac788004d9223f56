"""One pure function from a sandbox run to findings (source "sandbox"; "syntax" for code that
does not compile). The policy maps the rule ids to decisions; keep them stable.

Two accounts of a run feed it: the in-process monitor's events (Python's view, with detail) and
the supervisor's record (the system calls, out of the program's reach). Both become findings the
same way; where they disagree, `monitor.tampered` says so; where the record is missing,
`monitor.lost` holds the suggestion.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sandgate.checks.protected_files import RULE_WRITE as PROTECTED_WRITE
from sandgate.checks.shell import download_and_run, shell_command
from sandgate.checks.shell import join as shell_join
from sandgate.egress import decide_host, decision_finding
from sandgate.findings import Finding, Level, details
from sandgate.policy import hosts
from sandgate.sandbox import honeytokens, limit_classifier, protocol, proxy_wiring, tampering
from sandgate.sandbox.base import RunRequest, RunResult
from sandgate.sandbox.run_output import error_line, last_line
from sandgate.sandbox.secret_paths import is_secret_path
from sandgate.workspace_globs import matching_glob, workspace_relpath

SOURCE = "sandbox"
# Writes that go nowhere: not a write outside scratch worth holding a suggestion for.
HARMLESS_WRITES = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/proc/self/fd/1", "/proc/self/fd/2")
LIMIT_TEXT = {
    "time": "ran out of time",
    "memory": "ran out of memory",
    "processes": "hit the process limit",
    "output": "hit the output limit",
    "open-files": "hit the open-files limit",
    "scratch": "filled its scratch space",
    "file-size": "hit the file-size limit",
}
ARM_FAILED = "sandgate: the sandbox monitor could not be armed"
# Stand-in URLs and hosts the exercise passes as arguments (bootstrap.py): names that never resolve.
STANDIN_HOST = "sandgate-standin.invalid"
NETWORK_CLIENTS = honeytokens.NETWORK_CLIENTS


# How a look at a secret's path was made, in words (the in-process monitor names the audit event).
_PROBE_WORDS = {
    "stat": "a look (stat/exists) at",
    "access": "an access check of",
    "listing": "a listing of",
    "os.listdir": "a listing of",
    "os.scandir": "a listing of",
    "glob.glob": "a glob in",
    "glob.glob/2": "a glob in",
}


def _placed(f: Finding, ev: dict[str, Any]) -> Finding:
    """Where in the suggestion an event happened, and in which exercised function."""
    where, line = ev.get("in"), ev.get("line")
    if not where and not line:
        return f
    message = f.message + (f" in {where}()" if where else "")
    line = int(line) if isinstance(line, int) else 0
    return dataclasses.replace(f, message=message, line=line, end_line=line)


def _honey_findings(result: RunResult, request: RunRequest, outside: list[dict[str, Any]]) -> list[Finding]:
    """secret.exfiltration where a honeytoken left the run (secret.use where it went only as a
    credential to its own service's hosts); secret.honeytoken-read where one was read."""
    honey = honeytokens.of(result, request)
    hits = result.honey_hits
    if hits is None:
        hits = honeytokens.hits(result.events, outside, honey)
    found = []
    for hit in hits:
        if hit.get("use"):
            hosts = ", ".join(hit.get("hosts") or ())
            f = _finding(
                "secret.use",
                Level.LOW,
                f"A planted secret ({hit['token']}) was sent as a credential to {hosts}, a host of the "
                f"service it is named for, through {hit['sink']}",
                token=hit["token"],
                sink=hit["sink"],
                hosts=tuple(hit.get("hosts") or ()),
            )
            found.append(_placed(f, hit))
            continue
        f = _finding(
            "secret.exfiltration",
            Level.HIGH,
            (f"A planted secret ({hit['token']})" if hit["token"] != "a planted secret" else "A planted secret")
            + f" reached {hit['sink']}, seen by {hit['seen_by']}",
            token=hit["token"],
            sink=hit["sink"],
        )
        found.append(_placed(f, hit))
    for read in honeytokens.reads(result.events, outside, honey):
        is_file = read["kind"] == "file"
        f = _finding(
            "secret.honeytoken-read",
            Level.MEDIUM if is_file else Level.LOW,
            f"The code read {read['token']} (a planted secret: the run's fake "
            + ("credentials file)" if is_file else "environment variable)"),
            token=read["token"],
            kind=read["kind"],
        )
        found.append(_placed(f, read))
    return found


# How a call ended, as the bootstrap reports it (`state`), in words.
_ENDED = {"returned": "returned normally", "timed-out": "timed out", "missing": "was not found"}


def _ended(event: dict) -> str:
    state = str(event.get("state"))
    return _ENDED.get(state, state)


def _exercise_findings(result: RunResult, request: RunRequest) -> list[Finding]:
    """What the calls of the suggestion's functions came to (INFO), and a report that stops short."""
    if not request.exercise:
        return []
    calls = [ev for ev in result.events if ev.get("kind") == "exercise" and ev.get("state") != "call"]
    done = any(ev.get("kind") == "exercise-done" for ev in result.events)
    out = []
    if calls:
        said = "; ".join(
            f"{ev.get('qual')}() {_ended(ev)}" + (f" ({ev.get('error')})" if ev.get("error") else "") for ev in calls
        )
        sentence = f"Sandgate called the suggestion's functions with stand-in arguments: {said}."
        out.append(
            _finding(
                "exercise.calls",
                Level.INFO,
                sentence if len(sentence) <= 600 else sentence[:599] + "…",
                calls=tuple(str(ev.get("qual")) for ev in calls),
            )
        )
    for ev in calls:
        if ev.get("lines") and not ev.get("reached"):
            why = f" ({ev.get('error')})" if ev.get("error") else ""
            retried = " even with stand-ins for every argument" if ev.get("retried") else ""
            f = _finding(
                "exercise.unreached",
                Level.LOW,
                f"The call of {ev.get('qual')}() {_ended(ev)}{why} before any line of the suggestion "
                f"in it ran{retried}: what those lines do was not seen",
                function=str(ev.get("qual")),
                state=str(ev.get("state")),
                lines=int(ev.get("lines") or 0),
            )
            line = int(ev.get("line") or 0)
            out.append(dataclasses.replace(f, line=line, end_line=line) if line else f)
    stopped = result.killed or result.timed_out
    # A program the runtime could not compile (TypeScript that type stripping refuses) ran nothing.
    refused = any(ev.get("kind") == "syntax-error" for ev in result.events)
    if not done and not stopped and not result.error and not refused:
        out.append(
            _finding(
                "exercise.incomplete",
                Level.MEDIUM,
                "The run ended before the suggestion's functions were all called (the code exited, "
                "or switched the exercise off)",
                wanted=tuple(q for q, _ in request.exercise),
            )
        )
    return out


def _finding(rule: str, severity: Level, message: str, source: str = SOURCE, **kw: Any) -> Finding:
    return Finding(
        source=source, rule=rule, severity=severity, confidence=Level.HIGH, message=message, details=details(**kw)
    )


def host_allowed(host: str, request: RunRequest, port: object = None) -> bool:
    """The proxy's own decision on `host:port`; without a port (a name look-up), whether the
    host is allowed on some port (`sandgate.policy.hosts`)."""
    net = request.network
    if isinstance(port, int) and not isinstance(port, bool):
        return decide_host(host, port, net).allowed
    return hosts.host_allowed(host, net)


def _is_forwarder(ev: dict[str, Any]) -> bool:
    """The program talking to the egress forwarder (its proxy variables point there)."""
    return str(ev.get("host", "")) == "127.0.0.1" and ev.get("port") == proxy_wiring.FORWARDER_PORT


def _protected_write(path: str, what: str, request: RunRequest) -> list[Finding]:
    """A write the run attempted to a workspace file `files.protected` names (the workspace is the
    sandbox's /workspace)."""
    relpath = workspace_relpath(path, protocol.WORKSPACE) if request.protected else None
    pattern = matching_glob(relpath, request.protected) if relpath else None
    if pattern is None:
        return []
    return [
        _finding(
            PROTECTED_WRITE,
            Level.HIGH,
            f"The code tried to {what} {relpath}, which the policy protects (files.protected: {pattern!r})",
            path=relpath,
            pattern=pattern,
        )
    ]


def _withheld(path: str, request: RunRequest) -> bool:
    """A workspace file the run never sees (`files.exclude`: the project's `.env`, its keys), so a
    look at it finds nothing: loading the project's own `.env` (dotenv) is not a search for secrets."""
    relpath = workspace_relpath(path, protocol.WORKSPACE)
    return relpath is not None and matching_glob(relpath, request.exclude) is not None


def _spawn_findings(argv: list[str]) -> list[Finding]:
    """What a started process was, read like the static rules read a command (checks/shell.py): a
    command that downloads and runs code, or any command through a shell. The sandbox has no shell
    and no network, so the command itself failed: these findings say what the code meant to do,
    whichever way it reached the spawn (a computed name, a blinded monitor)."""
    command = shell_command(argv)
    fetched = download_and_run(command if command is not None else shell_join(argv))
    found = []
    if fetched:
        found.append(
            _finding(
                "process.download-and-run",
                Level.HIGH,
                f"The code ran a command that {fetched}: {' '.join(argv)[:200]}",
                argv=tuple(argv),
            )
        )
    if command is not None:
        found.append(
            _finding(
                "process.shell", Level.MEDIUM, f"The code ran a shell command: {command[:200]}", command=command[:500]
            )
        )
    return found


def _monitor_findings(result: RunResult, syntax: bool, runtime: str = "python") -> list[Finding]:
    """`monitor.lost` when nothing outside recorded the run, `monitor.tampered` when the in-process
    report disagrees with what was recorded."""
    outside = result.outside
    if outside is None or outside.lost or not outside.armed:
        if outside is not None and outside.error:
            why = outside.error
        elif ARM_FAILED in result.stderr:
            why = last_line(result.stderr[result.stderr.index(ARM_FAILED) :])
        else:
            why = "no supervisor recorded this run"
        return [
            _finding(
                "monitor.lost", Level.HIGH, f"Nothing outside the sandbox recorded what the code did: {why}", reason=why
            )
        ]
    found = tampering.reasons(
        result.events,
        outside,
        stopped=bool(result.killed or result.timed_out),
        syntax_error=syntax,
        secret_path=is_secret_path,
        detailed=runtime == "python",
    )
    if not found:
        return []
    return [
        _finding(
            "monitor.tampered",
            Level.HIGH,
            "The code interfered with the sandbox's in-process monitor: " + "; ".join(found),
            reasons=tuple(found),
        )
    ]


def _outside_events(result: RunResult) -> list[dict[str, Any]]:
    """The supervisor's events in the in-process vocabulary (connect, open-write, open-read, spawn)."""
    outside = result.outside
    if outside is None or outside.lost:
        return []
    events = []
    for ev in outside.events:
        kind = ev.get("kind")
        if kind == "connect" and not tampering.expected_connect(ev):
            events.append(
                {"kind": "connect", "family": ev.get("family"), "host": ev.get("host"), "port": ev.get("port")}
            )
        elif kind in ("open-write", "open-read"):
            events.append(ev)
            if ev.get("dir"):  # a folder where secrets live, opened to list it (os.listdir, glob)
                events.append({"kind": "probe", "how": "listing", "path": ev.get("path")})
        elif kind == "probe":  # a look at such a path by name (stat, exists, access)
            events.append({"kind": "probe", "how": ev.get("how"), "path": ev.get("path")})
        elif kind == "fs-change":
            events.append({"kind": "fs-change", "op": ev.get("op"), "path": ev.get("path")})
        elif kind == "execve":
            events.append({"kind": "spawn", "argv": tampering.command_of(ev)})
    return events


def findings_from_run(result: RunResult, request: RunRequest) -> list[Finding]:
    if result.error:
        # The run proves nothing: HIGH so that the policy holds the suggestion.
        return [
            _finding(
                "backend.error",
                Level.HIGH,
                f"The sandbox could not run the code: {result.error}",
                backend=result.backend,
                error=result.error,
            )
        ]
    # The bootstrap's own planting of the honeytokens is not the program's doing.
    result = dataclasses.replace(
        result, outside=honeytokens.without_planting(result.outside, honeytokens.of(result, request))
    )
    out: list[Finding] = []
    seen: set[tuple] = set()
    spawns: set[tuple[str, ...]] = set()
    current: dict[str, Any] = {}  # the event being read: where its findings happened

    def add(f: Finding) -> None:
        key = (f.source, f.rule, repr(f.details))
        if key not in seen:
            seen.add(key)
            out.append(_placed(f, current))

    syntax = False
    # With the proxy up, the network findings come from its decisions; the forwarder is not a host.
    proxied = any(ev.get("kind") == proxy_wiring.EV_PROXY for ev in result.events)
    outside = _outside_events(result)
    for finding in _honey_findings(result, request, outside):
        add(finding)
    for ev in [*result.events, *outside]:
        current.clear()
        current.update(ev)
        kind = ev.get("kind")
        if kind == proxy_wiring.EV_DECISION:
            decision = proxy_wiring.decision_of(ev)
            if decision is not None:
                add(decision_finding(decision))
            continue
        if kind == proxy_wiring.EV_UNAVAILABLE:
            reason = str(ev.get("reason", ""))
            add(
                _finding(
                    "egress.unavailable",
                    Level.LOW,
                    f"The policy allows hosts, but the run had no network: {reason}".rstrip(": "),
                    where=ev.get("where"),
                    reason=reason,
                )
            )
            continue
        if kind == "connect" and proxied and _is_forwarder(ev):
            continue
        if kind == "syntax-error":
            syntax = True
            line = int(ev.get("line") or 0)
            add(
                Finding(
                    source="syntax",
                    rule="syntax.error",
                    severity=Level.INFO,
                    confidence=Level.HIGH,
                    message=f"The code does not compile: {ev.get('msg', '')}",
                    line=line,
                    end_line=line,
                    col=max(int(ev.get("col") or 1) - 1, 0),
                    details=details(msg=ev.get("msg", "")),
                )
            )
        elif kind in ("connect", "dns"):
            host = str(ev.get("host", ""))
            if host.lower().rstrip(".").endswith(STANDIN_HOST):
                continue  # an exercise's stand-in URL: a name that resolves nowhere
            if not host_allowed(host, request, ev.get("port") if kind == "connect" else None):
                family = ev.get("family", "dns" if kind == "dns" else "?")
                what = "looked up" if kind == "dns" else "connected to"
                target = f"{host}:{ev.get('port')}" if ev.get("port") is not None else host
                add(
                    _finding(
                        "network.denied",
                        Level.HIGH,
                        f"The code {what} {target}; the network is closed",
                        host=host,
                        port=ev.get("port"),
                        family=family,
                    )
                )
        elif kind == "open-write" and not ev.get("in_scratch"):
            path = str(ev.get("path", ""))
            if path not in HARMLESS_WRITES:
                add(_finding("fs.write-outside-scratch", Level.HIGH, f"The code tried to write {path}", path=path))
                for finding in _protected_write(path, "write", request):
                    add(finding)
        elif kind == "open-read":
            path = str(ev.get("path", ""))
            sev = Level.HIGH if is_secret_path(path) else Level.LOW
            add(_finding("fs.read-outside-workspace", sev, f"The code read {path}", path=path))
        elif kind == "fs-change":
            path = str(ev.get("path", ""))
            add(
                _finding(
                    "fs.write-outside-scratch",
                    Level.HIGH,
                    f"The code tried to {ev.get('op', 'change')} {path}",
                    path=path,
                )
            )
            for finding in _protected_write(path, str(ev.get("op", "change")), request):
                add(finding)
        elif kind == "spawn":
            argv = [str(a) for a in ev.get("argv") or []]
            if tampering.spawn_key(argv) in spawns:
                continue  # the same launch, told by the program and by the system call
            spawns.add(tampering.spawn_key(argv))
            add(
                _finding(
                    "process.spawn", Level.LOW, f"The code started a process: {' '.join(argv)[:200]}", argv=tuple(argv)
                )
            )  # a tuple: findings stay hashable
            for finding in _spawn_findings(argv):
                add(finding)
        elif kind == "workspace-withheld":
            add(
                _finding(
                    "workspace.withheld",
                    Level.INFO,
                    f"The run did not see the workspace: {ev.get('reason', '')}",
                    reason=str(ev.get("reason", "")),
                )
            )
        elif kind == "probe":
            path = str(ev.get("path", ""))
            if is_secret_path(path) and not _withheld(path, request):
                add(
                    _finding(
                        "secret.probe",
                        Level.MEDIUM,
                        f"The code looked for secrets: {_PROBE_WORDS.get(str(ev.get('how')), ev.get('how'))} {path}",
                        path=path,
                    )
                )
        elif kind == "standin-call" and honeytokens.network_client(str(ev.get("what", ""))):
            for host in honeytokens.url_hosts(str(ev.get("args", ""))):
                if not host.endswith(STANDIN_HOST) and not host_allowed(host, request):
                    add(
                        _finding(
                            "network.standin",
                            Level.LOW,
                            f"The code called {ev.get('what')}() for {host}; the module is not in the sandbox, "
                            "so a stand-in took the call",
                            host=host,
                            call=ev.get("what"),
                        )
                    )
        elif kind == "exec":
            add(
                _finding(
                    "exec.dynamic",
                    Level.LOW,
                    "The code runs dynamically built code",
                    how=ev.get("how"),
                    snippet=ev.get("snippet", ""),
                )
            )

    current.clear()
    for finding in _exercise_findings(result, request):
        add(finding)

    hit: list[str] = []
    if result.killed:
        hit.append(result.killed)
    if result.timed_out:
        hit.append("time")
    if result.output_truncated:
        hit.append("output")
    hit += sorted(limit_classifier.from_stderr(result.stderr))
    # Seen from outside, so they count even when the code caught the error.
    if result.outside is not None and not result.outside.lost:
        hit += sorted(result.outside.limits)
    for name in dict.fromkeys(hit):
        add(_finding(f"limit.{name}", Level.MEDIUM, f"The code {LIMIT_TEXT.get(name, 'hit a limit')}", limit=name))

    for finding in _monitor_findings(result, syntax, request.runtime):
        add(finding)

    if result.exit_code not in (0, None) and not result.killed and not syntax:
        last = error_line(result.stderr, request.runtime)
        add(
            _finding(
                "run.error",
                Level.INFO,
                f"The code exited with status {result.exit_code}: {last}".rstrip(": "),
                exit_code=result.exit_code,
                last_line=last,
            )
        )
    return out
