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
from drkit.commands import interrupt
from drkit.commands.console import silence_stdout
from drkit.core import batch_gc
from drkit.core.errors import DrkitError

# Each subcommand's module, exposing `register(subparsers)` that adds it with `func` set.
COMMANDS = {
    "preview": "drkit.commands.preview.command",
    "route": "drkit.commands.route.command",
    "check": "drkit.commands.check.command",
    "cost": "drkit.commands.cost.command",
    "pricing": "drkit.commands.pricing.command",
    "drill": "drkit.commands.drill.command",
    "redrive": "drkit.commands.redrive.command",
    "reference": "drkit.commands.reference.command",
    "keys": "drkit.commands.keys.command",
    "preflight": "drkit.commands.preflight.command",
}
COMMAND_MODULES = tuple(COMMANDS.values())

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


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (its first word), if it is one of ours and the
    words before it do not ask for drkit's own help or version (which list every command)."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
        if arg in ("-h", "--help", "--version"):
            return None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given the command line, only the subcommand it names is imported and
    registered (a command's module pulls in Pulumi, boto3 or the drill engine: up to 0.5 s)."""
    parser = _OneLineParser(
        prog="drkit",
        description="Multi-region disaster recovery for SageMaker inference: preview, check, cost, route, drill.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"drkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = _chosen(argv) if argv is not None else None
    for module in [COMMANDS[chosen]] if chosen else COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
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


def run() -> NoReturn:
    """The `drkit` executable: `main` with Ctrl-C ending it at once (drkit.commands.interrupt) and the
    collector set for a short batch process."""
    interrupt.stop_at_once()
    batch_gc.for_batch()
    code = main()
    batch_gc.before_exit()
    sys.exit(code)


if __name__ == "__main__":
    run()
