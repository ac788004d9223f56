"""Pieces the command groups share: the policy options and loading the policy they name."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sandgate.policy.load import LoadedPolicy, load_effective, resolve_policy_arg
from sandgate.policy.resources import schema_path
from sandgate.terminal import safe


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy", metavar="PATH|PRESET", help="a policy file, or a preset: strict, balanced (default), permissive"
    )
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        type=Path,
        default=None,
        help="the workspace whose .sandgate/policy.toml applies (default: the current folder)",
    )


def workspace_of(args: argparse.Namespace) -> Path:
    """The workspace `--workspace` names (default: the current folder), resolved.

    Raises ValueError when it is not an existing folder: a mistyped path must not become a new
    workspace (`vet` would create its `.sandgate/audit.jsonl` there).
    """
    workspace = (args.workspace or Path.cwd()).resolve()
    if not workspace.is_dir():
        given = args.workspace if args.workspace is not None else workspace
        what = "does not exist" if not workspace.exists() else "is not a folder"
        raise ValueError(f"--workspace {given}: {what}; name an existing folder (the project's root)")
    return workspace


def load_for(args: argparse.Namespace) -> LoadedPolicy:
    preset, explicit = resolve_policy_arg(args.policy)
    workspace = (args.workspace or Path.cwd()).resolve()
    return load_effective(workspace, preset=preset, explicit=explicit)


def warn(message: str) -> None:
    # Messages quote file names, policy keys and exceptions: escaped, as every line the CLI prints.
    print(f"sandgate: {safe(message)}", file=sys.stderr)


def report_policy_problems(loaded: LoadedPolicy) -> bool:
    """Print errors and refusals to stderr; True when the policy is broken."""
    for refusal in loaded.refusals:
        warn(f"warning: {refusal}")
    for error in loaded.errors:
        warn(f"error: {error}")
    if loaded.errors:
        # The schema as installed (the wheel's copy, or the checkout's): a path the user can open.
        warn(f"the policy is broken: fix the errors above (the schema: {schema_path()})")
    return bool(loaded.errors)
