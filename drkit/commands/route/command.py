"""`drkit route --payload-bytes N --class C [--spec SPEC] [--off-hours] [--json] [--asl]`.

Answers "where would this request go, and why?" from a spec's traffic classes, with the
same `route()` the router Lambda runs; `--asl` prints the compiled Choice states instead.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from rich.table import Table

from drkit.commands.console import make_console, write_stdout
from drkit.core.asl import routing_only_definition
from drkit.core.errors import UsageError
from drkit.core.loader import MAX_INT_DIGITS
from drkit.core.routing import GIB, MAX_PAYLOAD_BYTES, MIB, TIB, RoutingError, classes_from, explain, human_bytes, route
from drkit.core.spec import load_spec

DEFAULT_SPEC = "stacks/examples/fraud-tier1.yaml"

_UNITS = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": MIB, "gb": 1000**3, "gib": GIB, "tb": 1000**4, "tib": TIB}
_SIZE = re.compile(r"^\s*(\d[\d_,]*)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """`6291456`, `6_291_456`, `6MiB`, `7 MB` -> bytes. Decimal units are decimal, binary units binary."""
    match = _SIZE.match(text) if len(text) <= 64 else None
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        shown = repr(text) if len(text) <= 40 else repr(text[:37]) + "..."
        raise RoutingError(f"--payload-bytes: {shown} is not a byte count; use an int, optionally with a unit: {', '.join(u for u in _UNITS if u)}")
    digits = match.group(1).replace("_", "").replace(",", "")
    if len(digits) > MAX_INT_DIGITS:
        raise RoutingError(f"--payload-bytes: a number of {len(digits)} digits; valid: a byte count from 0 to {MAX_PAYLOAD_BYTES:,}")
    return int(digits) * _UNITS[unit]


def spec_path(given: str | None) -> Path:
    """--spec, or the bundled example when run from a drkit checkout; never a silent guess elsewhere."""
    if given is not None:
        return Path(given)
    default = Path(DEFAULT_SPEC)
    if not default.is_file():
        raise UsageError(f"--spec: not given, and the default {DEFAULT_SPEC} is not under {Path.cwd()}; pass --spec PATH/TO/SPEC.yaml")
    return default


def run(args: argparse.Namespace) -> int:
    args.spec = str(spec_path(args.spec))
    spec = load_spec(args.spec)
    classes = classes_from(spec.traffic_classes)
    if args.asl:
        write_stdout(json.dumps(routing_only_definition(classes), indent=2))
        return 0
    if args.payload_bytes is None or args.traffic_class is None:
        missing = " and ".join(flag for flag, value in (("--payload-bytes", args.payload_bytes), ("--class", args.traffic_class)) if value is None)
        raise RoutingError(f"{missing}: required unless --asl is given; classes in {args.spec}: {', '.join(classes)}")
    size = parse_size(args.payload_bytes)
    decision = route(size, args.traffic_class, classes=classes, off_hours=args.off_hours)
    if args.json:
        write_stdout(
            json.dumps(
                {
                    "deployment": spec.deployment,
                    "payload_bytes": size,
                    "traffic_class": args.traffic_class,
                    "off_hours": args.off_hours,
                    "path": decision.path.value,
                    "rule": decision.rule,
                    "reason": decision.reason,
                },
                indent=2,
            )
        )
        return 0
    console = make_console()
    cls = classes[args.traffic_class]
    console.print(
        f"[bold]{spec.deployment}[/]: {human_bytes(size)} in class [bold]{cls.name}[/] ({cls.kind.value}, timeout {cls.timeout_seconds} s), "
        f"{'off-hours' if args.off_hours else 'business hours'} -> [bold green]{decision.path.value}[/] (rule {decision.rule})"
    )
    console.print(decision.reason)
    table = Table(title="decision table, first match wins")
    for column in ("rule", "path", "outcome", "why"):
        table.add_column(column)
    for step in explain(size, args.traffic_class, classes=classes, off_hours=args.off_hours):
        outcome = "[bold green]fired[/]" if step.fired else "-"
        table.add_row(step.rule, step.path.value, outcome, step.detail)
    console.print(table)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("route", help="Which invocation path serves a request, and which rule decided.")
    parser.add_argument("--payload-bytes", help="Request size: bytes, or with a unit (6MiB, 7MB). Required unless --asl.")
    parser.add_argument("--class", dest="traffic_class", help="Traffic class name from the spec. Required unless --asl.")
    parser.add_argument(
        "--spec", help=f"Deployment spec (YAML) whose traffic classes to use. Default: {DEFAULT_SPEC}, relative to the current directory."
    )
    parser.add_argument("--off-hours", action="store_true", help="Decide as if the request arrived off-hours. Default: business hours.")
    parser.add_argument("--json", action="store_true", help="Print the decision as JSON on stdout. Default: a table.")
    parser.add_argument("--asl", action="store_true", help="Print the decision table compiled to a routing-only ASL state machine (JSON).")
    parser.set_defaults(func=run)
