"""The `drkit` command line. Each subcommand lives in its own module and registers itself.

Every `DrkitError` is caught here, once, and printed as a message without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from drkit.core.errors import DrkitError

# Modules exposing `register(subparsers)`; each adds one subcommand with `func` set.
COMMAND_MODULES = (
    "drkit.commands.preview.command",
    "drkit.commands.route.command",
    "drkit.commands.check.command",
    "drkit.commands.cost.command",
    "drkit.commands.drill.command",
    "drkit.commands.redrive.command",
)


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (exit 2) like every other drkit error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"drkit: error: {self.prog.removeprefix('drkit ')}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="drkit",
        description="Multi-region disaster recovery for SageMaker inference: preview, check, cost, route, drill.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DrkitError as exc:
        print(f"drkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("drkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
