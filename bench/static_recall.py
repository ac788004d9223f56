"""What the static checks find, and what they hold that they should not: recall per CWE and false holds.

Three sets, each suggestion vetted once by `Vetter.vet` on the balanced preset's static checks (no
sandbox), the decision split by the check that made it:

* the security pack's labelled corpus (tests/corpus/pack/: vulnerable completions and their benign
  look-alikes, placed in Flask, Django and FastAPI apps, crypto helpers, XML importers);
* the dev set in ../shared/datasets/ (CyberSecEval's autocomplete set: real code from public
  repositories flagged by Meta's Insecure Code Detector; every case is a positive), split by a
  fixed hash into a development part and a held-out part that no rule was tuned on;
* well-reviewed real-world functions: a fixed sample of functions and methods of the standard
  library and well-known PyPI packages, each vetted alone as one suggestion (all benign).

Columns: *bandit* — held by bandit's findings alone (balanced's bandit rules); *before* — held by
every check but the pack (Sandgate as it was before issue 15); *Sandgate* — held by anything;
*CodeShield* — Meta's CodeShield (`pip install codeshield`, its own virtualenv, given the
suggestion's text) says insecure, where it is installed.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sysconfig
import tempfile
import textwrap
from collections import defaultdict
from pathlib import Path

from bench.common import REPO, Context, Section, Target

DATASET = REPO.parent / "shared" / "datasets" / "cyberseceval-autocomplete-python.jsonl"
# CodeShield lives in a virtualenv of its own (it pins semgrep):
#   python3 -m venv build/codeshield-venv && build/codeshield-venv/bin/pip install codeshield==1.0.1
# or name another with SANDGATE_CODESHIELD_PYTHON. Without it the column says "n/a".
CODESHIELD_PYTHON = Path(
    os.environ.get("SANDGATE_CODESHIELD_PYTHON", str(REPO / "build" / "codeshield-venv" / "bin" / "python"))
)
HELD_OUT_DIGITS = "0123"  # sha256 of "repo:file_path:line_text" starting so: held out (a quarter)
REAL_WORLD_SAMPLE = 300
STDLIB_MODULES = (
    "http/server.py",
    "http/client.py",
    "http/cookies.py",
    "urllib/request.py",
    "urllib/parse.py",
    "logging/__init__.py",
    "logging/handlers.py",
    "json/decoder.py",
    "json/encoder.py",
    "ssl.py",
    "xml/etree/ElementTree.py",
    "xml/dom/minidom.py",
    "sqlite3/dbapi2.py",
    "shutil.py",
    "tarfile.py",
    "zipfile/__init__.py",
    "email/utils.py",
    "email/message.py",
    "smtplib.py",
    "imaplib.py",
    "ftplib.py",
    "csv.py",
    "configparser.py",
    "argparse.py",
    "tempfile.py",
    "subprocess.py",
    "secrets.py",
    "random.py",
    "base64.py",
    "hmac.py",
    "wsgiref/simple_server.py",
    "xmlrpc/client.py",
    "mailbox.py",
    "getpass.py",
    "asyncio/base_events.py",
    "asyncio/streams.py",
    "pathlib.py",
    "os.py",
    "glob.py",
    "fnmatch.py",
    "netrc.py",
    "mimetypes.py",
    "cgitb.py",
    "socketserver.py",
    "uuid.py",
    "textwrap.py",
    "string.py",
)
PYPI_PACKAGES = (
    "requests",
    "urllib3",
    "click",
    "httpx",
    "httpcore",
    "docker",
    "jsonschema",
    "rich",
    "attr",
    "dateutil",
    "markdown_it",
    "h11",
    "anyio",
    "idna",
    "pygls",
    "cattrs",
    "detect_secrets",
)


def run(ctx: Context) -> list[Section]:
    from tests.core.pack_corpus import CASES, place

    vetter = _vetter()
    ctx.log("static recall: corpus")
    corpus = {c["id"]: _split(_vet(vetter, c, place(c))) for c in CASES}
    ctx.log("static recall: dev set")
    dev_rows = [json.loads(line) for line in DATASET.read_text().splitlines()] if DATASET.is_file() else []
    dev_rows = dev_rows[: ctx.n(len(dev_rows), 30)]  # quick (CI): enough to keep the code working
    cut = [(row, _compilable(row["origin_code"], row["line_text"])) for row in dev_rows]
    dev = [(row, _split(_vet_text(vetter, text))) for row, text in cut if text is not None]
    uncut = len(dev_rows) - len(dev)
    ctx.log("static recall: real-world functions")
    pool = _real_world()
    sample = ctx.n(REAL_WORLD_SAMPLE, 20)
    functions = pool[:sample]
    # The harder half: functions that touch what the rules look at (files, processes, SQL, TLS, …).
    sensitive = [f for f in pool if _SENSITIVE.search(f[1]) and f not in functions][:sample]
    functions += sensitive
    real = [(name, _split(_vet_text(vetter, text))) for name, text in functions]

    codeshield = _codeshield([c["text"].strip("\n") for c in CASES] + [t for _, t in functions], ctx)
    cs_corpus = dict(zip([c["id"] for c in CASES], codeshield[: len(CASES)])) if codeshield else {}
    cs_real = codeshield[len(CASES) :] if codeshield else []

    rows: list[list[str]] = []
    vulnerable = [c for c in CASES if c["label"] == "vulnerable"]
    benign = [c for c in CASES if c["label"] == "benign"]
    by_cwe: dict[int, list[dict]] = defaultdict(list)
    for case in vulnerable:
        by_cwe[case["cwe"]].append(case)

    def rate(ids: list[str], key: str) -> str:
        held = sum(corpus[i][key] for i in ids)
        return f"{held}/{len(ids)}"

    def cs_rate(ids: list[str]) -> str:
        return f"{sum(cs_corpus[i] for i in ids)}/{len(ids)}" if cs_corpus else "n/a"

    for cwe, cases in sorted(by_cwe.items()):
        ids = [c["id"] for c in cases]
        rows.append([f"corpus CWE-{cwe}", rate(ids, "bandit"), rate(ids, "before"), rate(ids, "all"), cs_rate(ids)])
    all_ids = [c["id"] for c in vulnerable]
    benign_ids = [c["id"] for c in benign]
    rows.append(
        [
            "**corpus, all vulnerable**",
            rate(all_ids, "bandit"),
            rate(all_ids, "before"),
            rate(all_ids, "all"),
            cs_rate(all_ids),
        ]
    )
    rows.append(
        [
            "**corpus, benign look-alikes held**",
            rate(benign_ids, "bandit"),
            rate(benign_ids, "before"),
            rate(benign_ids, "all"),
            cs_rate(benign_ids),
        ]
    )

    for part in ("dev", "held-out"):
        chosen = [(row, s) for row, s in dev if _part(row) == part]
        per: dict[str, list[dict]] = defaultdict(list)
        for row, s in chosen:
            per[row["cwe_identifier"]].append(s)
        for cwe, splits in sorted(per.items()):
            rows.append([f"dev set ({part}) {cwe}", *_rates(splits), "labeller"])
        rows.append([f"**dev set ({part}), all**", *_rates([s for _, s in chosen]), "labeller"])

    plain = len(functions) - len(sensitive)
    for label, part, cs_part in (
        ("real-world functions allowed, a plain sample", real[:plain], cs_real[:plain]),
        (
            "real-world functions allowed, touching files/processes/SQL/TLS/crypto/XML/secrets",
            real[plain:],
            cs_real[plain:],
        ),
    ):
        splits = [s for _, s in part]
        rows.append(
            [
                f"**{label}** ({len(splits)})",
                *(f"{sum(not s[k] for s in splits)}/{len(splits)}" for k in ("bandit", "before", "all")),
                f"{sum(not x for x in cs_part)}/{len(cs_part)}" if cs_part else "n/a",
            ]
        )
    real_splits = [s for _, s in real]
    allowed = {k: sum(not s[k] for s in real_splits) for k in ("bandit", "before", "all")}

    held = sum(corpus[i]["all"] for i in all_ids) / len(all_ids)
    false = sum(corpus[i]["all"] for i in benign_ids) / len(benign_ids)
    real_allowed = allowed["all"] / len(real_splits) if real_splits else 0.0
    targets = [
        Target("vulnerable corpus completions held", held * 100, 60.0, "%", higher_is_better=True),
        Target("benign look-alikes held", false * 100, 10.0, "%"),
        Target("real-world functions allowed", real_allowed * 100, 95.0, "%", higher_is_better=True),
    ]
    pack_holds = [name for name, s in real if s["all"] and not s["before"]]
    notes = [
        "Each cell: suggestions held (review or block) / suggestions. *bandit*: held by bandit's findings "
        "alone; *before*: by every check but the security pack (Sandgate before issue 15); *Sandgate*: by "
        "anything; *CodeShield*: Meta's CodeShield says insecure (run on the suggestion's text in its own "
        f"virtualenv, {CODESHIELD_PYTHON}) — " + ("measured." if codeshield else "not installed here, not measured."),
        "Dev set: CyberSecEval's autocomplete fragments (every one a positive by Meta's detector, which is "
        "CodeShield's own: its column would be 100% by construction, hence 'labeller'). Fragments are cut "
        "mid-statement at both ends; each is cut to the longest run of whole lines around the flagged line "
        f"that compiles (dedented), and vetted as one suggestion; {uncut} of {len(dev_rows)} have none and "
        f"are left out. Held-out part: sha256(repo:file_path:line_text) starting with {HELD_OUT_DIGITS!r}; "
        "no rule was written or changed looking at it.",
        f"Real-world functions: {plain} functions and methods of 5–80 lines, a fixed sample "
        f"of the standard library ({len(STDLIB_MODULES)} modules) and of {', '.join(PYPI_PACKAGES)}, and "
        f"{len(sensitive)} more of them that touch files, processes, SQL, TLS, hashing, random, XML, logging "
        "or secrets, each vetted alone (requests, urllib3 and click are read from CodeShield's virtualenv, "
        "which installs them: without it the sample is drawn without them). Held by the pack beyond the "
        "checks before it: "
        + (", ".join(pack_holds[:12]) + (" …" if len(pack_holds) > 12 else "") if pack_holds else "none")
        + ".",
    ]
    raw = {
        "corpus": corpus,
        "codeshield_corpus": cs_corpus,
        "dev": [{"prompt_id": r["prompt_id"], "cwe": r["cwe_identifier"], "part": _part(r), **s} for r, s in dev],
        "real_world": [{"function": n, **s} for n, s in real],
        "real_world_held_by_pack": pack_holds,
    }
    return [
        Section(
            key="static-recall",
            title="Static checks: recall per CWE and false holds",
            header=["set", "bandit", "before (no pack)", "Sandgate", "CodeShield"],
            rows=rows,
            targets=targets,
            notes=notes,
            raw=raw,
        )
    ]


def _vetter():
    from sandgate.pipeline import Vetter
    from sandgate.policy.load import load_effective

    root = Path(tempfile.mkdtemp(prefix="sandgate-bench-recall-"))
    static = 'version = 1\nextends = "balanced"\n[sandbox]\nrequired = false\nbackends = []\n'
    (root / "managed.toml").write_text(static)
    (root / "static.toml").write_text(static)
    old = os.environ.get("SANDGATE_MANAGED_POLICY")
    os.environ["SANDGATE_MANAGED_POLICY"] = str(root / "managed.toml")
    try:
        loaded = load_effective(root, explicit=root / "static.toml")
    finally:
        if old is None:
            os.environ.pop("SANDGATE_MANAGED_POLICY", None)
        else:
            os.environ["SANDGATE_MANAGED_POLICY"] = old
    return Vetter(loaded, workspace=root)


def _vet(vetter, case: dict, placed):
    from sandgate.suggestion import Suggestion

    return vetter.vet(
        Suggestion(
            placed.text, document=placed.document, line=placed.line, character=placed.character, path=case["doc"]
        )
    )


def _vet_text(vetter, text: str):
    from sandgate.suggestion import Suggestion

    return vetter.vet(Suggestion(text, path="suggestion.py"))


def _split(result) -> dict[str, bool]:
    """Whether the suggestion was held: by bandit alone, by anything but the pack, by anything."""
    from sandgate.findings import Verdict

    held = [r for r in result.reasons if r.verdict > Verdict.ALLOW]
    source = [r.finding.source for r in held if r.finding is not None]  # a finding held it
    return {
        "bandit": "bandit" in source,
        "before": any(s != "pack" for s in source),
        "all": bool(source),
        "pack": "pack" in source,
        # Held because nothing compiled: not a detection, counted apart.
        "unvetted": not source and any(r.finding is None for r in held),
    }


def _rates(splits: list[dict[str, bool]]) -> list[str]:
    return [f"{sum(s[k] for s in splits)}/{len(splits)}" for k in ("bandit", "before", "all")]


def _part(row: dict) -> str:
    key = f"{row['repo']}:{row['file_path']}:{row['line_text']}"
    return "held-out" if hashlib.sha256(key.encode()).hexdigest()[0] in HELD_OUT_DIGITS else "dev"


def _compilable(fragment: str, flagged: str) -> str | None:
    """The longest run of whole lines of `fragment` that holds the flagged line and compiles once
    dedented (a fragment's first and last lines are often cut mid-line)."""
    lines = fragment.split("\n")
    at = next((i for i, line in enumerate(lines) if flagged.strip() and flagged.strip() in line), None)
    if at is None:
        return None
    best = None
    for start in range(0, at + 1):
        for end in range(len(lines), at, -1):
            if best is not None and end - start <= best[1] - best[0]:
                break
            text = textwrap.dedent("\n".join(lines[start:end]))
            try:
                compile(text, "<fragment>", "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                continue
            best = (start, end, text)
            break
    return best[2] if best is not None else None


_SENSITIVE = re.compile(
    r"open\(|subprocess|os\.system|execute\(|ssl|hashlib|random|xml|urlopen|requests\.|redirect|"
    r"password|secret|token|verify|pickle|eval\(|logging|log\.|re\.compile"
)


def _real_world() -> list[tuple[str, str]]:
    """Functions (5–80 lines) of the standard library and PyPI packages, in a fixed shuffled order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = [stdlib / m for m in STDLIB_MODULES if (stdlib / m).is_file()]
    roots = [Path(sysconfig.get_paths()["purelib"])]
    if CODESHIELD_PYTHON.exists():  # requests, urllib3 and click live there
        roots += sorted((CODESHIELD_PYTHON.parent.parent / "lib").glob("python3*/site-packages"))
    for package in PYPI_PACKAGES:
        for root in roots:
            if (root / package).is_dir():
                files += sorted(p for p in (root / package).rglob("*.py") if "test" not in p.parts)
                break
    found: list[tuple[str, str]] = []
    for path in files:
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        lines = source.split("\n")
        for node in _functions(tree):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            size = node.end_lineno - start + 1
            if 5 <= size <= 80:
                text = textwrap.dedent("\n".join(lines[start - 1 : node.end_lineno]))
                found.append((f"{path.stem}.{node.name}", text))
    found.sort(key=lambda f: hashlib.sha256((f[0] + f[1]).encode()).hexdigest())
    return found


def _functions(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield item


# CodeShield 1.0.1 runs semgrep with `--project-root /` for its (absolute) temporary file, and the
# semgrep it installs (1.187) then reports nothing; a relative path gives its findings back.
_CODESHIELD_SCRIPT = """
import asyncio, json, os, sys
from pathlib import Path
from codeshield.cs import CodeShield
from codeshield.insecure_code_detector import insecure_code_detector as icd
_write = icd._write_code_to_file
icd._write_code_to_file = lambda content, ext: Path(os.path.relpath(_write(content, ext)))
texts = json.load(sys.stdin)
async def main():
    out = []
    for text in texts:
        result = await CodeShield.scan_code(text)
        out.append(bool(result.is_insecure))
    return out
print(json.dumps(asyncio.run(main())))
"""


def _codeshield(texts: list[str], ctx: Context) -> list[bool] | None:
    if ctx.quick or not CODESHIELD_PYTHON.exists():
        return None
    ctx.log(f"static recall: CodeShield on {len(texts)} suggestions")
    proc = subprocess.run(
        [str(CODESHIELD_PYTHON), "-c", _CODESHIELD_SCRIPT],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        ctx.log(f"CodeShield failed: {proc.stderr[-500:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])
