"""The CPU-time limit, set the same way by both backends (RLIMIT_CPU), and how a run it ended exits."""

from __future__ import annotations

import signal

from sandgate.policy.model import SandboxLimits

# A run the soft limit ended: killed by SIGXCPU, as a shell reports it.
OUT_OF_CPU = 128 + signal.SIGXCPU


def cpu_rlimit(lim: SandboxLimits) -> tuple[int, int]:
    """(soft, hard) RLIMIT_CPU in whole seconds, at least one. The hard limit (SIGKILL) is a second
    later, so that the soft limit's SIGXCPU is what ends a run and says why."""
    soft = max(1, int(lim.cpu_time_s + 0.999))
    return soft, soft + 1
