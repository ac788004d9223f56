"""Pure parts of the Node runtime: the command, the binds, the container's command, the image's
files, the language's runtime by file name, Node's limit words, what the tamper check owes Node."""

from __future__ import annotations

import io
import tarfile

from sandgate.languages import language_for, runtime_for
from sandgate.policy.model import SandboxLimits
from sandgate.sandbox import limit_classifier, protocol, tampering
from sandgate.sandbox.bwrap_args import bwrap_argv
from sandgate.sandbox.bwrap_backend import NODE_AS_OVERHEAD_MB, node_flags, prlimit_args
from sandgate.sandbox.docker_spec import CONTROL_ADDRESS, ContainerSpec, create_kwargs
from sandgate.sandbox.image import build_context, runtime_digest
from sandgate.sandbox.node_runtime import NodeRuntime, discover
from sandgate.sandbox.runtime import PythonRuntime
from sandgate.sandbox.runtime import discover as discover_python
from sandgate.sandbox.supervision import Record

LIBC = ("/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6")
STDCXX = ("/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30")
RT = PythonRuntime(python="/usr/bin/python3.11", stdlib="/usr/lib/python3.11", libs=(LIBC,))
NODE = NodeRuntime(node="/opt/sandgate/node/bin/node", version=(24, 21, 0), libs=(LIBC, STDCXX))


def test_node_argv_arms_with_python_then_execs_node():
    argv = protocol.node_argv(["--flag"], control="fd:5")
    assert argv[: len(protocol.python_argv(control="fd:5"))] == protocol.python_argv(control="fd:5")
    rest = argv[len(protocol.python_argv(control="fd:5")) :]
    assert rest == [protocol.NODE, "--disable-warning=ExperimentalWarning", "--flag", "-e", rest[-1]]
    assert rest[-1] == protocol.node_bootstrap_source() and "sandgate-node-bootstrap" in rest[-1]
    # Without a supervisor there is no Python to arm: Node's bootstrap then refuses to run anything.
    assert protocol.node_argv([])[0] == protocol.NODE


def test_bwrap_binds_node_and_its_extra_libraries_once():
    argv = bwrap_argv(RT, "/e", None, "bwrap", ["x"], node=NODE)
    binds = [tuple(argv[i + 1 : i + 3]) for i, a in enumerate(argv) if a == "--ro-bind"]
    assert (NODE.node, protocol.NODE) in binds
    assert binds.count((LIBC[1], LIBC[0])) == 1 and (STDCXX[1], STDCXX[0]) in binds
    # A Python sandbox gets no Node at all.
    assert protocol.NODE not in bwrap_argv(RT, "/e", None, "bwrap", ["x"])


def test_node_flags_and_the_address_space_without_a_cgroup():
    lim = SandboxLimits(memory_mb=128)
    assert node_flags(NODE, lim, use_cgroup=True) == []
    assert node_flags(NODE, lim, use_cgroup=False) == ["--max-old-space-size=128"]
    old = NodeRuntime(node=NODE.node, version=(22, 12, 0), libs=())
    assert old.strip_types_flags() == ["--experimental-strip-types"]
    assert f"--as={(128 + NODE_AS_OVERHEAD_MB) << 20}" in prlimit_args(lim, use_cgroup=False, node=True)
    assert not any(a.startswith("--as=") for a in prlimit_args(lim, use_cgroup=True, node=True))


def test_a_node_container_parks_node():
    kw = create_kwargs(ContainerSpec("img", SandboxLimits(), program_runtime="node"), {}, control_dir="/run/x")
    assert kw["command"] == protocol.node_argv([], CONTROL_ADDRESS)
    py = create_kwargs(ContainerSpec("img", SandboxLimits()), {}, control_dir="/run/x")
    assert py["command"] == protocol.python_argv(control=CONTROL_ADDRESS)


def test_the_image_carries_the_projects_node():
    rt, node = discover_python(), discover()
    with_node, without = io.BytesIO(), io.BytesIO()
    build_context(rt, with_node, node)
    build_context(rt, without)
    names = set(tarfile.open(fileobj=io.BytesIO(with_node.getvalue())).getnames())
    assert "rootfs" + protocol.NODE in names
    assert "rootfs/usr/lib/x86_64-linux-gnu/libstdc++.so.6" in names
    assert "rootfs" + protocol.NODE not in tarfile.open(fileobj=io.BytesIO(without.getvalue())).getnames()
    assert runtime_digest(rt, node) != runtime_digest(rt)


def test_which_runtime_runs_a_file():
    assert runtime_for(language_for(None, "a.ts"), "src/a.ts") == "node"
    assert runtime_for(language_for(None, "a.mjs"), "a.mjs") == "node"
    assert runtime_for(language_for(None, "a.py"), "a.py") == "python"
    assert runtime_for(language_for(None, "a.tsx"), "a.tsx") is None  # Node cannot run JSX
    assert runtime_for(language_for("javascriptreact", "a.jsx"), "a.jsx") is None
    assert runtime_for(None, "a.sh") is None


def test_nodes_words_name_the_limits():
    assert limit_classifier.from_stderr("FATAL ERROR: Reached heap limit ... JavaScript heap out of memory") == {
        "memory"
    }
    assert limit_classifier.from_stderr("Error: spawn EAGAIN\n    at ChildProcess.spawn") == {"processes"}
    assert limit_classifier.from_stderr("Error: EMFILE: too many open files, open '/dev/null'") == {"open-files"}


def test_the_tamper_check_owes_node_only_its_final_report():
    outside = Record(
        armed=True,
        exited=True,
        events=[{"kind": "connect", "family": "AF_INET", "host": "1.1.1.1", "port": 443}],
    )
    kw = {"stopped": False, "syntax_error": False, "secret_path": lambda p: False}
    # Python's report claims every connection: one it missed is tampering.
    assert any("1.1.1.1" in r for r in tampering.reasons([{"kind": "rusage"}], outside, **kw))
    # Node's does not: the record's connection is a finding of its own, not a disagreement...
    assert tampering.reasons([{"kind": "rusage"}], outside, detailed=False, **kw) == []
    # ...but a Node run that ends without its final report still is.
    assert tampering.reasons([], outside, detailed=False, **kw)
