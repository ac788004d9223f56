"""TypeScript with a run-time meaning (enum, namespace, parameter properties), which Node's strip mode
refuses, still runs in the Node sandbox (transformed): one such line must not keep the rest of a
suggestion from running, on both backends."""

from __future__ import annotations

import textwrap

import pytest

from sandgate.policy.model import SandboxPolicy
from sandgate.sandbox.select import open_backend
from tests.sandbox.conftest import run
from tests.sandbox.test_node_adversarial import current_image


@pytest.fixture(scope="module", params=["docker", "bwrap"])
def backend(request):
    b, probes = open_backend(request.param, SandboxPolicy(image=current_image() if request.param == "docker" else None))
    assert b is not None, f"{request.param} backend unavailable: {probes}"
    return b


def test_enum_and_parameter_properties_run(backend):
    code = textwrap.dedent(
        """
        enum Level { Low = 1, High = 5 }
        namespace Units { export const kb = 1024; }
        class Box { constructor(readonly size: number = Level.High) {} }
        const n: number = new Box().size * Units.kb;
        console.log(`ran ${n}`);
        require('node:net').connect(443, '203.0.113.77').on('error', () => {});
        """
    ).lstrip()
    result, findings, rules = run(backend, code, relpath="suggestion.ts", runtime="node")
    assert "syntax.error" not in rules, findings
    assert result.stdout == "ran 5120\n", (result.stdout, result.stderr)
    assert any(f.detail("host") == "203.0.113.77" for f in findings if f.rule == "network.denied"), findings


def test_plain_typescript_keeps_its_lines(backend):
    # Strip mode, as before: a thrown error names the line of the source as written.
    code = "const a: number = 1;\ninterface P { x: number }\n\nthrow new Error('at line ' + a);\n"
    result, findings, rules = run(backend, code, relpath="suggestion.ts", runtime="node")
    assert "suggestion.ts:4" in result.stderr, result.stderr
