"""Combine policy layers into one `Policy`, and hold every lower layer to the managed one.

Layers, weakest first: built-in defaults, a preset, the workspace file (or a file the user
names), the managed file. Lower layers merge key by key (rules merge by id), with guards on a
*workspace* file (the repository's own `.sandgate/policy.toml`, written by whoever wrote the
repository): it may narrow the sandbox backends only by dropping weaker ones, cannot turn the run
off, choose its host user or image, or show languages Sandgate cannot vet, and may add to
`files.exclude` and `files.protected` but never remove an entry (also not by `extends` naming a
preset with fewer); a file the user names may.

The managed layer is a floor. Its floor is the preset it `extends` (balanced when it names none)
with the managed file on top: the floor's rules and default are kept apart and evaluated on
their own (the stricter decision stands, `policy.evaluate`), so no lower rule, whatever its id,
can loosen a decision the floor makes, also one that comes from a managed setting
(`deny_calls` findings are decided by the floor preset's rules). A lower value looser than the
managed one, the floor's sandbox run (`required`, `backends`) included, is refused and the
managed value applies; a lower rule cannot reuse a managed rule's id. Every refusal names the
rule that refused it and both places (file:line).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandgate.findings import Verdict
from sandgate.policy import endpoints, hosts
from sandgate.policy.errors import PolicyError, dotted
from sandgate.policy.locate import line_of
from sandgate.policy.model import BACKENDS, UNVETTED_CHOICES, Combine, Policy
from sandgate.policy.shape import KeyPath, build, leaves, nest
from sandgate.workspace_globs import same_glob


@dataclass(frozen=True)
class Layer:
    name: str  # "preset:balanced", "workspace", "managed", "file"
    path: str
    text: str
    data: dict[str, Any]

    def line(self, key: KeyPath | tuple[str | int, ...]) -> int:
        return line_of(self.text, key)


def _file_leaves(data: dict[str, Any], prefix: KeyPath = ()) -> dict[KeyPath, Any]:
    """A file's tables flattened to key paths; lists and scalars are leaves; `rules` is handled apart."""
    out: dict[KeyPath, Any] = {}
    for key, value in data.items():
        if key in ("rules", "version", "extends") and not prefix:
            continue
        if isinstance(value, dict):
            out.update(_file_leaves(value, prefix + (key,)))
        else:
            out[prefix + (key,)] = value
    return out


# How to compare a lower value with the managed one, one function per `Combine`. Each returns
# (value to use, refused parts or None when the lower value is acceptable).
def _at_most(lower: Any, managed: Any) -> tuple[Any, Any]:
    return (lower, None) if lower <= managed else (managed, lower)


def _true_wins(lower: Any, managed: Any) -> tuple[Any, Any]:
    return (lower, None) if lower or not managed else (True, lower)


def _false_wins(lower: Any, managed: Any) -> tuple[Any, Any]:
    return (lower, None) if not lower or managed else (False, lower)


def _union(lower: Any, managed: Any) -> tuple[Any, Any]:
    return list(dict.fromkeys([*managed, *lower])), None


def _kept_if_covered(covers: Callable[[str, str], bool]) -> Callable[[Any, Any], tuple[Any, Any]]:
    """Keep the lower entries that some managed entry covers (`covers(managed, lower)`): for hosts,
    `api.example.com:443` under `*.example.com`, not `api.example.com:8080`."""

    def combine(lower: Any, managed: Any) -> tuple[Any, Any]:
        kept = [v for v in lower if any(covers(m, v) for m in managed)]
        refused = [v for v in lower if v not in kept]
        return kept, (refused or None)

    return combine


def _same_backends(lower: Any, managed: Any) -> tuple[Any, Any]:
    """The managed backends stand as they are: a lower list may neither add one (a backend the
    administrator did not allow) nor drop one (fewer backends, fewer runs: `[]` skips the run and
    every run-time finding with it)."""
    extra = [v for v in lower if v not in managed]
    if extra:
        return list(managed), extra
    return list(managed), (lower if set(lower) != set(managed) else None)


