"""Parse and validate one policy file: TOML syntax, the JSON Schema, then rules a schema cannot say.

Returns the parsed data and a list of `PolicyError`s; it never raises on bad input. Messages
say what is allowed, so a person can fix the file without opening the schema.
"""

from __future__ import annotations

import json
import re
import tomllib
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from sandgate.policy.errors import PolicyError, dotted
from sandgate.policy.hosts import split_port
from sandgate.policy.locate import line_of
from sandgate.policy.resources import schema_path

_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(schema_path().read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def _subschema(path: tuple[str | int, ...]) -> dict[str, Any]:
    """The schema node that describes `path`, following `$ref`s, for allowed keys and descriptions."""
    node = schema()
    for part in path:
        node = _resolve(node)
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part, {})
    return _resolve(node)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return schema()["$defs"][ref.removeprefix("#/$defs/")]
    return node


def _describe(error: ValidationError) -> tuple[tuple[str | int, ...], str]:
    """Turn a jsonschema error into (key path, a message a person can act on)."""
    path = tuple(error.absolute_path)
    value = error.instance
    kind = error.validator
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        key = unexpected[0] if unexpected else ""
        return path + ((key,) if key else ()), (f"unknown key {key!r}; allowed here: {', '.join(allowed)}")
    if kind == "enum":
        options = ", ".join(json.dumps(v) for v in error.validator_value)
        return path, f"must be one of {options}, not {json.dumps(value)}"
    if kind == "const":
        return path, f"must be {json.dumps(error.validator_value)}, not {json.dumps(value)}"
    if kind == "type":
        return path, f"must be {_article(error.validator_value)}, not {json.dumps(value)}"
    if kind == "required":
        missing = [k for k in error.validator_value if k not in (value or {})]
        return path, f"missing required key {missing[0]!r}" if missing else error.message
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        words = {
            "minimum": "at least",
            "exclusiveMinimum": "greater than",
            "maximum": "at most",
            "exclusiveMaximum": "less than",
        }
        return path, f"must be {words[kind]} {error.validator_value}, not {json.dumps(value)}"
    if kind == "pattern":
        hint = _subschema(path).get("description", "")
        if path and path[-2:-1] and path[-2] in ("allow_hosts", "deny_hosts"):
            hint = 'a host name such as "api.example.com" or "*.example.com", optionally with a port ("127.0.0.1:8080")'
        return path, f"{json.dumps(value)} is not valid here" + (f"; expected {hint}" if hint else "")
    if kind == "uniqueItems":
        return path, "lists each value once; remove the duplicate"
    if kind == "minLength":
        return path, "must not be empty"
    return path, error.message


def _article(type_name: Any) -> str:
    names = {
        "object": "a table",
        "array": "a list",
        "string": "a string",
        "boolean": "true or false",
        "integer": "a whole number",
        "number": "a number",
    }
    if isinstance(type_name, list):
        return " or ".join(names.get(t, str(t)) for t in type_name)
    return names.get(type_name, str(type_name))


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _semantic_errors(data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """What the schema cannot say: unique rule ids, no wildcard over a whole top-level domain."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen: dict[str, int] = {}
    # The schema reports values of the wrong type; these checks read only what has the right one.
    for index, rule in enumerate(_listed(data.get("rules"))):
        if not isinstance(rule, dict):
            continue
        rule_id = rule.get("id")
        if isinstance(rule_id, str):
            if rule_id in seen:
                problems.append(
                    (
                        (("rules", index, "id")),
                        f"rule id {rule_id!r} is already used by rules[{seen[rule_id]}]; ids must be unique",
                    )
                )
            seen.setdefault(rule_id, index)
    network = data.get("network")
    network = network if isinstance(network, dict) else {}
    for key in ("allow_hosts", "deny_hosts"):
        for index, entry in enumerate(_listed(network.get(key))):
            host, port = split_port(entry) if isinstance(entry, str) else (entry, None)
            if port is not None and not 0 < port < 65536:
                problems.append((("network", key, index), f"{entry!r}: the port must be 1-65535"))
            elif isinstance(host, str) and host.startswith("*.") and "." not in host[2:]:
                problems.append(
                    (
                        ("network", key, index),
                        f'{host!r} covers a whole top-level domain; name the domain, e.g. "*.example{host[1:]}"',
                    )
                )
            elif isinstance(host, str) and host.startswith("*.") and _public_suffix(host[2:]):
                suffix = host[2:].rstrip(".").lower()
                problems.append(
                    (
                        ("network", key, index),
                        f"{host!r} covers a whole public suffix ({suffix}); name a domain under it, "
                        f'e.g. "*.example.{suffix}"',
                    )
                )
    return problems


@lru_cache(maxsize=1)
def _suffix_list() -> Any:
    from publicsuffixlist import PublicSuffixList  # the list ships with the package: no download

    return PublicSuffixList()


def _public_suffix(domain: str) -> bool:
    """Whether `domain` is itself a public suffix (`co.uk`, `github.io`), per the Public Suffix List."""
    domain = domain.rstrip(".").lower()
    if not domain or "*" in domain:
        return False
    return bool(_suffix_list().is_public(domain))


def parse_policy(text: str, path: str) -> tuple[dict[str, Any], list[PolicyError]]:
    """Parse and validate one policy file's text. Errors are sorted by line."""
    # Notepad and other Windows editors start a UTF-8 file with a byte-order mark, which TOML
    # parsers reject as a statement ("Invalid statement" on line 1): it says nothing, so it goes.
    text = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION.search(str(exc))
        # tomllib names no line for what ends too early ("… (at end of document)"): the last line.
        line = int(match.group(1)) if match else _last_line(text)
        message = _TOML_POSITION.sub("", str(exc)).strip()
        return {}, [PolicyError(path, line, "", f"not valid TOML: {message}")]
    errors: list[PolicyError] = []
    found = [_describe(error) for error in _validator().iter_errors(data)] + _semantic_errors(data)
    for key_path, message in found:
        # A key that no line sets (a required key missing from the top level) is the file's first line.
        error = PolicyError(path, line_of(text, key_path) or 1, dotted(key_path), message)
        if error not in errors:  # the schema can say one thing twice (a rule's required id, per branch)
            errors.append(error)
    errors.sort(key=lambda e: (e.line, e.key))
    return data, errors


def _last_line(text: str) -> int:
    return max(1, len(text.splitlines()))
