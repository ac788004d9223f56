"""Writing decisions and approvals to the workspace's `.sandgate/audit.jsonl`.

A thin adapter over `sandgate.audit.log.AuditLog` (blocking: call it from a worker thread).
Without a workspace folder there is no audit log; that is reported once. A log that cannot be
written raises `Unrecorded`: what needed the record (an allowed suggestion shown, an approval,
an acceptance, a suppression) does not go ahead, and the status says why until a write succeeds.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandgate.audit import DEFAULT_RELPATH as AUDIT_RELPATH
from sandgate.audit import workspace_log
from sandgate.audit.verify import verify

log = logging.getLogger(__name__)


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry, no env: still record something
        return "unknown"


class Unrecorded(Exception):
    """The audit log exists but the record could not be written (the message says why)."""


class AuditSink:
    def __init__(self, workspace: Path | None, client_name: str | None) -> None:
        self.workspace = workspace
        self.path = workspace / AUDIT_RELPATH if workspace else None
        # No folder below the workspace nor file of the log is followed through a link.
        self._log = workspace_log(workspace) if workspace else None
        self.actor = {"user": current_user(), "client": client_name or "unknown"}
        self.last_error: str | None = None

    @property
    def decided_by(self) -> str:
        """Who decides when the user does, as audit records and telemetry name them."""
        return f"user:{self.actor['user']}"

    def append(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The stored record; None without a workspace (no log). Raises Unrecorded."""
        stored = self.append_all([record])
        return stored[0] if stored else None

    def append_all(
        self, records: list[dict[str, Any]], on_written: Callable[[list[dict[str, Any]]], None] | None = None
    ) -> list[dict[str, Any]]:
        """The stored records, in one write (`AuditLog.append_all`); [] without a workspace.
        Raises Unrecorded."""
        if self._log is None:
            return []
        records = [{**record, "actor": self.actor} for record in records]

        try:
            stored = self._log.append_all(records, on_written)
        except Exception as exc:  # reported through the status; the caller fails closed
            self.last_error = f"the audit log cannot be written: {exc}"
            log.error("%s", self.last_error)
            raise Unrecorded(self.last_error) from exc
        self.last_error = None
        return stored

    def verify(self) -> dict[str, Any]:
        if self.path is None:
            return {"ok": False, "message": "no workspace folder: there is no audit log"}
        # Always verify: a missing live file with rotated files (or a head file) beside it is
        # damage, not an empty log; `verify` reports a truly empty log as ok with 0 records.
        report = verify(self.path, self.workspace)
        return {"ok": report.ok, "message": report.message, "records": report.records}
