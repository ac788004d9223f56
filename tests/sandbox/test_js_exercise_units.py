"""The JavaScript/TypeScript exercise's targets and the program's rewrite (js_exercise.py), pure:
which functions a suggestion's lines touch, how each is reached, and that the insertions move no
line. The calls themselves run in the sandbox (test_js_exercise.py)."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from sandgate.sandbox.base import RunRequest
from sandgate.sandbox.exercise import MAX_TARGETS
from sandgate.sandbox.js_exercise import REGISTRY, JsPlan, plan
from sandgate.sandbox.node_runtime import discover

DOC = textwrap.dedent(
    """\
    #!/usr/bin/env node
    'use strict';
    const express = require('express');
    const app = express();
    function f(a, b = 2) {
      return a + b;
    }
    async function* gen(count) {
      yield count;
    }
    const arrow = async (url, { depth }, ...rest) => {
      return url;
    };
    class Store {
      static open(dir) {
        return new Store(dir);
      }
      constructor(dir) {
        this.dir = dir;
      }
      get size() {
        return 1;
      }
      load(name) {
        return name;
      }
      #hidden() {
        return 0;
      }
    }
    module.exports.handler = (event) => {
      return event.body;
    };
    exports.other = function () {
      return 2;
    };
    const api = {
      list() {
        return [];
      },
      remove: (id) => id,
    };
    app.get('/x', (req, res) => {
      res.send(req.query.q);
    });
    app.route('/y').post(function (req, res) {
      res.end();
    });
    if (process.env.DEBUG) {
      function debugDump(obj) {
        return JSON.stringify(obj);
      }
    }
    const VERSION = '1.0';
    """
)


def targets(code: str, first: int, last: int, typescript: bool = False) -> dict[str, tuple]:
    found = plan(code, first, last, typescript).targets
    return {t.qual: (t.line, t.how, t.path) for t in found}


def test_every_kind_of_target_the_whole_document_touches():
    got = targets(DOC, 1, DOC.count("\n"))
    assert got == {
        "f": (5, "call", ()),
        "gen": (8, "call", ()),
        "arrow": (11, "call", ()),
        "Store.open": (15, "static", ("open",)),
        "Store.constructor": (18, "new", ("constructor",)),
        "Store.size": (21, "get", ("size",)),
        "Store.load": (24, "method", ("load",)),
        "module.exports.handler": (31, "call", ("handler",)),
        "exports.other": (34, "call", ("other",)),
        "api.list": (38, "obj", ("list",)),
        "api.remove": (41, "obj", ("remove",)),
        "app.get('/x')#2": (43, "callback", ()),
    }  # the cap: 12 of the 14 (the two below, found alone)
    assert targets(DOC, 46, 52) == {"app.route('/y').post()#1": (46, "callback", ()), "debugDump": (50, "call", ())}


def test_only_what_the_suggestion_touches_and_at_most_the_cap():
    assert list(targets(DOC, 6, 6)) == ["f"]  # a line inside f's body
    assert list(targets(DOC, 25, 25)) == ["Store.load"]
    assert list(targets(DOC, 44, 44)) == ["app.get('/x')#2"]
    assert list(targets(DOC, 54, 54)) == []  # a constant: nothing to call
    everything = plan(DOC, 1, DOC.count("\n")).targets
    assert len(everything) == MAX_TARGETS
    # A class touched outside its methods: its constructor.
    assert targets("class A {\n  x = 1;\n  m() {}\n}\n", 2, 2) == {"A.constructor": (1, "new", ("constructor",))}


def test_parameters_by_name_default_rest_pattern_and_typescript_annotation():
    ts = "export function sync(url: string, retries: number, ok: boolean, ids: string[], o?: string | null, n = 3, { a }: P = {}, ...more: any[]) {\n  return 1;\n}\n"
    (target,) = plan(ts, 1, 2, typescript=True).targets
    assert target.params == (
        ("url", "string"),
        ("retries", "number"),
        ("ok", "boolean"),
        ("ids", "array"),
        ("o", "string"),
        ("n", "default"),
        ("", "default"),
        ("more", "rest"),
    )
    (arrow,) = plan("const g = x => {\n  return x;\n};\n", 2, 2).targets
    assert arrow.params == (("x", ""),)
    (route,) = plan(DOC, 44, 44).targets
    assert route.route and route.params == (("req", ""), ("res", ""))
    (callback,) = plan("process.on('exit', (code) => {\n  console.log(code);\n});\n", 2, 2).targets
    assert not callback.route


def test_wanted_lines_are_the_suggestions_statements_in_the_body_not_nested_functions():
    code = "function outer(a) {\n  const x = 1;\n  if (a) {\n    go(x);\n  }\n  const inner = () => {\n    never();\n  };\n}\n"
    (target,) = plan(code, 2, 9).targets
    assert target.want == ((2, 2), (3, 2), (4, 4), (6, 2))  # not line 7: inner's body
    (target,) = plan(code, 4, 4).targets
    assert target.want == ((4, 4),)
    (one_line,) = plan("const f = () => go();\n", 1, 1).targets
    assert one_line.want == ()  # the head's own line: nothing to tell reached from not


def test_reach_getters_go_after_the_hashbang_and_directives_and_inside_blocks():
    p = plan(DOC, 1, DOC.count("\n"))
    lines = {line for line, _, _ in p.inserts}
    top = [i for i in p.inserts if i[0] == 2]
    assert top and top[0][1] == len("'use strict';") and "()=>f)" in top[0][2]
    block = [i for i in plan(DOC, 50, 51).inserts if "debugDump" in i[2]]
    assert block == [(49, len("if (process.env.DEBUG) {"), block[0][2])]  # just inside the block's `{`
    assert 1 not in lines  # never before the hashbang


def rewritten(code: str, p: JsPlan) -> str:
    """The insertions applied as node_bootstrap.js applies them (from the right, per line)."""
    lines = code.split("\n")
    for line, col, text in sorted(p.inserts, key=lambda i: (i[0], -i[1])):
        lines[line - 1] = lines[line - 1][:col] + text + lines[line - 1][col:]
    return "\n".join(lines)


def test_the_rewrite_moves_no_line_and_still_parses_in_node():
    p = plan(DOC, 1, DOC.count("\n"))
    out = rewritten(DOC, p)
    assert out.count("\n") == DOC.count("\n")
    # One registration per reach, and the wrap of the callback beyond the cap (unwrapping only one
    # half of a wrap would break the code).
    assert out.count(REGISTRY) == len({t.reach for t in p.targets}) + 1
    for old, new in zip(DOC.split("\n"), out.split("\n"), strict=True):  # only insertions, line by line
        assert new.replace(REGISTRY, "").startswith(old[:1]) and len(new) >= len(old)
    node = discover().node
    check = subprocess.run(
        [node, "--check", "-"], input=out.replace("#!/usr/bin/env node", ""), text=True, capture_output=True
    )
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize(
    "code",
    [
        "export default function () {\n  return 1;\n}\n",
        "export default {\n  async fetch(request) {\n    return request;\n  },\n};\n",
        "export default class {\n  run() {\n    return 1;\n  }\n}\n",
    ],
)
def test_anonymous_default_exports_are_wrapped_where_they_stand(code):
    p = plan(code, 1, code.count("\n"))
    assert p.targets and all(t.qual.startswith("default") for t in p.targets)
    out = rewritten(code, p)
    assert out.startswith("export default " + REGISTRY)
    check = subprocess.run(
        [discover().node, "--input-type=module", "--check", "-"], input=out, text=True, capture_output=True
    )
    assert check.returncode == 0, check.stderr


def test_esm_imports_name_what_a_stand_in_module_must_export():
    code = "import express, { Router, json as j } from 'express';\nimport * as ax from 'axios';\nfunction f() {\n  return ax.post(ax.defaults, j);\n}\n"
    assert plan(code, 3, 4).imports == (("express", ("Router", "json")), ("axios", ("post", "defaults")))


def test_the_request_header_carries_the_plan_and_the_time_share():
    code = "function f(url) {\n  return url;\n}\n"
    p = plan(code, 1, 2)
    req = RunRequest(code=code, relpath="a.js", runtime="node", span=(1, 2), exercise=p.pairs, exercise_js=p)
    header = req.header()["exercise"]
    assert header["targets"][0] == {
        "qual": "f",
        "line": 1,
        "reach": 0,
        "path": [],
        "how": "call",
        "params": [["url", ""]],
        "route": False,
        "want": [[2, 2]],
    }
    assert header["inserts"] and header["share_s"] == min(1.0, req.limits.wall_time_s * 0.5)


def test_a_document_that_does_not_parse_has_no_plan():
    with pytest.raises(SyntaxError):
        plan("function (\n", 1, 1)


def test_stand_in_calls_of_javascript_network_clients_are_network_calls():
    from sandgate.sandbox.honeytokens import network_client

    for what in ("axios.post", "axios.create().get", "got", "node-fetch", "new ws.WebSocket", "socket.io-client.io"):
        assert network_client(what), what
    assert network_client("@aws-sdk/client-s3.S3Client().send")
    for what in ("express", "express().get", "pg.Client", "lodash.get", "requestAnimationFrame", "axiosish.get"):
        assert not network_client(what), what
    assert network_client("requests.post")  # Python's, unchanged
