"""The tamper-evident audit log: a hash chain of JSON lines under `.sandgate/`.

`AuditLog(path).append(record)` writes a record durably; `verify(path)` names the first
record that was edited, removed, reordered or torn. See docs/audit.md for the format.
"""

from sandgate.audit.log import AuditError, AuditLog
from sandgate.audit.verify import VerifyReport, verify

# Where a workspace keeps its log, relative to the workspace root.
DEFAULT_RELPATH = ".sandgate/audit.jsonl"

__all__ = ["DEFAULT_RELPATH", "AuditError", "AuditLog", "VerifyReport", "verify"]
