"""Reading records back and filtering them (`sandgate audit show`, exports).

Reading does not verify: a caller that needs to trust the records runs `verify` first
(the CLI does, and says so when the chain is broken). Unreadable lines are skipped here.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandgate.audit import files

# Every `event` a record carries (docs/audit.md): what the server, `sandgate vet` and the log write.
EVENT_KINDS = ("decision", "approval", "approval-refused", "discard", "acceptance", "suppression", "repair")


def event_problem(event: str) -> str | None:
    """Why `event` is not one to filter on (with the closest kind), or None when it is one."""
    if event in EVENT_KINDS:
        return None
    close = difflib.get_close_matches(event.lower(), EVENT_KINDS, n=1, cutoff=0.6)
    guess = f"; did you mean {close[0]!r}?" if close else ""
    return f"no record has the event {event!r} (the events: {', '.join(EVENT_KINDS)}){guess}"


def iter_records(path: Path, root: Path | None = None) -> Iterator[dict[str, Any]]:
    """Every readable record of the log at `path`, in chain order, rotated files included.

    A file of the log that is a symbolic link raises AuditError (see `files.iter_lines`)."""
    for _, _, line, complete in files.iter_lines(Path(path), root):
        if not complete:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record


def parse_time(text: str) -> datetime:
    """An ISO-8601 date or time; one without a zone is taken as UTC."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class RecordFilter:
    """Every given field must match; None matches all."""

    decision: str | None = None
    since: datetime | None = None
    # fnmatch glob over the record's workspace-relative `file`.
    file_glob: str | None = None
    event: str | None = None

    def matches(self, record: dict[str, Any]) -> bool:
        if self.decision is not None and record.get("decision") != self.decision:
            return False
        if self.event is not None and record.get("event") != self.event:
            return False
        if self.file_glob is not None:
            file = record.get("file")
            if not isinstance(file, str) or not fnmatch.fnmatchcase(file, self.file_glob):
                return False
        if self.since is not None:
            try:
                if parse_time(str(record.get("ts"))) < self.since:
                    return False
            except ValueError:
                return False
        return True


def select(records: Iterable[dict[str, Any]], record_filter: RecordFilter) -> Iterator[dict[str, Any]]:
    return (r for r in records if record_filter.matches(r))


def summary_line(record: dict[str, Any]) -> str:
    """One human line for `audit show`."""
    findings = record.get("findings") or []
    parts = [
        f"{record.get('seq', '?'):>6}",
        str(record.get("ts", "?")),
        f"{record.get('event', '?'):<10}",
        f"{record.get('decision', '-'):<6}",
        str(record.get("decided_by", "-")),
        str(record.get("file", "-")),
        f"sha256:{str(record.get('content_sha256', '-'))[:12]}",
        f"findings={len(findings) if isinstance(findings, list) else '?'}",
    ]
    if record.get("model"):
        parts.append(f"model={record['model']}")
    return "  ".join(parts)
