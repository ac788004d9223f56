"""Timestamps as Sandgate writes them: UTC, ISO 8601, microseconds, `Z` (audit records, held suggestions)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_timestamp(now: datetime | None = None) -> str:
    """`now` (default: this moment) as `2026-01-31T12:00:00.000000Z`."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
