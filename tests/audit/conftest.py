"""Fixtures for the audit-log tests: generated logs, writer processes, the SARIF schema."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandgate.audit import AuditLog
from sandgate.findings import Finding, Level

HERE = Path(__file__).parent


def make_finding(rule: str = "B602", **kwargs) -> dict:
    base = dict(
        source="bandit",
        rule=rule,
        severity=Level.HIGH,
        confidence=Level.HIGH,
        message="subprocess call with shell=True identified",
        line=2,
        end_line=2,
        col=4,
        end_col=31,
        cwe=78,
        more_info="https://bandit.readthedocs.io/en/latest/plugins/b602_subprocess_popen_with_shell_equals_true.html",
    )
    base.update(kwargs)
    return Finding(**base).to_json()


def decision_record(i: int, decision: str = "review", **extra) -> dict:
    record = {
        "event": "decision",
        "file": f"pkg/mod{i % 3}.py",
        "content_sha256": f"{i:064x}",
        "policy_digest": "d" * 64,
        "decision": decision,
        "decided_by": "policy",
        "findings": [make_finding()] if decision != "allow" else [],
        "model": "gpt-test",
        "request_id": f"req-{i}",
    }
    record.update(extra)
    return record


@dataclass
class GeneratedLog:
    path: Path
    # (start, end) byte offsets of each record's line in the live file, end excluding the newline.
    spans: list[tuple[int, int]]

    def data(self) -> bytes:
        return self.path.read_bytes()

    def record_at(self, offset: int) -> int:
        """The 1-based record whose line, newline included, holds byte `offset`."""
        for number, (start, end) in enumerate(self.spans, 1):
            if start <= offset <= end:
                return number
        raise ValueError(offset)


@pytest.fixture
def make_log(tmp_path):
    """make_log(n) -> GeneratedLog: n records appended through AuditLog, one file."""

    def make(n: int = 5, name: str = "audit.jsonl") -> GeneratedLog:
        path = tmp_path / ".sandgate" / name
        log = AuditLog(path, max_bytes=None)
        for i in range(1, n + 1):
            log.append(decision_record(i, ("allow", "review", "block")[i % 3]))
        spans, offset = [], 0
        for line in path.read_bytes().split(b"\n")[:-1]:
            spans.append((offset, offset + len(line)))
            offset += len(line) + 1
        return GeneratedLog(path, spans)

    return make


# A writer process: appends records and prints each seq once `append` has returned.
# With SLOW_TEAR set, every line is written in two halves with a pause between them,
# so that a kill at a random moment often lands mid-record (a torn line). With
# SELF_KILL set to N, the writer kills itself halfway through writing record N.
WRITER = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    import sandgate.audit.log as audit_log
    from sandgate.audit import AuditLog

    path, count, tag = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    slow = os.environ.get("SLOW_TEAR") == "1"
    self_kill = int(os.environ.get("SELF_KILL", "0"))
    real_write_all = audit_log._write_all
    state = {"n": 0}

    def halves(fd, data):
        if b'"prev":' not in bytes(data):
            return real_write_all(fd, data)  # the head file and side files: untouched
        state["n"] += 1
        half = len(data) // 2
        real_write_all(fd, data[:half])
        if self_kill and state["n"] == self_kill:
            os.kill(os.getpid(), signal.SIGKILL)
        if slow:
            time.sleep(0.01)
        real_write_all(fd, data[half:])

    if slow or self_kill:
        audit_log._write_all = halves
    log = AuditLog(path, max_bytes=None)
    for i in range(count):
        stored = log.append({"event": "decision", "decision": "allow", "decided_by": "policy",
                             "file": f"w/{tag}.py", "content_sha256": "%064x" % i, "findings": [],
                             "writer": tag})
        print(stored["seq"], flush=True)
    """
)


@pytest.fixture
def start_writer():
    """start_writer(path, count, tag, **env) -> Popen of a writer process (stdout piped)."""
    procs = []

    def start(path: Path, count: int, tag: str = "w", **env: str) -> subprocess.Popen:
        import os

        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(count), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **env},
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def sarif_schema() -> dict:
    # Vendored from the npm package @microsoft/jest-sarif 1.0.0-beta.0 (MIT),
    # lib/schemas/sarif-2.1.0-rtm.5.json: the OASIS SARIF 2.1.0 schema as published on
    # SchemaStore. See tests/audit/SCHEMA.md.
    return json.loads((HERE / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


@pytest.fixture
def run_cli(capsys):
    """run_cli(*argv) -> (exit code, stdout, stderr) through `sandgate.cli.audit.register` alone."""
    from sandgate.cli import audit as audit_cli

    def run(*argv: str) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="sandgate")
        audit_cli.register(parser.add_subparsers(dest="command"))
        args = parser.parse_args(list(argv))
        code = args.func(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(name="decision_record")
def decision_record_fixture():
    """decision_record(i, decision="review", **extra) -> a record as the pipeline passes it."""
    return decision_record


@pytest.fixture(name="make_finding")
def make_finding_fixture():
    """make_finding(rule="B602", **Finding fields) -> Finding.to_json()."""
    return make_finding
