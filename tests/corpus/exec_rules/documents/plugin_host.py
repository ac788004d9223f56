"""A small command-line host that loads plugins and dispatches sub-commands to them."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from types import ModuleType

PLUGIN_PACKAGE = "toolbox.plugins"
_loaded: dict[str, ModuleType] = {}


class Commands:
    """Sub-commands are methods named `do_<name>`."""

    def do_version(self, args: argparse.Namespace) -> int:
        print("toolbox 2.3.1")
        return 0

    def do_list(self, args: argparse.Namespace) -> int:
        for name in sorted(_loaded):
            print(name)
        return 0

    def dispatch(self, name: str, args: argparse.Namespace) -> int:
        """Run the sub-command `name`."""
        pass  # <fill>


def load_plugin(name: str) -> ModuleType:
    """Import the plugin `name` (once) and return its module."""
    pass  # <fill>


def call_hook(module: ModuleType, hook: str, *args):
    """Call the plugin's hook function if it has one."""
    pass  # <fill>


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="toolbox")
    parser.add_argument("command")
    parser.add_argument("--plugin", action="append", default=[])
    args = parser.parse_args(argv[1:])
    for name in args.plugin:
        load_plugin(name)
    return Commands().dispatch(args.command, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
