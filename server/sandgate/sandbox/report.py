"""One pure function from a sandbox run to findings (source "sandbox"; "syntax" for code that
does not compile). The policy maps the rule ids to decisions; keep them stable."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from sandgate.findings import Finding, Level, details
from sandgate.sandbox import limits
from sandgate.sandbox.base import RunRequest, RunResult

SOURCE = "sandbox"
# Writes that go nowhere: not a write outside scratch worth holding a suggestion for.
HARMLESS_WRITES = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/proc/self/fd/1", "/proc/self/fd/2")
SECRET_PATHS = re.compile(
    r"(/\.ssh(/|$)|/\.aws(/|$)|/\.gnupg(/|$)|/\.kube(/|$)|/\.docker/config\.json$|/\.netrc$|/\.git-credentials$"
    r"|/\.config/gcloud(/|$)|/\.pypirc$|/\.npmrc$|^/etc/shadow|^/etc/gshadow|^/etc/sudoers|/environ$"
    r"|/\.env$|/id_(rsa|dsa|ecdsa|ed25519)|/\.bash_history$)"
)
LIMIT_TEXT = {
    "time": "ran out of time",
    "memory": "ran out of memory",
    "processes": "hit the process limit",
    "output": "hit the output limit",
    "open-files": "hit the open-files limit",
}


def _finding(rule: str, severity: Level, message: str, source: str = SOURCE, **kw: Any) -> Finding:
    return Finding(source=source, rule=rule, severity=severity, confidence=Level.HIGH, message=message,
                   details=details(**kw))


def host_allowed(host: str, request: RunRequest) -> bool:
    net = request.network
    if any(fnmatch.fnmatchcase(host, p) for p in net.deny_hosts):
        return False
    return any(fnmatch.fnmatchcase(host, p) for p in net.allow_hosts)


def is_secret_path(path: str) -> bool:
    return bool(SECRET_PATHS.search(path))


def findings_from_run(result: RunResult, request: RunRequest) -> list[Finding]:
    if result.error:
        # The run proves nothing: HIGH so that the policy holds the suggestion.
        return [_finding("backend.error", Level.HIGH, f"The sandbox could not run the code: {result.error}",
                         backend=result.backend, error=result.error)]
    out: list[Finding] = []
    seen: set[tuple] = set()

    def add(f: Finding) -> None:
        key = (f.source, f.rule, repr(f.details))
        if key not in seen:
            seen.add(key)
            out.append(f)

    syntax = False
    for ev in result.events:
        kind = ev.get("kind")
        if kind == "syntax-error":
            syntax = True
            line = int(ev.get("line") or 0)
            add(Finding(source="syntax", rule="syntax.error", severity=Level.INFO, confidence=Level.HIGH,
                        message=f"The code does not compile: {ev.get('msg', '')}", line=line, end_line=line,
                        col=max(int(ev.get("col") or 1) - 1, 0), details=details(msg=ev.get("msg", ""))))
        elif kind in ("connect", "dns"):
            host = str(ev.get("host", ""))
            if kind == "dns" or not host_allowed(host, request):
                if kind == "dns" and host_allowed(host, request):
                    continue
                family = ev.get("family", "dns" if kind == "dns" else "?")
                what = "looked up" if kind == "dns" else "connected to"
                target = f"{host}:{ev.get('port')}" if ev.get("port") is not None else host
                add(_finding("network.denied", Level.HIGH, f"The code {what} {target}; the network is closed",
                             host=host, port=ev.get("port"), family=family))
        elif kind == "open-write" and not ev.get("in_scratch"):
            path = str(ev.get("path", ""))
            if path not in HARMLESS_WRITES:
                add(_finding("fs.write-outside-scratch", Level.HIGH, f"The code tried to write {path}", path=path))
        elif kind == "open-read":
            path = str(ev.get("path", ""))
            sev = Level.HIGH if is_secret_path(path) else Level.LOW
            add(_finding("fs.read-outside-workspace", sev, f"The code read {path}", path=path))
        elif kind == "spawn":
            argv = [str(a) for a in ev.get("argv") or []]
            add(_finding("process.spawn", Level.LOW, f"The code started a process: {' '.join(argv)[:200]}",
                         argv=tuple(argv)))  # a tuple: findings stay hashable
        elif kind == "exec":
            add(_finding("exec.dynamic", Level.LOW, "The code runs dynamically built code",
                         how=ev.get("how"), snippet=ev.get("snippet", "")))

    hit: list[str] = []
    if result.killed:
        hit.append(result.killed)
    if result.timed_out:
        hit.append("time")
    if result.output_truncated:
        hit.append("output")
    hit += sorted(limits.from_stderr(result.stderr))
    for name in dict.fromkeys(hit):
        add(_finding(f"limit.{name}", Level.MEDIUM, f"The code {LIMIT_TEXT.get(name, 'hit a limit')}", limit=name))

    if result.exit_code not in (0, None) and not result.killed and not syntax:
        last = limits.last_line(result.stderr)
        add(_finding("run.error", Level.INFO, f"The code exited with status {result.exit_code}: {last}".rstrip(": "),
                     exit_code=result.exit_code, last_line=last))
    return out