def _equal(lower: Any, managed: Any) -> tuple[Any, Any]:
    return (managed, None) if lower in (managed, "") else (managed, lower)


_VERDICTS = {v.name.lower(): v for v in Verdict}


def _verdict_at_least(lower: Any, managed: Any) -> tuple[Any, Any]:
    return (lower, None) if _VERDICTS[lower] >= _VERDICTS[managed] else (managed, lower)


def _unvetted_at_most(lower: Any, managed: Any) -> tuple[Any, Any]:
    """Languages without vetting: skip < review < allow; the managed choice is the loosest allowed."""
    loose = UNVETTED_CHOICES.index
    return (lower, None) if loose(lower) <= loose(managed) else (managed, lower)


_COMBINE: dict[Combine, Callable[[Any, Any], tuple[Any, Any]]] = {
    Combine.AT_MOST: _at_most,
    Combine.STRICTER_VERDICT: _verdict_at_least,
    Combine.TRUE_WINS: _true_wins,
    Combine.FALSE_WINS: _false_wins,
    Combine.UNION: _union,
    Combine.ENDPOINTS_COVERED: _kept_if_covered(endpoints.covers),
    Combine.HOSTS_COVERED: _kept_if_covered(hosts.covers),
    Combine.SAME_BACKENDS: _same_backends,
    Combine.EQUAL: _equal,
    Combine.UNVETTED_AT_MOST: _unvetted_at_most,
    # A lower layer may turn off only pack rules the managed policy lets it: those its globs cover.
    Combine.GLOBS_COVERED: _kept_if_covered(lambda managed, lower: fnmatch.fnmatchcase(lower, managed)),
}


def _combine_for(key: KeyPath) -> Callable[[Any, Any], tuple[Any, Any]]:
    return _COMBINE[leaves()[key].managed]


# -- the workspace guard ----------------------------------------------------------------------
# A repository's own policy must not weaken the run its suggestions get. Each guard returns why a
# workspace value is refused (the value before it, from the preset, then applies), or None.


def _backends_guard(value: Any, current: Any) -> str | None:
    if not value:
        return "would skip the sandbox run: a workspace policy cannot empty the backends"
    allowed = [b for b in BACKENDS if b in current]  # BACKENDS is strongest first
    if set(value) != set(allowed[: len(set(value))]):
        return (
            "picks a weaker backend than the preset allows: a workspace policy may narrow the "
            "backends only by dropping weaker ones (docker before bwrap)"
        )
    return None


def _required_guard(value: Any, current: Any) -> str | None:
    if current and not value:
        return "would show suggestions that never ran: a workspace policy cannot turn off a required run"
    return None


def _user_guard(value: Any, current: Any) -> str | None:
    if value != current:
        return "would choose the sandbox's host user: only a managed policy or your own --policy file may"
    return None


def _image_guard(value: Any, current: Any) -> str | None:
    if value != current:
        return "would choose the image the sandbox runs from: only a managed policy or your own --policy file may"
    return None


def _unvetted_guard(value: Any, current: Any) -> str | None:
    if value == "allow" and current != "allow":
        return (
            "would show suggestions in languages Sandgate cannot vet: only you may choose that (the "
            "editor setting sandgate.languages.unvetted, or your own --policy file)"
        )
    return None


_WORKSPACE_GUARDS: dict[KeyPath, Callable[[Any, Any], str | None]] = {
    ("sandbox", "backends"): _backends_guard,
    ("sandbox", "required"): _required_guard,
    ("sandbox", "user"): _user_guard,
    ("sandbox", "image"): _image_guard,
    ("languages", "unvetted"): _unvetted_guard,
}

