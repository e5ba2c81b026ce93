"""The `drkit` command line. Each subcommand lives in its own module and registers itself.

Every `DrkitError` is caught here, once, and printed as a message without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from drkit import __version__
from drkit.commands.console import silence_stdout
from drkit.core.errors import DrkitError

# Modules exposing `register(subparsers)`; each adds one subcommand with `func` set.
COMMAND_MODULES = (
    "drkit.commands.preview.command",
    "drkit.commands.route.command",
    "drkit.commands.check.command",
    "drkit.commands.cost.command",
    "drkit.commands.pricing.command",
    "drkit.commands.drill.command",
    "drkit.commands.redrive.command",
    "drkit.commands.reference.command",
    "drkit.commands.keys.command",
    "drkit.commands.preflight.command",
)

EXIT_CODES = """\
exit codes:
  0    success
  1    findings: a mandatory policy violation, a failed drill, a redrive error
  2    bad input: a spec, file or argument drkit refuses (the message says which and why)
  130  interrupted

Data (tables, --json, --format sarif|json|markdown, --asl) goes to stdout; progress and
messages go to stderr.
"""


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (exit 2) like every other drkit error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"drkit: error: {self.prog.removeprefix('drkit ')}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="drkit",
        description="Multi-region disaster recovery for SageMaker inference: preview, check, cost, route, drill.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"drkit {__version__}")
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
    except BrokenPipeError:
        # The reader (`| head`) has what it wanted: not an error.
        silence_stdout()
        return 0
    except KeyboardInterrupt:
        print("drkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
