"""`sandgate policy show|validate`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sandgate.checks.shadowed import never_deciding
from sandgate.cli.common import add_policy_options, load_for, report_policy_problems
from sandgate.cli.main import EXIT_OK, EXIT_USAGE
from sandgate.policy.errors import dotted
from sandgate.policy.load import WORKSPACE_POLICY, load_effective
from sandgate.policy.shape import leaves, plain
from sandgate.policy.validate import parse_policy
from sandgate.terminal import safe


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("policy", help="show or validate policies")
    commands = parser.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)

    show = commands.add_parser("show", help="print the effective policy with the layer each value came from")
    add_policy_options(show)
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.set_defaults(func=show_policy)

    validate = commands.add_parser("validate", help="check policy files; errors name file, line and key")
    validate.add_argument("paths", nargs="+", metavar="PATH", type=Path)
    validate.set_defaults(func=validate_policy)


def show_policy(args: argparse.Namespace) -> int:
    loaded = load_for(args)
    broken = report_policy_problems(loaded)
    data = plain(loaded.policy)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "preset": loaded.preset,
                    "digest": loaded.digest,
                    "policy": data,
                    "sources": loaded.sources,
                    "errors": [e.to_json() for e in loaded.errors],
                    "refusals": [e.to_json() for e in loaded.refusals],
                },
                indent=2,
            )
        )
        return EXIT_USAGE if broken else EXIT_OK
    print(f"# effective policy (preset {loaded.preset}, digest {loaded.digest[:16]})")
    for path in leaves():
        key = dotted(path)
        print(safe(f"{key} = {json.dumps(_at(data, path))}    # {loaded.sources.get(key, 'default')}"))
    for rule in data["rules"]:
        print(safe(_rule_line(rule, loaded.sources.get(f"rules.{rule['id']}", "?"))))
    if data["floor_rules"] or any(layer.name == "managed" for layer in loaded.layers):
        print(
            f"# the managed floor, evaluated apart (the stricter decision stands); default {json.dumps(data['floor_default'])}"
        )
    for rule in data["floor_rules"]:
        print(safe(_rule_line(rule, loaded.sources.get(f"managed-rules.{rule['id']}", "managed"))))
    for refusal in loaded.refusals:
        print(safe(f"# refused: {refusal}"))
    return EXIT_USAGE if broken else EXIT_OK


def _at(data: dict, path: tuple[str, ...]):
    for part in path:
        data = data[part]
    return data


def _rule_line(rule: dict, source: str) -> str:
    match = ", ".join(f"{k}={rule[k]}" for k in ("source", "rule", "severity", "confidence") if rule.get(k))
    about = f" — {rule['description']}" if rule.get("description") else ""
    return f"rule {rule['id']}: {match or 'any finding'} -> {rule['decision']}    # {source}{about}"


def validate_policy(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for path in args.paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(safe(f"{path}: cannot read: {exc}"))
            status = EXIT_USAGE
            continue
        data, errors = parse_policy(text, str(path))
        for error in errors:
            print(safe(error))
        if errors:
            status = EXIT_USAGE
            continue
        # Valid on its own; also show what would be refused: by the managed policy in force, and, for
        # a workspace's `.sandgate/policy.toml`, by the rules a repository's own policy is held to.
        if path.name == WORKSPACE_POLICY.name and path.parent.name == WORKSPACE_POLICY.parent.name:
            loaded = load_effective(path.resolve().parent.parent)
        else:
            loaded = load_effective(None, explicit=path)
        for refusal in loaded.refusals:
            print(safe(f"{refusal} (warning)"))
        for unused in never_deciding(loaded.policy, loaded.sources, str(path), text, data or {}):
            print(safe(f"{unused} (warning)"))
        print(safe(f"{path}: ok"))
    return status
