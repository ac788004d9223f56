"""How a backend confines a run, as measured from inside one (for `sandgate sandbox doctor`).

Nothing here is claimed from configuration: a short program reports its own credentials,
capabilities and seccomp state from /proc, tries the network, and the run's outside record says
whether the supervisor saw it.
"""

from __future__ import annotations

import json

from sandgate.policy.model import SandboxLimits
from sandgate.sandbox import identity
from sandgate.sandbox.base import Backend, RunRequest
from sandgate.wording import plural

CHECK = r"""
import json, os, socket
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
try:
    socket.create_connection(("192.0.2.1", 80), timeout=0.5)
    net = "open"
except OSError:
    net = "closed"
try:
    open("/proc/sys/kernel/core_pattern", "w")
    proc_sys = "writable"
except OSError:
    proc_sys = "read-only"
print(json.dumps({"uid": status["Uid"].split(), "cap_eff": status["CapEff"].strip(),
                  "no_new_privs": status.get("NoNewPrivs", "").strip(), "seccomp": status.get("Seccomp", "").strip(),
                  "filters": status.get("Seccomp_filters", "").strip(), "network": net, "proc_sys": proc_sys}))
"""


def describe(backend: Backend) -> tuple[bool, list[str]]:
    """(fully confined and supervised, lines a person reads)."""
    result = backend.run(RunRequest(code=CHECK, limits=SandboxLimits(wall_time_s=10, cpu_time_s=5)))
    outside = result.outside
    if result.error or result.exit_code != 0:
        return False, [f"the check run failed: {result.error or result.stderr.strip()[-200:] or result.exit_code}"]
    if outside is None or outside.lost or not outside.armed:
        why = outside.error if outside is not None and outside.error else "the monitor could not be armed"
        return False, [f"NOT supervised: {why}; every suggestion that needs a run is held"]
    try:
        seen = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return False, [f"the check run said nothing readable: {result.stdout[-200:]!r}"]
    if backend.name == "bwrap":
        who = identity.sandbox_identity()
        host = f"host uid {who.uid} ({who.name})"
    else:
        host = f"uid {seen['uid'][0]} in the container"
    good = (
        seen["cap_eff"].strip("0") == ""
        and seen["no_new_privs"] == "1"
        and seen["seccomp"] == "2"
        and seen["network"] == "closed"
        and seen["proc_sys"] == "read-only"
    )
    lines = [
        f"runs as {host}; capabilities {'none' if seen['cap_eff'].strip('0') == '' else seen['cap_eff']}; "
        f"no new privileges {'yes' if seen['no_new_privs'] == '1' else 'NO'}; "
        f"seccomp filters {seen['filters'] or '?'}; network {seen['network']}; /proc/sys {seen['proc_sys']}",
        f"supervised: connections, processes, writes and secret reads recorded outside the sandbox "
        f"({plural(outside.notifications, 'call')} seen in this check)",
    ]
    return good, lines
