"""Build the effective policy for a workspace from its layers.

Defaults < preset < workspace `.sandgate/policy.toml` (or a file given explicitly) < managed
policy (`SANDGATE_MANAGED_POLICY`, default `/etc/sandgate/policy.toml`). A broken layer is
replaced by the strict preset, so a typo can never loosen anything (fail closed); its errors
travel with the result so that every caller can show them.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandgate.policy.errors import PolicyError, PolicyLoadError, dotted
from sandgate.policy.layers import Layer, merge, to_policy
from sandgate.policy.model import Policy
from sandgate.policy.resources import DEFAULT_PRESET, PRESETS, preset_path
from sandgate.policy.shape import plain
from sandgate.policy.validate import parse_policy

WORKSPACE_POLICY = Path(".sandgate") / "policy.toml"
DEFAULT_MANAGED_POLICY = Path("/etc/sandgate/policy.toml")
MANAGED_ENV = "SANDGATE_MANAGED_POLICY"


@dataclass
class LoadedPolicy:
    policy: Policy
    digest: str
    preset: str
    layers: list[Layer]
    # Errors in a layer's file: that layer was replaced by the strict preset.
    errors: list[PolicyError] = field(default_factory=list)
    # Lower-layer values that the managed policy refused (the managed value applies).
    refusals: list[PolicyError] = field(default_factory=list)
    # dotted key -> the layer it came from ("default", "preset:balanced", a file path).
    sources: dict[str, str] = field(default_factory=dict)
    trusted: bool = True

    @property
    def ok(self) -> bool:
        return not self.errors


def managed_policy_path() -> tuple[Path, bool]:
    """The managed policy's path, and whether it was named explicitly (then it must exist)."""
    named = os.environ.get(MANAGED_ENV)
    return (Path(named), True) if named else (DEFAULT_MANAGED_POLICY, False)


def _read_layer(name: str, path: Path) -> tuple[Layer | None, list[PolicyError]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [PolicyError(str(path), 0, "", _not_found(path))]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [PolicyError(str(path), 0, "", f"cannot read the file: {exc}")]
    data, errors = parse_policy(text, str(path))
    return Layer(name, str(path), text, data), errors


def _not_found(path: Path) -> str:
    """A missing file; where it was a bare name (`--policy strictt`), a preset was likely meant."""
    if len(path.parts) != 1 or path.suffix:
        return "file not found"
    close = difflib.get_close_matches(path.name.lower(), PRESETS, n=1, cutoff=0.6)
    guess = f"; did you mean {close[0]!r}?" if close else ""
    return f"no such file, nor a preset (the presets: {', '.join(PRESETS)}){guess}"


def _preset_layer(name: str) -> Layer:
    layer, errors = _read_layer(f"preset:{name}", preset_path(name))
    if layer is None or errors:  # a shipped preset that fails is a broken installation
        raise PolicyLoadError(errors)
    return layer


def policy_digest(policy: Policy) -> str:
    canonical = json.dumps(plain(policy), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _label(layer: Layer | None, floor: Layer | None = None) -> str:
    if layer is None:
        return "default"
    if layer is floor:
        return f"{layer.name} (managed floor)"
    return layer.name if layer.name.startswith("preset:") else f"{layer.name}:{layer.path}"


def resolve_policy_arg(value: str | None) -> tuple[str | None, Path | None]:
    """`--policy` takes a preset name or a path."""
    if value is None:
        return None, None
    if value in PRESETS:
        return value, None
    return None, Path(value)


def load_effective(
    workspace: Path | None,
    preset: str | None = None,
    trusted: bool = True,
    explicit: Path | None = None,
    user_choices: dict[str, Any] | None = None,
) -> LoadedPolicy:
    """The policy in force for `workspace`. Never raises on bad files: see `.errors`.

    `user_choices`: policy values the user set in the editor's settings (already validated),
    applied above the workspace file as the user's own (like `explicit`), under the managed policy."""
    errors: list[PolicyError] = []
    if preset is not None and preset not in PRESETS:
        errors.append(PolicyError("<settings>", 0, "preset", f"unknown preset {preset!r}; one of {', '.join(PRESETS)}"))
        preset = "strict"

    user_preset = preset
    own: Layer | None = None
    own_path = explicit if explicit is not None else (workspace / WORKSPACE_POLICY if workspace else None)
    if not trusted:
        # An untrusted workspace could loosen rules: its file is not read at all.
        preset = "strict"
        own_path = explicit
    if own_path is not None and (explicit is not None or own_path.is_file()):
        own, own_errors = _read_layer("file" if explicit else "workspace", own_path)
        if own_errors:
            errors.extend(own_errors)
            own, preset = None, "strict"
        elif own is not None and own.data.get("extends"):
            preset = own.data["extends"]

    chosen = preset or DEFAULT_PRESET
    lower = [_preset_layer(chosen)] + ([own] if own else [])
    # A workspace file's `extends` may pick another preset, but not one that hides or protects
    # fewer files than the preset the user chose (or the default): those entries stay.
    asked = user_preset or DEFAULT_PRESET
    baseline = _preset_layer(asked) if own is not None and own.name == "workspace" and asked != chosen else None
    if user_choices:
        lower.append(Layer("settings", "<editor settings>", "", user_choices))

    managed: Layer | None = None
    floor_preset: Layer | None = None
    managed_path, named = managed_policy_path()
    managed_read = True
    if named or managed_path.is_file():
        managed, managed_errors = _read_layer("managed", managed_path)
        if managed_errors or managed is None:
            errors.extend(managed_errors)
            # The strict preset stands in for it; what it refuses is not the user's to fix, so
            # only the file's own error is reported (see `merge`).
            managed = Layer("managed", str(managed_path), "", _preset_layer("strict").data)
            managed_read = False
        # The managed floor starts from the preset the managed file extends (see policy.layers).
        floor_preset = _preset_layer(managed.data.get("extends") or DEFAULT_PRESET)

    merged = merge(lower, managed, floor_preset, baseline=baseline, report_managed=managed_read)
    policy = to_policy(merged)
    sources = {dotted(k): _label(layer, floor_preset) for k, layer in merged.sources.items()}
    sources.update({f"rules.{rule_id}": _label(layer) for rule_id, (_, layer) in merged.rules.items()})
    sources.update(
        {f"managed-rules.{rule_id}": _label(layer, floor_preset) for rule_id, (_, layer) in merged.floor_rules.items()}
    )
    return LoadedPolicy(
        policy=policy,
        digest=policy_digest(policy),
        preset=chosen,
        layers=lower + ([managed] if managed else []),
        errors=errors,
        refusals=merged.refusals,
        sources=sources,
        trusted=trusted,
    )
