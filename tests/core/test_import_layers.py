"""The package's layers: a package imports only from its own package and from lower layers, never
from a higher one, nor sideways from another package of its own layer. Every import counts, the
ones inside functions (and under TYPE_CHECKING) too, so a cycle cannot hide behind one."""

from __future__ import annotations

import ast
from pathlib import Path

import sandgate

PACKAGE = Path(sandgate.__file__).resolve().parent

# Lowest first. Packages of one layer are peers: neither may import the other.
LAYERS: tuple[tuple[str, ...], ...] = (
    # The vocabulary every layer speaks: the version, findings and verdicts, positions in text,
    # which workspace glob names a file, how a time and a count are written, untrusted text made
    # safe for a terminal.
    ("sandgate", "findings", "lines", "workspace_globs", "timestamps", "wording", "terminal"),
    # Data the rest reads and a leaf service: the policy (what is allowed, and what its entries
    # mean), a suggestion placed in its document, telemetry (which knows nothing of vetting).
    ("policy", "suggestion", "telemetry"),
    # Judging code without running it: the in-process checks read the policy; regions cut a
    # document that does not compile down to what does.
    ("checks", "regions"),
    # Plugging in: a language unit hands the pipeline its syntax and checks; egress enforces the
    # network policy on a run (the proxy and its decisions), and needs no check.
    ("languages", "egress"),
    # The two ways out of the process, unaware of each other: the sandbox runs code (behind the
    # egress proxy, its events read like the checks read code); the provider talks to the model
    # (its guard redacts with the checks' detector). Vetting never asks the model.
    ("sandbox", "provider"),
    # One suggestion in, one decision out: checks, languages, regions, sandbox and telemetry together.
    ("pipeline",),
    # The one SARIF mapping of findings, below both exports that use it.
    ("sarif",),
    # What becomes of a decision: the audit log records it, reports render it.
    ("audit", "report"),
    # The editor's server: asks the provider, vets with the pipeline, records to the audit log.
    ("lsp",),
    # The command line, which also starts the server.
    ("cli",),
    # `python -m sandgate`: the command line.
    ("__main__",),
)
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}


def package_of(module: str) -> str:
    """`sandgate.checks.code_rules` -> `checks`; `sandgate.pipeline` -> `pipeline`; `sandgate` -> `sandgate`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) of every import of a Sandgate module, at any depth; relative ones resolved."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            if base == "sandgate":  # `from sandgate import egress` imports the package egress
                found += [
                    (node.lineno, f"sandgate.{alias.name}" if _is_module(alias.name) else base) for alias in node.names
                ]
            else:
                found.append((node.lineno, base))
    return [(line, name) for line, name in found if name == "sandgate" or name.startswith("sandgate.")]


def _is_module(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def violations(source: str, path: str, module: str, is_package: bool = False) -> list[str]:
    own = package_of(module)
    out = []
    for line, target in imported_modules(ast.parse(source), module, is_package):
        other = package_of(target)
        if other == own:
            continue
        if other not in RANK:
            out.append(f"{path}:{line}: {own} imports {target}, whose package has no layer in LAYERS")
        elif RANK[other] > RANK[own]:
            out.append(f"{path}:{line}: {own} (layer {RANK[own]}) imports {target} (layer {RANK[other]}, higher)")
        elif RANK[other] == RANK[own]:
            out.append(f"{path}:{line}: {own} imports {target}, a peer of its own layer {RANK[own]}")
    return out


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_package_has_a_layer():
    packages = {package_of(module_name(path)) for path in sources()}
    assert packages - set(RANK) == set(), "give each new package a layer in LAYERS, with why it sits there"


def test_no_package_imports_a_higher_layer_or_a_peer():
    found = []
    for path in sources():
        found += violations(
            path.read_text(encoding="utf-8"),
            str(path.relative_to(PACKAGE.parent)),
            module_name(path),
            path.name == "__init__.py",
        )
    assert found == [], "\n".join(found)


def test_an_import_inside_a_function_counts():
    source = "import os\n\ndef f():\n    from sandgate.egress.rules import decide_host\n    from ..lsp import server\n"
    assert violations(source, "sandgate/policy/x.py", "sandgate.policy.x") == [
        "sandgate/policy/x.py:4: policy (layer 1) imports sandgate.egress.rules (layer 3, higher)",
        "sandgate/policy/x.py:5: policy (layer 1) imports sandgate.lsp (layer 8, higher)",
    ]
    assert violations("from sandgate import provider\n", "sandgate/sandbox/x.py", "sandgate.sandbox.x") == [
        "sandgate/sandbox/x.py:1: sandbox imports sandgate.provider, a peer of its own layer 4",
    ]
