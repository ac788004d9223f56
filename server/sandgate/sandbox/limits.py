"""How a stopped run is classified: which limit killed it, from what is seen outside."""

from __future__ import annotations

# Python's own words when a limit bites from inside (rlimits, pids cgroup, RLIMIT_AS).
_MEMORY = ("MemoryError",)
_PROCESSES = ("[Errno 11] Resource temporarily unavailable",)
_OPEN_FILES = ("[Errno 24] Too many open files",)


def from_stderr(stderr: str) -> set[str]:
    """Limits the program ran into, as named in its stderr ("memory", "processes", "open-files")."""
    found = set()
    if any(s in stderr for s in _MEMORY):
        found.add("memory")
    if any(s in stderr for s in _PROCESSES):
        found.add("processes")
    if any(s in stderr for s in _OPEN_FILES):
        found.add("open-files")
    return found


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