# Lists a workspace policy may add to but never shrink: what keeps secrets from the sandbox and
# the model, and what no suggestion may change. The workspace's list is taken with every entry
# before it kept (so `[]` changes nothing); entries it left out are named in a refusal (one it
# only respelled, `**/.ENV` for `**/.env`, is not). Adding can only hide or protect more: the
# matcher (`workspace_globs`) has no negation.
_GROW_ONLY: dict[KeyPath, str] = {
    ("files", "exclude"): "keeps from the sandbox and the model",
    ("files", "protected"): "protects from a suggestion's edits and writes",
}


def _left_out(value: list[str], current: list[str]) -> list[str]:
    """Entries of `current` that `value` does not hold (spelled alike: case and slashes aside)."""
    return [c for c in current if not any(same_glob(c, v) for v in value)]


# What the floor preset binds under a managed policy even where the managed file says nothing: the
# run itself (without it, no run-time finding a managed rule blocks is ever seen) and the default.
FLOOR_KEYS: tuple[KeyPath, ...] = (("sandbox", "required"), ("sandbox", "backends"), ("decision", "default"))


@dataclass
class Merged:
    leaves: dict[KeyPath, Any]
    sources: dict[KeyPath, Layer | None]  # None: built-in default
    rules: dict[str, tuple[dict[str, Any], Layer]]
    # The managed floor: the preset the managed file extends, the managed file's own rules on top.
    floor_rules: dict[str, tuple[dict[str, Any], Layer]]
    floor_default: str | None
    refusals: list[PolicyError]


def merge(
    lower: list[Layer],
    managed: Layer | None,
    floor_preset: Layer | None = None,
    baseline: Layer | None = None,
    report_managed: bool = True,
) -> Merged:
    """Merge `lower` (weakest first), then hold it to `managed` and its `floor_preset`.

    `baseline`: the preset the user chose (or the default) where a workspace file's `extends`
    picked another; its `_GROW_ONLY` entries stay. `report_managed=False`: `managed` stands in for a
    managed file that could not be read (the strict preset): its comparisons still apply, but they
    are not the user's to fix, so they are not reported (the file's own error is)."""
    values = {key: leaf.default for key, leaf in leaves().items()}
    sources: dict[KeyPath, Layer | None] = {k: None for k in values}
    rules: dict[str, tuple[dict[str, Any], Layer]] = {}
    refusals: list[PolicyError] = []
    managed_ids = {r["id"]: i for i, r in enumerate(managed.data.get("rules", []))} if managed else {}
    for layer in lower:
        for key, value in _file_leaves(layer.data).items():
            if layer.name == "workspace" and key in _GROW_ONLY:
                dropped = _left_out(value, values[key])
                if dropped:
                    refusals.append(_shrunk(key, dropped, layer, key, sources[key]))
                # The entries before it stay as written, also where it respelled one: every
                # reader of the list (the model guard, the sandbox's view) sees them as the preset has them.
                value = list(dict.fromkeys([*values[key], *value]))
            guard = _WORKSPACE_GUARDS.get(key) if layer.name == "workspace" else None
            why = guard(value, values[key]) if guard else None
            if why:
                refusals.append(_refusal(key, value, values[key], layer, sources[key], why))
                continue
            values[key] = value
            sources[key] = layer
        for index, rule in enumerate(layer.data.get("rules", [])):
            if managed is not None and rule["id"] in managed_ids:
                if not layer.name.startswith("preset:") and report_managed:
                    refusals.append(_reused_id(layer, index, rule["id"], managed, managed_ids[rule["id"]]))
                continue
            rules[rule["id"]] = (rule, layer)
    workspace = next((layer for layer in lower if layer.name == "workspace"), None)
    if baseline is not None and workspace is not None:
        refusals.extend(_keep_baseline(values, sources, workspace, baseline))

    floor_rules: dict[str, tuple[dict[str, Any], Layer]] = {}
    floor_default = None
    if managed is not None:
        floor = _floor_leaves(managed, floor_preset)
        for key, (managed_value, origin) in floor.items():
            value, refused = _combine_for(key)(values[key], managed_value)
            source = sources[key]
            if refused is not None and source is not None and report_managed:
                refusals.append(
                    _refusal(
                        key, refused, managed_value, source, origin, "is looser than the managed policy allows", managed
                    )
                )
            values[key] = value
            if refused is not None or value == managed_value:
                sources[key] = origin
        for layer in ([floor_preset] if floor_preset else []) + [managed]:
            for rule in layer.data.get("rules", []):
                floor_rules[rule["id"]] = (rule, layer)
        floor_default = floor.get(("decision", "default"), (None, None))[0]
        if report_managed:
            refusals.extend(_undercut(rules, floor_rules, managed))
    return Merged(values, sources, rules, floor_rules, floor_default, refusals)


