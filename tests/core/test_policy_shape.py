"""The policy's shape has one source, the model (`policy.model`); the JSON schema must say the same.

Walks the schema and the model together: every schema key has a model field of a compatible type
whose default the schema accepts, and every model key is in the schema; every preset validates and
loads; every key the model has says how a managed layer combines it.
"""

from __future__ import annotations

import enum
import functools
import types
import typing
from dataclasses import MISSING, fields, is_dataclass

import jsonschema
import pytest

from sandgate.findings import Level, Verdict
from sandgate.policy import layers
from sandgate.policy.load import load_effective
from sandgate.policy.model import DERIVED, Combine, Policy, Rule
from sandgate.policy.resources import PRESETS, preset_path
from sandgate.policy.shape import leaves, plain, to_file
from sandgate.policy.validate import parse_policy, schema

# Keys about the file itself (its format, the preset it starts from), not settings of the policy.
FILE_KEYS = {"version", "extends"}


def _resolve(node: dict) -> dict:
    ref = node.get("$ref")
    return schema()["$defs"][ref.removeprefix("#/$defs/")] if ref else node


def _schema_keys(node: dict, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], dict]:
    """Leaf key paths of a schema table and their schema nodes (arrays of tables kept whole)."""
    out = {}
    for key, child in node["properties"].items():
        if not prefix and key in FILE_KEYS:
            continue
        child = _resolve(child)
        if child.get("type") == "object":
            out.update(_schema_keys(child, prefix + (key,)))
        else:
            out[prefix + (key,)] = child
    return out


def _model_keys(cls: type, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], type]:
    hints = typing.get_type_hints(cls)
    out = {}
    for f in fields(cls):
        if f.metadata.get(DERIVED):
            continue
        if is_dataclass(hints[f.name]):
            out.update(_model_keys(hints[f.name], prefix + (f.name,)))
        else:
            out[prefix + (f.name,)] = hints[f.name]
    return out


def _compatible(kind, node: dict) -> bool:
    """Whether values the schema admits at `node` fit the model's type `kind`."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        return node.get("type") == "array" and _compatible(item, _resolve(node["items"]))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return set(node.get("enum", ())) == {str(v) for v in kind}
    if "enum" in node:
        return all(isinstance(v, kind) for v in node["enum"])
    expected = {bool: "boolean", int: "integer", float: "number", str: "string"}[kind]
    return node.get("type") == expected


def _validator(node: dict):
    return jsonschema.Draft202012Validator({**node, "$defs": schema()["$defs"]})


def test_every_schema_key_is_a_model_key_and_back():
    assert set(_schema_keys(schema())) == set(_model_keys(Policy))


@pytest.mark.parametrize("path", sorted(leaves()), ids=".".join)
def test_each_key_has_a_compatible_type(path):
    assert _compatible(_model_keys(Policy)[path], _schema_keys(schema())[path])


@pytest.mark.parametrize("path", sorted(leaves()), ids=".".join)
def test_each_default_is_valid_in_the_schema(path):
    assert not list(_validator(_schema_keys(schema())[path]).iter_errors(leaves()[path].default))


def test_rules_items_are_the_rule_fields():
    items = _resolve(schema()["properties"]["rules"]["items"])
    hints = typing.get_type_hints(Rule)
    assert set(items["properties"]) == {f.name for f in fields(Rule)}
    assert set(items["required"]) == {
        f.name for f in fields(Rule) if f.default is MISSING and f.default_factory is MISSING
    }
    for name, node in items["properties"].items():
        assert _compatible(hints[name], _resolve(node)), name
    assert hints["decision"] is Verdict and typing.get_args(hints["severity"])[0] is Level


def test_leaves_are_the_model_keys_but_the_rules():
    assert set(leaves()) == set(_model_keys(Policy)) - {("rules",)}


def test_every_way_to_combine_is_applied():
    assert set(layers._COMBINE) == set(Combine)
    assert {leaf.managed for leaf in leaves().values()} == set(Combine)


def test_layer_tables_name_keys_of_the_model():
    assert set(layers._WORKSPACE_GUARDS) <= set(leaves())
    assert set(layers.FLOOR_KEYS) <= set(leaves())


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_validates_and_loads(preset):
    text = preset_path(preset).read_text(encoding="utf-8")
    data, errors = parse_policy(text, preset)
    assert not errors
    loaded = load_effective(None, preset=preset)
    assert loaded.ok and not loaded.refusals and loaded.policy.rules
    shown = plain(loaded.policy)
    for path, value in layers._file_leaves(data).items():
        assert to_file(functools.reduce(dict.get, path, shown)) == value, path


def test_an_empty_file_gives_the_model_defaults():
    merged = layers.merge([], None)
    assert layers.to_policy(merged) == Policy()
