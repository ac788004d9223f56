"""Writing decisions and approvals to the workspace's `.sandgate/audit.jsonl`.

A thin adapter over `sandgate.audit.log.AuditLog` (blocking: call it from a worker thread).
Without a workspace folder there is no audit log; that is reported once.
"""

from __future__ import annotations

import getpass
import logging
from pathlib import Path
from typing import Any

from sandgate.audit import DEFAULT_RELPATH as AUDIT_RELPATH
from sandgate.audit.log import AuditLog
from sandgate.audit.verify import verify

log = logging.getLogger(__name__)


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry, no env: still record something
        return "unknown"


class AuditSink:
    def __init__(self, workspace: Path | None, client_name: str | None) -> None:
        self.path = workspace / AUDIT_RELPATH if workspace else None
        self._log = AuditLog(self.path) if self.path else None
        self.actor = {"user": current_user(), "client": client_name or "unknown"}
        self.last_error: str | None = None

    @property
    def decided_by(self) -> str:
        """Who decides when the user does, as audit records and telemetry name them."""
        return f"user:{self.actor['user']}"

    def append(self, record: dict[str, Any]) -> dict[str, Any] | None:
        if self._log is None:
            return None
        record = {**record, "actor": self.actor}
        try:
            stored = self._log.append(record)
        except Exception as exc:  # never into the event loop; reported through the status
            self.last_error = f"the audit log cannot be written: {exc}"
            log.error("%s", self.last_error)
            return None
        self.last_error = None
        return stored

    def verify(self) -> dict[str, Any]:
        if self.path is None:
            return {"ok": False, "message": "no workspace folder: there is no audit log"}
        # Always verify: a missing live file with rotated files (or a head file) beside it is
        # damage, not an empty log; `verify` reports a truly empty log as ok with 0 records.
        report = verify(self.path)
        return {"ok": report.ok, "message": report.message, "records": report.records}