def _keep_baseline(
    values: dict[KeyPath, Any], sources: dict[KeyPath, Layer | None], workspace: Layer, baseline: Layer
) -> list[PolicyError]:
    """Put back the `_GROW_ONLY` entries of `baseline` (the user's preset) that the preset the
    `workspace` file `extends` lacks; each list that lacked some is a refusal on `extends`."""
    out: list[PolicyError] = []
    preset = _file_leaves(baseline.data)
    for key in _GROW_ONLY:
        dropped = _left_out(values[key], preset.get(key, []))
        if dropped:
            out.append(_shrunk(key, dropped, workspace, ("extends",), baseline))
            values[key] = list(dict.fromkeys([*values[key], *dropped]))
            sources[key] = baseline
    return out


def _floor_leaves(managed: Layer, floor_preset: Layer | None) -> dict[KeyPath, tuple[Any, Layer]]:
    """Each value the managed policy holds lower layers to, and the layer that set it."""
    floor: dict[KeyPath, tuple[Any, Layer]] = {}
    if floor_preset is not None:
        preset = _file_leaves(floor_preset.data)
        floor.update({k: (preset[k], floor_preset) for k in FLOOR_KEYS if k in preset})
    floor.update({k: (v, managed) for k, v in _file_leaves(managed.data).items()})
    return floor


def _undercut(
    rules: dict[str, tuple[dict[str, Any], Layer]], floor_rules: dict[str, tuple[dict[str, Any], Layer]], managed: Layer
) -> list[PolicyError]:
    """A lower rule (of a file, not a preset) that would loosen what a floor rule decides: it stays (it
    may decide other findings), but the floor's decision applies, and the author is told so."""
    out: list[PolicyError] = []
    for rule_id, (rule, layer) in rules.items():
        if layer.name.startswith("preset:"):
            continue
        verdict = _VERDICTS[rule["decision"]]
        # The managed file's own rules first (they come last): the administrator's rule is the one to name.
        for floor_id, (floor_rule, floor_layer) in reversed(floor_rules.items()):
            if _VERDICTS[floor_rule["decision"]] > verdict and _overlap(rule, floor_rule):
                index = next(i for i, r in enumerate(layer.data["rules"]) if r["id"] == rule_id)
                key = ("rules", index, "decision")
                out.append(
                    PolicyError(
                        layer.path,
                        layer.line(key),
                        dotted(key),
                        f'"{rule["decision"]}" for {_selector(rule)} would loosen {_rule_owner(floor_layer, managed)} '
                        f"{floor_id} ({_selector(floor_rule)} -> {floor_rule['decision']}) "
                        f"({_where(floor_layer, _rule_line(floor_layer, floor_id), managed)}); the managed decision applies",
                    )
                )
                break
    return out


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two rules can match one finding (severity and confidence are minimums: they always can)."""
    if a.get("source") and b.get("source") and a["source"] != b["source"]:
        return False
    glob_a, glob_b = a.get("rule"), b.get("rule")
    return not (glob_a and glob_b) or fnmatch.fnmatchcase(glob_a, glob_b) or fnmatch.fnmatchcase(glob_b, glob_a)


def _selector(rule: dict[str, Any]) -> str:
    parts = [f"{k} {rule[k]}" for k in ("source", "rule", "severity", "confidence") if rule.get(k)]
    return ", ".join(parts) or "any finding"


def _rule_line(layer: Layer, rule_id: str) -> int:
    index = next(i for i, r in enumerate(layer.data.get("rules", [])) if r["id"] == rule_id)
    return layer.line(("rules", index, "id"))


def _rule_owner(layer: Layer, managed: Layer | None) -> str:
    """How a refusal names the layer whose rule refused: the managed file, the preset it extends
    (the managed floor), or the preset a workspace file sits on."""
    if layer.name == "managed":
        return "the managed rule"
    if managed is not None:
        return "the managed floor's rule"
    return f"the preset {layer.name.split(':', 1)[-1]}'s rule"


def _where(layer: Layer, line: int, managed: Layer | None) -> str:
    """file:line of a refusing rule; for the managed floor's preset, also whose floor it is."""
    where = f"{layer.path}:{line}"
    if managed is not None and layer is not managed:
        where += f", the preset {managed.path} extends"
    return where


