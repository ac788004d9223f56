"""Which limit ended a run, from what a backend sees outside the sandbox; and which limits the
program ran into, from its stderr. Both backends classify with `classify`."""

from __future__ import annotations

import signal
from collections.abc import Callable

from sandgate.sandbox.cpu_limit import OUT_OF_CPU

# A SIGKILL as a shell reports it.
KILLED = 128 + signal.SIGKILL
# Python's own words when a limit bites from inside (rlimits, pids cgroup, RLIMIT_AS).
# Node's: V8's heap limit, libuv's errno names.
_MEMORY = ("MemoryError", "JavaScript heap out of memory")
_PROCESSES = ("[Errno 11] Resource temporarily unavailable", "spawn EAGAIN", "spawnSync /usr/local/bin/node EAGAIN")
_OPEN_FILES = ("[Errno 24] Too many open files", "EMFILE: too many open files")


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


def classify(
    stopped: str | None, exit_code: int | None, stderr: str, *, pids_hit_max: bool, oom_killed: Callable[[], bool]
) -> tuple[str | None, bool]:
    """(the limit that ended the run or None, whether it ran out of time): `RunResult.killed` and
    `timed_out`. `stopped`: what the backend stopped the run for ("time", "output"), else None.
    `pids_hit_max`: the process limit was reached (a cgroup's record, or the count at the stop).
    `oom_killed`: asked only for a run that ended on its own; it may cost an engine call."""
    if stopped == "time":
        # A fork bomb runs into the deadline too: the process limit is the story.
        return ("processes" if pids_hit_max else "time"), True
    if stopped:
        return stopped, False
    seen = from_stderr(stderr)
    if oom_killed():
        return "memory", False
    if pids_hit_max:
        return "processes", False
    if exit_code == KILLED and "processes" not in seen:
        # A SIGKILL we did not send: the OOM killer (the hard CPU limit's comes after SIGXCPU has
        # already ended the run).
        return "memory", False
    if exit_code == OUT_OF_CPU:
        return "time", True
    if "memory" in seen:
        return "memory", False
    if "processes" in seen:
        return "processes", False
    return None, False
