"""`drkit check SPEC [--region R | --all-regions] [--format table|json|sarif|markdown]`.

Runs the real CrossGuard pack in `policies/` over the offline graph of each regional
stack, as `pulumi preview --policy-pack policies` would. Exit code 1 on any mandatory
violation, 0 otherwise (advisory findings are warnings).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from drkit.commands.arguments import aws_region
from drkit.commands.check.analyzer import PolicyPackProcess
from drkit.commands.check.report import check_json, check_markdown, check_sarif, print_table
from drkit.commands.check.run import DEFAULT_PACK_DIR, run_check
from drkit.commands.console import make_console, note, status, write_stdout
from drkit.core.spec import load_spec
from drkit.engine.capture import capture_regions

FORMATS = ("table", "json", "sarif", "markdown")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="run the CrossGuard policy pack offline against each regional stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", help="deployment spec (YAML)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--region", action="append", type=aws_region(), help="check only this region's stack (repeatable)")
    where.add_argument("--all-regions", action="store_true", help="check every region's stack (the default)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--output", "-o", help="write the report to this file instead of stdout")
    parser.add_argument(
        "--policy-pack", default=str(DEFAULT_PACK_DIR), help="policy pack directory (default: drkit's policies/)"
    )
    parser.add_argument(
        "--policy-pack-config",
        help="policy config JSON, as `pulumi preview --policy-pack-config` takes (default: none, the policies' defaults)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    regions = [spec.require_region(r, "--region") for r in args.region] if args.region else None
    # Start the pack first: it boots while the primary is captured, and analyzes each stack
    # while the next is captured.
    with status(f"checking {spec.deployment}'s stacks with the policy pack"), PolicyPackProcess(args.policy_pack) as pack:
        result = run_check(
            spec, capture_regions(spec, regions), spec_path=args.spec, config_path=args.policy_pack_config, pack=pack
        )
    if args.format == "table":
        print_table(result, make_console())
        return result.exit_code
    if args.format == "markdown":
        text = check_markdown(result)
    else:
        text = json.dumps(check_sarif(result) if args.format == "sarif" else check_json(result), indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text)
        note(f"{len(result.mandatory)} mandatory, {len(result.advisory)} advisory; {args.format} written to {args.output}")
    else:
        write_stdout(text)
    return result.exit_code
