"""Every package the server imports is declared in pyproject.toml: in [project] dependencies, or
in the extra (`docker`, `otel`) whose absence the code handles."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Modules imported only where the extra's absence is handled (said by `sandbox doctor`, or a warning).
OPTIONAL = {"docker": "docker", "requests": "docker", "opentelemetry": "otel"}


def imported_modules() -> set[str]:
    names: set[str] = set()
    for path in (REPO / "server" / "sandgate").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "sandgate"}


def declared(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_every_import_is_declared():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    required = declared(project["dependencies"])
    extras = {name: declared(reqs) for name, reqs in project["optional-dependencies"].items()}
    where = packages_distributions()
    missing = []
    for module in sorted(imported_modules()):
        dists = {d.lower().replace("_", "-") for d in where.get(module, [module])}
        extra = OPTIONAL.get(module)
        allowed = extras[extra] if extra else required
        if not dists & allowed:
            missing.append((module, sorted(dists), extra or "dependencies"))
    assert missing == []


def test_optional_modules_are_not_required():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not declared(project["dependencies"]) & {"docker", "requests", "opentelemetry-sdk", "opentelemetry-api"}
