"""The tamper-evident audit log: a hash chain of JSON lines under `.sandgate/`.

`AuditLog(path).append(record)` writes a record durably; `verify(path)` names the first
record that was edited, removed, reordered or torn. See docs/audit.md for the format.
"""

from pathlib import Path

from sandgate.audit.errors import AuditError
from sandgate.audit.log import AuditLog
from sandgate.audit.verify import VerifyReport, verify

# Where a workspace keeps its log, relative to the workspace root.
DEFAULT_RELPATH = ".sandgate/audit.jsonl"


def workspace_log(workspace: Path) -> AuditLog:
    """The workspace's own log: no folder below the workspace, nor any file of the log, is
    followed through a symbolic link (the workspace may be a repository someone else wrote)."""
    return AuditLog(workspace / DEFAULT_RELPATH, root=workspace)


__all__ = ["DEFAULT_RELPATH", "AuditError", "AuditLog", "VerifyReport", "verify", "workspace_log"]
