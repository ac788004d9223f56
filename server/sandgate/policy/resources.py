"""Where the shipped presets and the schema live: inside the wheel, or in the repo's `policies/`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

PRESETS = ("strict", "balanced", "permissive")
DEFAULT_PRESET = "balanced"


@lru_cache(maxsize=1)
def policies_dir() -> Path:
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_policies", package.parent.parent / "policies"):
        if (candidate / "policy.schema.json").is_file():
            return candidate
    raise FileNotFoundError("Sandgate's policies/ folder is missing from this installation")


def schema_path() -> Path:
    return policies_dir() / "policy.schema.json"


def preset_path(name: str) -> Path:
    return policies_dir() / f"{name}.toml"