def _reused_id(layer: Layer, index: int, rule_id: str, managed: Layer, managed_index: int) -> PolicyError:
    key = ("rules", index, "id")
    where = f"{managed.path}:{managed.line(('rules', managed_index, 'id'))}"
    return PolicyError(
        layer.path,
        layer.line(key),
        dotted(key),
        f'"{rule_id}" is the id of the managed rule {rule_id} ({where}); a lower layer cannot '
        "reuse it: this rule is dropped and the managed rule applies",
    )


def _refusal(
    key: KeyPath,
    refused: Any,
    kept: Any,
    source: Layer,
    rule_layer: Layer | None,
    why: str,
    managed: Layer | None = None,
) -> PolicyError:
    """`source`'s value at `key` refused because of `rule_layer`'s value `kept`, which applies."""
    if rule_layer is None:
        owner, where = "Sandgate's default", "built in"
    else:
        owner, where = _rule_owner(rule_layer, managed), _where(rule_layer, rule_layer.line(key), managed)
    applies = "managed" if managed is not None else "preset's" if rule_layer is not None else "default"
    return PolicyError(
        source.path,
        source.line(key),
        dotted(key),
        f"{_show(refused)} {why}; refused by {owner} {dotted(key)} = {_show(kept)} ({where}); "
        f"the {applies} value applies",
    )


def _shrunk(key: KeyPath, dropped: list[str], source: Layer, at: KeyPath, rule_layer: Layer | None) -> PolicyError:
    """`source` (a workspace file) left out entries of `rule_layer`'s list at `key`; they stay. `at`:
    where in `source` it did (the key itself, or `extends` naming a preset with fewer)."""
    if rule_layer is None:
        owner = "Sandgate's default"
    else:
        owner = f"{_rule_owner(rule_layer, None)} {dotted(key)} ({_where(rule_layer, rule_layer.line(key), None)})"
    how = f"extends = {_show(source.data['extends'])}" if at == ("extends",) else "this list"
    return PolicyError(
        source.path,
        source.line(at),
        dotted(key),
        f"{how} leaves out {_show(dropped)}, which {owner} {_GROW_ONLY[key]}: a workspace policy may add "
        f"to {dotted(key)}, never remove from it; refused: those entries stay in effect, with the file's own added",
    )


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def to_policy(merged: Merged) -> Policy:
    table = nest(merged.leaves)
    table["rules"] = [rule for rule, _ in merged.rules.values()]
    table["floor_rules"] = [rule for rule, _ in merged.floor_rules.values()]
    if merged.floor_default:
        table["floor_default"] = merged.floor_default
    return build(Policy, table)
