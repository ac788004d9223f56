"""`sandgate` command line: one module per command group, each with `register(subparsers)`.

Exit status: 0 when every result is allowed, 1 when any is held or blocked (or a check
such as `audit verify` fails), 2 on bad usage or a broken set-up: a broken policy, a workspace
that is not there, an audit log that cannot be written; 141 (a shell's SIGPIPE status) when the reader
of stdout went away, said nowhere (`sandgate audit show | head -1`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from sandgate import __version__

# Each module defines `register(subparsers)` and sets `func` on its parsers.
COMMAND_MODULES = (
    "sandgate.cli.vet",
    "sandgate.cli.policy",
    "sandgate.cli.sandbox",
    "sandgate.cli.audit",
    "sandgate.cli.serve",
)

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a command SIGPIPE ended (`yes | head -1`)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sandgate",
        description="Vet AI code suggestions with static checks and a sandbox run before anyone sees them.",
    )
    parser.add_argument("--version", action="version", version=f"sandgate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # here, not at exit, where a closed pipe would be reported as ignored
        return code
    except KeyboardInterrupt:
        print("sandgate: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`sandgate audit show | head -1`): stop quietly, as `cat` does.
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush of what is still buffered does not
    fail on the closed pipe as well (the recipe of the Python docs, `signal` module, SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout to redirect (a test's capture): nothing to flush
        pass


if __name__ == "__main__":
    sys.exit(main())
