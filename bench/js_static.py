"""JavaScript/TypeScript static checks beside Python's, in the same rounds (`bench.static_checks`).

Contenders, interleaved with Python's static checks on a suggestion of the same size:

* JS/TS static checks — what the pipeline runs before deciding for a TypeScript suggestion: the
  tree-sitter parse (TypeScript grammar), secrets, the policy's deny lists, the JS pack and the
  capability analysis;
* the tree-sitter parse alone;
* ast-grep-py (the other in-process engine considered: Rust pattern matching over the same
  tree-sitter grammars), parsing and finding every call — only when `ast_grep_py` is installed,
  since Sandgate does not depend on it.

Suggestions are generated deterministically: Express routes, a service class and helpers in
TypeScript, with a few things the JS pack flags (a built shell command, SQL from the request,
`rejectUnauthorized: false`).
"""

from __future__ import annotations

from typing import Any

_BLOCKS = [
    """
router.get('/items/{i}', async (req: Request, res: Response) => {{
  const {{ rows }} = await pool.query(`SELECT * FROM items WHERE owner = '${{req.query.owner}}'`);
  res.json(rows);
}});
""",
    """
export function archive{i}(dir: string): string {{
  const out = execSync('tar czf /tmp/a{i}.tgz ' + dir);
  return out.toString().trim();
}}
""",
    """
export class Client{i} {{
  private readonly base: string;

  constructor(base: string) {{
    this.base = base;
  }}

  async get(id: string): Promise<unknown> {{
    const agent = new https.Agent({{ rejectUnauthorized: false }});
    const res = await fetch(`${{this.base}}/v1/${{encodeURIComponent(id)}}`, {{ agent }} as any);
    return res.json();
  }}
}}
""",
    """
export function summarise{i}(records: Array<Record<string, number>>, key = 'size') {{
  let total = 0;
  for (const rec of records) {{
    if (rec[key] === undefined) continue;
    total += Number(rec[key]);
  }}
  return {{ count: records.length, total }};
}}
""",
]
_HEAD = [
    "import { Router, type Request, type Response } from 'express';",
    "import { execSync } from 'node:child_process';",
    "import https from 'node:https';",
    "import { Pool } from 'pg';",
    "const pool = new Pool();",
    "export const router = Router();",
]


def suggestion(lines: int) -> str:
    """A deterministic TypeScript suggestion of exactly `lines` lines that parses."""
    body: list[str] = []
    i = 0
    while True:
        block = _BLOCKS[i % len(_BLOCKS)].format(i=i).split("\n")[1:-1]
        if len(_HEAD) + len(body) + len(block) > lines:
            break
        body += block
        i += 1
    consts = [f"const RETRY_{n} = {n + 3};" for n in range(lines - len(_HEAD) - len(body))]
    code = "\n".join(_HEAD + consts + body) + "\n"
    assert code.count("\n") == lines, (lines, code.count("\n"))
    return code


def contenders(vetter: Any, code: str) -> dict[str, Any]:
    """name -> callable, for `bench.common.interleaved`; checks the suggestion parses and is flagged."""
    from sandgate.checks.js_parse import parse_js
    from sandgate.languages.javascript import TYPESCRIPT
    from sandgate.suggestion import Suggestion, place

    syntax = TYPESCRIPT.syntax
    tree = syntax.parse(code)  # raises: a broken suggestion would measure the wrong path
    found, _ = TYPESCRIPT.static_checks(vetter, code, tree)
    if not any(f.source == "pack" for f in found):
        raise RuntimeError("the TypeScript suggestion gave no pack finding: the benchmark measures nothing")

    placed = place(Suggestion(code, path="bench.ts"))

    def js_static() -> None:
        # As the pipeline does (and as Python's row): the static checks, then the capability
        # analysis on their walk.
        tree = syntax.parse(code)
        TYPESCRIPT.static_checks(vetter, code, tree)
        vetter.capability_findings(TYPESCRIPT, tree, placed, None)

    out: dict[str, Any] = {
        "js static": js_static,
        "js parse": lambda: parse_js(code, syntax.grammars),
    }
    try:
        from ast_grep_py import SgRoot
    except ImportError:
        return out

    def ast_grep() -> None:
        root = SgRoot(code, "typescript").root()
        for call in root.find_all(kind="call_expression"):
            call.field("function")

    out["ast-grep"] = ast_grep
    return out
