"""The policy file's shape, read from the model (`policy.model`): its keys, their defaults and
types, and how the managed layer combines each. Nothing else lists the keys.

A key path names a leaf of the file (`("sandbox", "limits", "memory_mb")`): a nested dataclass of
the model is a table, `Policy.rules` the one array of tables. Values convert between the file's
form (lists, "" for none, verdict names) and the model's (tuples, None, `Verdict`) here alone.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import MISSING, Field, asdict, dataclass, fields, is_dataclass
from functools import cache
from typing import Any, cast

from sandgate.policy.model import DERIVED, MANAGED, Combine, Policy

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class Leaf:
    model_default: Any
    managed: Combine

    @property
    def default(self) -> Any:
        """The built-in default in the file's form (a fresh copy: callers may keep it)."""
        return to_file(self.model_default)


def _default(f: Field) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def _is_table_array(kind: Any) -> bool:
    """Whether the model type `kind` is an array of tables (`tuple[Rule, ...]`)."""
    return typing.get_origin(kind) is tuple and is_dataclass(typing.get_args(kind)[0])


@cache
def leaves(cls: type = Policy, prefix: KeyPath = ()) -> dict[KeyPath, Leaf]:
    """Every key of the file under `cls`'s table, in the model's order. Arrays of tables (`rules`)
    and derived fields are not leaves."""
    hints = typing.get_type_hints(cls)
    out: dict[KeyPath, Leaf] = {}
    for f in fields(cls):
        kind = hints[f.name]
        if f.metadata.get(DERIVED) or _is_table_array(kind):
            continue
        if is_dataclass(kind):
            out.update(leaves(cast(type, kind), prefix + (f.name,)))
        else:
            out[prefix + (f.name,)] = Leaf(_default(f), f.metadata[MANAGED])
    return out


def plain(value: Any) -> Any:
    """A model value (a whole `Policy` too) as JSON: enums by name, tuples as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, enum.Enum):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def to_file(value: Any) -> Any:
    """A leaf's model value as the file writes it ("" where the model has None)."""
    return "" if value is None else plain(value)


def _from_file(kind: Any, value: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):  # `X | None`: absent or "" is None
        inner = next(a for a in typing.get_args(kind) if a is not type(None))
        return None if value is None or value == "" else _from_file(inner, value)
    if origin is tuple:
        item = typing.get_args(kind)[0]
        return tuple(_from_file(item, v) for v in value)
    if is_dataclass(kind):
        return build(cast(type, kind), value)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind[str(value).strip().upper()]
    return value


def build(cls: type, table: dict[str, Any]) -> Any:
    """An instance of the model's `cls` from a table in the file's form; absent keys keep their default."""
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _from_file(hints[f.name], table[f.name]) for f in fields(cls) if f.name in table})


def nest(flat: dict[KeyPath, Any]) -> dict[str, Any]:
    """Key paths and values back into tables."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        table = out
        for part in path[:-1]:
            table = table.setdefault(part, {})
        table[path[-1]] = value
    return out
